"""Group `training`: `tokenizer` (for models trained from scratch) and `finetuned_model`.

`finetuned_model` runs LLM Foundry's `train` on the YAML generated from its typed config and a
preset (`repair/training/presets/`), inside the Dagster concurrency pool `training` so that only
one training step runs at a time; it resumes from the last checkpoint of an interrupted run of the
same preset, dataset version and settings, exports the final Hugging Face checkpoint into the model
registry (`models/code_repair/v<N>/`) and records the loss curve, tokens/s and the held-out
exact-match rate. See docs/training.md.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import dagster as dg

from repair import dataset as ds
from repair.training import config as training_config
from repair.training.scratch import DEFAULT_VOCAB_SIZE
from resources.object_store import ObjectStoreResource

GROUP = "training"
TRAINING_POOL = "training"


class TokenizerConfig(dg.Config):
    vocab_size: int = DEFAULT_VOCAB_SIZE
    """Byte-level BPE vocabulary (the cpu-tiny preset's; the scratch model is sized to the tokenizer)."""


@dg.asset(group_name=GROUP, kinds={"huggingface"}, deps=["repair_dataset"])
def tokenizer(
    context: dg.AssetExecutionContext, config: TokenizerConfig, object_store: ObjectStoreResource
) -> dict:
    """A byte-level BPE tokenizer (Hugging Face format, `<|endoftext|>` as end of sequence) trained
    on the training split of the latest dataset version; stored beside that version."""
    from repair.training.scratch import train_tokenizer

    store = object_store.get_store()
    pointer = ds.latest_dataset(store)
    with tempfile.TemporaryDirectory() as tmp:
        data = store.download_dir(f"{pointer['prefix']}/jsonl", Path(tmp) / "jsonl")
        rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
        if not rows:
            raise dg.Failure(f"dataset v{pointer['version']} has an empty training split")
        out = train_tokenizer(
            (r["prompt"] + r["response"] for r in rows), Path(tmp) / "tokenizer", config.vocab_size
        )
        prefix = f"{pointer['prefix']}/tokenizer"
        store.upload_dir(out, prefix)
        vocab = len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    context.log.info(f"tokenizer with {vocab} tokens trained on {len(rows)} examples -> {store.uri(prefix)}")
    value = {
        "dataset_version": pointer["version"],
        "prefix": prefix,
        "vocab_size": vocab,
        "train_examples": len(rows),
    }
    context.add_output_metadata({"vocab_size": vocab, "location": dg.MetadataValue.url(store.uri(prefix))})
    return value


class FinetunedModelConfig(dg.Config):
    preset: str = "cpu-tiny"
    """A preset in repair/training/presets/: cpu-tiny, single-gpu-lora, deepseek-coder-7b-8xh100."""
    base_model_dir: str = ""
    """Pretrained presets: local folder with the base model (weights and tokenizer)."""
    run_root: str = ".data/training"
    """Local folder for checkpoints (autoresume) and exports."""
    max_duration: str | None = None
    """e.g. "6ep" or "400ba"; None keeps the preset's. Raising it resumes the same run and trains on."""
    learning_rate: float | None = None
    global_batch_size: int | None = None
    microbatch_size: int | None = None
    overrides_json: str = "{}"
    """Any other LLM Foundry key by dotted path, as JSON: {"optimizer.betas": [0.9, 0.95]}."""
    heldout_items: int = 200
    """Test-split examples for the held-out exact-match figure (0 skips it)."""
    model_name: str = "code_repair"


def _loss_curve_markdown(run: training_config.TrainingRun) -> str:
    from repair.training.plots import loss_curve_png, markdown_image

    evals = [
        (r["batch"], r["eval/LanguageCrossEntropy"]) for r in run.progress if "eval/LanguageCrossEntropy" in r
    ]
    return markdown_image(loss_curve_png(run.losses, evals), "loss curve")


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "huggingface"},
    deps=["repair_dataset", "tokenizer"],
    pool=TRAINING_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "loss_decreased",
            asset="finetuned_model",
            blocking=True,
            description="The last recorded training loss is below the first: the run learned something.",
        ),
        dg.AssetCheckSpec(
            "generates_diffs",
            asset="finetuned_model",
            blocking=True,
            description="On the held-out items, the model writes well-formed <diff> blocks (at least half).",
        ),
    ],
)
def finetuned_model(
    context: dg.AssetExecutionContext, config: FinetunedModelConfig, object_store: ObjectStoreResource
):
    """Trains the preset on the latest dataset version and registers the export as the next model
    version (`models/<model_name>/v<N>/`: HF checkpoint, train.yaml, registry.json)."""
    from omegaconf import OmegaConf

    from repair.model import RepairModel, write_prompt_settings
    from repair.training.heldout import exact_match
    from repair.training.registry import register_model
    from repair.training.scratch import init_scratch_model

    store = object_store.get_store()
    pointer = ds.latest_dataset(store)
    scratch = config.preset in training_config.SCRATCH_PRESETS
    if not scratch and not config.base_model_dir:
        raise dg.Failure(f"preset {config.preset} finetunes a pretrained model: set base_model_dir")
    overrides = json.loads(config.overrides_json)
    # The run folder is keyed by everything but the duration, so that a retry or a longer duration
    # resumes the same run from its last checkpoint; the dataset's location is part of the key, so that
    # two stores (a test's, the demo's) never resume each other's checkpoints.
    run_key = hashlib.sha256(
        json.dumps(
            [store.uri(pointer["prefix"]), config.preset, config.base_model_dir, config.learning_rate,
             config.global_batch_size, overrides],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:10]
    run_dir = Path(config.run_root).resolve() / config.preset / f"data-v{pointer['version']}-{run_key}"
    data_dir = store.download_dir(f"{pointer['prefix']}/jsonl", run_dir / "data" / "jsonl")
    settings = training_config.TrainingSettings(
        preset=config.preset,
        data_dir=str(data_dir),
        model_dir=str(run_dir / "scratch_model") if scratch else config.base_model_dir,
        run_dir=str(run_dir / "run"),
        run_name=f"{config.preset}-data-v{pointer['version']}-{run_key}",
        max_duration=config.max_duration,
        learning_rate=config.learning_rate,
        global_batch_size=config.global_batch_size,
        microbatch_size=config.microbatch_size,
        overrides=overrides,
    )
    if scratch:
        # The shape comes from the rendered config, so `overrides_json` can change it too.
        dims = OmegaConf.to_container(training_config.render_config(settings).variables.scratch_model)
        dims.pop("vocab_size", None)  # the tokenizer decides
        tokenizer_dir = store.download_dir(f"{pointer['prefix']}/tokenizer", run_dir / "tokenizer")
        init_scratch_model(settings.model_dir, tokenizer_dir, **dims)
    cfg = training_config.render_config(settings)
    training_config.validate_config(cfg)
    context.log.info(f"training {config.preset} on dataset v{pointer['version']} in {run_dir}")

    def report(record: dict) -> None:
        context.log.info(json.dumps(record))

    run = training_config.run_training(cfg, sink=report)
    summary = run.summary()
    write_prompt_settings(run.export_dir, pointer.get("window", ds.DEFAULT_WINDOW))

    heldout = {}
    if config.heldout_items:
        test_rows = [json.loads(line) for line in (data_dir / "test.jsonl").read_text().splitlines()]
        test_rows = [{**row, "rule": "all"} for row in test_rows[: config.heldout_items]]
        if test_rows:
            model = RepairModel(run.export_dir, temperature=0.0)
            heldout = exact_match(model.generate, test_rows)
            context.log.info(
                f"held-out exact match {heldout['exact_match']} on {heldout['items']} test items"
            )
    metrics = {**summary, **{f"heldout_{k}": v for k, v in heldout.items() if k != "exact_match_by_rule"}}
    entry = register_model(
        store,
        run.export_dir,
        name=config.model_name,
        dataset_version=pointer["version"],
        config_yaml=OmegaConf.to_yaml(cfg),
        settings=training_config.settings_dict(settings),
        metrics=metrics,
    )
    context.log.info(f"registered {config.model_name} v{entry['version']} at {entry['uri']}")
    yield dg.Output(
        entry,
        metadata={
            "model_version": entry["version"],
            "dataset_version": pointer["version"],
            "preset": config.preset,
            "location": dg.MetadataValue.url(entry["uri"]),
            "tokens_per_s": summary["tokens_per_s"],
            "batches": summary["batches"],
            "first_loss": summary["first_loss"],
            "final_loss": summary["final_loss"],
            "train_wall_s": summary["wall_s"],
            "heldout_exact_match": heldout.get("exact_match"),
            "heldout_items": heldout.get("items", 0),
            "loss_curve": dg.MetadataValue.md(_loss_curve_markdown(run)),
            "metrics": dg.MetadataValue.json(metrics),
        },
    )
    losses = run.losses
    yield dg.AssetCheckResult(
        check_name="loss_decreased",
        passed=len(losses) >= 2 and losses[-1][1] < losses[0][1],
        metadata={"first_loss": summary["first_loss"], "final_loss": summary["final_loss"]},
    )
    well_formed = heldout.get("well_formed")
    yield dg.AssetCheckResult(
        check_name="generates_diffs",
        passed=well_formed is None or well_formed >= 0.5,
        metadata={"well_formed": well_formed, "items": heldout.get("items", 0)},
    )
