"""`repair train`: train the repair model with LLM Foundry from a preset, outside Dagster, through
the same launch as the `finetuned_model` asset (`composer -n N -m repair.training.worker`).

repair train --preset cpu-tiny --data .data/dataset/jsonl --run-dir .data/train-run   # finetunes models/base-cpu
repair train --preset cpu-tiny-scratch --data .data/dataset/jsonl --run-dir .data/train-run   # from nothing
repair train --preset cpu-tiny --data .data/dataset/jsonl --run-dir .data/train-run --processes 2   # 2 CPU ranks, gloo
repair train --preset single-gpu-lora --data DIR --model-dir /models/deepseek-coder-7b --dry-run
"""

from __future__ import annotations

from pathlib import Path

import click


def _parse_override(text: str) -> tuple[str, object]:
    import re

    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE (e.g. optimizer.lr=1e-3)")
    parsed = yaml.safe_load(value)
    # YAML 1.1 reads `1e-3` (no dot) as a string, which the optimizer then rejects mid-run.
    if isinstance(parsed, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", parsed):
        parsed = float(parsed)
    return key, parsed


@click.command()
@click.option("--preset", default="cpu-tiny", show_default=True, help="A preset in repair/training/presets/.")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder with train.jsonl and validation.jsonl ({prompt, response} lines).",
)
@click.option("--run-dir", required=True, type=click.Path(file_okay=False), help="Checkpoints and exports.")
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False),
    help="Base model (pretrained presets; cpu-tiny: the shipped models/base-cpu when omitted); scratch presets build one in RUN_DIR.",
)
@click.option("--tokenizer-dir", type=click.Path(exists=True, file_okay=False), help="Default: the model's.")
@click.option("--max-duration", help='e.g. "6ep" or "400ba" (a longer one resumes the same run).')
@click.option("--lr", "learning_rate", type=float)
@click.option(
    "--set", "overrides", multiple=True, help="Any LLM Foundry key: --set optimizer.betas=[0.9,0.95]"
)
@click.option("--heldout", type=int, default=0, help="Score exact match on this many test.jsonl items.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Training processes on this node (composer -n): one per GPU, or CPU ranks over gloo; same global batch.",
)
@click.option("--dry-run", is_flag=True, help="Write and validate the YAML, do not train.")
def command(
    preset,
    data_dir,
    run_dir,
    model_dir,
    tokenizer_dir,
    max_duration,
    learning_rate,
    overrides,
    heldout,
    processes,
    dry_run,
):
    """Train from a preset on a finetuning JSONL folder; prints the export folder and metrics."""
    import json

    from repair.training import config as training_config
    from repair.training import launch, model_version, pipeline

    run_dir = Path(run_dir).resolve()
    data_dir = Path(data_dir).resolve()
    if model_dir is None:  # the shipped base (cpu-tiny: models/base-cpu); none: a scratch preset builds one
        try:
            model_dir = model_version.base_model_dir(preset, None)
        except model_version.NoBaseModel as error:
            raise click.UsageError(f"{error}: pass --model-dir") from error
    scratch = model_dir is None
    settings = training_config.TrainingSettings(
        preset=preset,
        data_dir=str(data_dir),
        model_dir=str(run_dir / "scratch_model") if scratch else str(model_dir),
        tokenizer_dir=str(tokenizer_dir) if tokenizer_dir and not scratch else None,
        run_dir=str(run_dir / "run"),
        max_duration=max_duration,
        learning_rate=learning_rate,
        overrides=dict(_parse_override(o) for o in overrides),
    )
    if scratch:
        if tokenizer_dir is None:
            vocab_size = training_config.load_preset(preset).variables.scratch_model.vocab_size
            tokenizer_dir, _ = model_version.train_tokenizer_on_split(data_dir, run_dir / "tokenizer", vocab_size)
        pipeline.init_scratch(settings, tokenizer_dir)
    if dry_run:
        cfg = training_config.render_config(settings)
        training_config.validate_config(cfg)
        click.echo(f"config: {training_config.write_config(cfg, run_dir / 'run' / 'train.yaml')}")
        click.echo(
            "launch: "
            + " ".join(launch.training_command(launch.write_spec(settings, heldout_items=heldout), processes))
        )
        return
    trained = launch.launch(settings, processes=processes, heldout_items=heldout)
    click.echo(f"export: {trained.run.export_dir}")
    click.echo(json.dumps(trained.metrics, indent=1))
