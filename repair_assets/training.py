"""Group `training`: `tokenizer` (for models trained from scratch) and `finetuned_model`.

`finetuned_model` launches LLM Foundry's `train` on the approved dataset version (`approved_dataset`)
with the YAML generated from its typed config and a preset (`repair/training/presets/`) OUTSIDE the
orchestrator's process: through Dagster Pipes (`PipesSubprocessClient`) it runs Composer's launcher
(`composer -n <processes> -m repair.training.worker`), whose rank 0 streams log lines and reports
progress, eval and checkpoint records back (they become the materialization's metadata). It runs
inside the Dagster concurrency pool `training` so that only one training step runs at a time; it resumes from
the last checkpoint of an interrupted run of the same preset, dataset version and settings, exports
the final Hugging Face checkpoint into the registry as a CANDIDATE (`models/code_repair/v<N>/`,
with its check results) and records the loss curve, tokens/s and the held-out exact-match rate. The
same dataset, tokenizer, settings and code give the same data version: the existing version is
reused, not trained again. `approved_model`, downstream of the blocking checks, approves it.
See docs/training.md.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field

from repair import dataset as ds
from repair import registry
from repair.training import config as training_config
from repair.training.scratch import DEFAULT_VOCAB_SIZE
from resources.choices import TrainingPreset
from resources.object_store import ObjectStoreResource

GROUP = "training"
TRAINING_POOL = "training"
# Bump when the code changes what a step produces: part of the data versions below.
TOKENIZER_CODE_VERSION = "2"
MODEL_CODE_VERSION = "3"


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class TokenizerConfig(dg.Config):
    vocab_size: int = Field(default=DEFAULT_VOCAB_SIZE, description="Byte-level BPE vocabulary (the cpu-tiny-scratch preset's; only from-scratch presets use this tokenizer: a pretrained base brings its own).")


@dg.asset(group_name=GROUP, code_version=TOKENIZER_CODE_VERSION, kinds={"huggingface"})
def tokenizer(
    context: dg.AssetExecutionContext,
    config: TokenizerConfig,
    object_store: ObjectStoreResource,
    approved_dataset: registry.VersionRecord,
) -> registry.VersionRecord:
    """A byte-level BPE tokenizer (Hugging Face format, `<|endoftext|>` as end of sequence) trained
    on the training split of the approved dataset version; stored beside that version."""
    from repair.training.scratch import train_tokenizer

    store = object_store.get_store()
    dataset = approved_dataset
    with tempfile.TemporaryDirectory() as tmp:
        data = store.download_dir(f"{dataset.prefix}/jsonl", Path(tmp) / "jsonl")
        rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
        if not rows:
            raise dg.Failure(f"{dataset.label} has an empty training split")
        out = train_tokenizer(
            (r["prompt"] + r["response"] for r in rows), Path(tmp) / "tokenizer", config.vocab_size
        )
        prefix = f"{dataset.prefix}/tokenizer"
        store.upload_dir(out, prefix)
        vocab = len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    context.log.info(f"tokenizer with {vocab} tokens trained on {len(rows)} examples -> {store.uri(prefix)}")
    record = registry.VersionRecord(
        "tokenizer", dataset.version, dataset.status,
        _hash(dataset.data_version, config.vocab_size, TOKENIZER_CODE_VERSION), prefix, store.uri(prefix),
        dataset.created, parents={registry.DATASET: dataset.version},
        details={"vocab_size": vocab, "train_examples": len(rows)},
    )  # fmt: skip
    context.add_output_metadata({
        "vocab_size": vocab, "dataset_version": dataset.version, "location": dg.MetadataValue.url(record.uri),
    })  # fmt: skip
    return record


class FinetunedModelConfig(dg.Config):
    preset: TrainingPreset = Field(default=TrainingPreset("cpu-tiny"), description="A preset in repair/training/presets/ (cpu-tiny finetunes the shipped base; cpu-tiny-scratch trains from nothing).")
    base_model_dir: str = Field(default="", description="Pretrained presets: local folder with the base model (weights and tokenizer); empty: the preset's shipped base (cpu-tiny: models/base-cpu).")
    run_root: str = Field(default=".data/training", description="Local folder for checkpoints (autoresume) and exports.")
    max_duration: str | None = Field(default=None, description="e.g. \"6ep\" or \"400ba\"; None keeps the preset's. Raising it resumes the same run and trains on.")
    learning_rate: float | None = Field(default=None, description="Override the preset's learning rate; empty keeps the preset's.")
    global_batch_size: int | None = Field(default=None, description="Override the preset's global batch size (examples per optimizer step); empty keeps it.")
    microbatch_size: int | None = Field(default=None, description="Override the examples per device per forward pass (an integer on CPU); empty keeps the preset's.")
    overrides_json: str = Field(default="{}", description="Any other LLM Foundry key by dotted path, as JSON: {\"optimizer.betas\": [0.9, 0.95]}.")
    heldout_items: int = Field(default=200, description="Test-split examples for the held-out exact-match figure (0 skips it).")
    model_name: str = Field(default="code_repair", description="Name of the trained model in the registry and the served Triton model.")
    processes: int = Field(default=1, ge=1, description="Training processes on this node (`composer -n`): GPUs on a GPU node, or CPU processes talking over gloo; the global batch stays the preset's, divided across them.")


def _loss_curve_markdown(run: training_config.TrainingRun) -> str:
    from repair.training.plots import loss_curve_png, markdown_image

    evals = [
        (r["batch"], r["eval/LanguageCrossEntropy"]) for r in run.progress if "eval/LanguageCrossEntropy" in r
    ]
    return markdown_image(loss_curve_png(run.losses, evals), "loss curve")


@dg.asset(
    group_name=GROUP,
    code_version=MODEL_CODE_VERSION,
    kinds={"pytorch", "huggingface"},
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
            description="On the held-out items, the model writes well-formed <diff> blocks (at least "
            "half); fails when there are no held-out items to show it.",
        ),
    ],
)
def finetuned_model(
    context: dg.AssetExecutionContext,
    config: FinetunedModelConfig,
    object_store: ObjectStoreResource,
    approved_dataset: registry.VersionRecord,
    tokenizer: registry.VersionRecord,
):
    """Trains the preset on the approved dataset version and registers the export as a candidate
    model version (`models/code_repair/v<N>/`: HF checkpoint, train.yaml, registry.json)."""
    from omegaconf import OmegaConf

    from repair.training.launch import launch
    from repair.training.pipeline import init_scratch

    store = object_store.get_store()
    dataset = approved_dataset
    preset = config.preset.value  # a plain string: metadata and the run's records cannot hold the enum
    scratch = preset in training_config.SCRATCH_PRESETS
    base_model_dir = (
        "" if scratch else config.base_model_dir or str(training_config.default_model_dir(preset) or "")
    )
    if not scratch and not base_model_dir:
        raise dg.Failure(f"preset {preset} finetunes a pretrained model: set base_model_dir")
    overrides = json.loads(config.overrides_json)
    # The run folder is keyed by everything but the duration, so that a retry or a longer duration
    # resumes the same run from its last checkpoint; the dataset's location is part of the key, so that
    # two stores (a test's, the demo's) never resume each other's checkpoints.
    run_key = hashlib.sha256(
        json.dumps(
            [store.uri(dataset.prefix), preset, base_model_dir, config.learning_rate,
             config.global_batch_size, overrides],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:10]
    data_version = _hash(
        dataset.data_version, tokenizer.data_version, preset, base_model_dir, config.max_duration,
        config.learning_rate, config.global_batch_size, config.microbatch_size, overrides, config.heldout_items,
        MODEL_CODE_VERSION,
    )  # fmt: skip
    existing = registry.find_by_data_version(store, registry.MODEL, data_version)
    if existing is not None:
        context.log.info(f"{existing.label} was made from the same inputs and code: reused, not retrained")
        yield dg.Output(existing, data_version=dg.DataVersion(data_version),
                        metadata={"model_version": existing.version, "reused": True,
                                  "dataset_version": dataset.version, "location": dg.MetadataValue.url(existing.uri)})
        for name, outcome in existing.checks.items():
            yield dg.AssetCheckResult(check_name=name, passed=outcome.passed, metadata={"detail": outcome.detail})
        return
    run_dir = Path(config.run_root).resolve() / preset / f"data-v{dataset.version}-{run_key}"
    data_dir = store.download_dir(f"{dataset.prefix}/jsonl", run_dir / "data" / "jsonl")
    settings = training_config.TrainingSettings(
        preset=preset,
        data_dir=str(data_dir),
        model_dir=str(run_dir / "scratch_model") if scratch else base_model_dir,
        run_dir=str(run_dir / "run"),
        run_name=f"{preset}-data-v{dataset.version}-{run_key}",
        max_duration=config.max_duration,
        learning_rate=config.learning_rate,
        global_batch_size=config.global_batch_size,
        microbatch_size=config.microbatch_size,
        overrides=overrides,
    )
    if scratch:
        init_scratch(settings, store.download_dir(tokenizer.prefix, run_dir / "tokenizer"))
    processes = f"{config.processes} process" + ("es" if config.processes > 1 else "")
    context.log.info(f"training {preset} on dataset v{dataset.version} in {run_dir} ({processes})")
    reported: list[dict] = []  # what the training process reported through Pipes

    def run_through_pipes(command, env) -> None:
        # The Kubernetes or Databricks Pipes client takes its place in production (docs/operations.md).
        invocation = dg.PipesSubprocessClient().run(context=context, command=command, env=env)
        reported.extend(invocation.get_custom_messages())

    trained = launch(
        settings, processes=config.processes, heldout_items=config.heldout_items,
        window=dataset.details.get("window", ds.DEFAULT_WINDOW), runner=run_through_pipes,
    )  # fmt: skip
    run, heldout, metrics, cfg = trained.run, trained.heldout, trained.metrics, trained.cfg
    summary = run.summary()
    if heldout:
        context.log.info(f"held-out exact match {heldout['exact_match']} on {heldout['items']} test items")
    losses = run.run_losses  # every attempt's: a retry after the final checkpoint trains 0 batches
    well_formed = heldout.get("well_formed")
    checks = {
        "loss_decreased": registry.CheckOutcome(
            len(losses) >= 2 and losses[-1][1] < losses[0][1],
            detail=f"first {summary['first_loss']}, final {summary['final_loss']}",
        ),
        # No held-out item, no evidence that it writes diffs: that fails, it does not pass by default.
        "generates_diffs": registry.CheckOutcome(
            well_formed is not None and well_formed >= 0.5,
            detail=f"well-formed {well_formed} on {heldout.get('items', 0)} held-out items",
        ),
    }
    record = registry.register_model(
        store,
        run.export_dir,
        data_version=data_version,
        dataset_version=dataset.version,
        config_yaml=OmegaConf.to_yaml(cfg),
        checks=checks,
        details={"preset": preset, "settings": training_config.settings_dict(settings), "metrics": metrics},
    )
    context.log.info(f"registered {record.label} (candidate) at {record.uri}")
    pruned = training_config.prune_runs(run_dir.parent, keep=2, current=run_dir)  # the model is stored
    if pruned:
        context.log.info(f"pruned old run folders: {', '.join(p.name for p in pruned)}")
    yield dg.Output(
        record,
        data_version=dg.DataVersion(data_version),
        metadata={
            "model_version": record.version,
            "dataset_version": dataset.version,
            "preset": preset,
            "location": dg.MetadataValue.url(record.uri),
            "tokens_per_s": summary["tokens_per_s"],
            "batches": summary["batches"],
            "first_loss": summary["first_loss"],
            "final_loss": summary["final_loss"],
            "train_wall_s": summary["wall_s"],
            "processes": summary["processes"],
            "checkpoints": dg.MetadataValue.json([r["path"] for r in reported if r["event"] == "checkpoint"]),
            "reported_records": len(reported),
            "heldout_exact_match": heldout.get("exact_match"),
            "heldout_items": heldout.get("items", 0),
            "loss_curve": dg.MetadataValue.md(_loss_curve_markdown(run)),
            "metrics": dg.MetadataValue.json(metrics),
        },
    )
    yield dg.AssetCheckResult(
        check_name="loss_decreased",
        passed=checks["loss_decreased"].passed,
        metadata={"first_loss": summary["first_loss"], "final_loss": summary["final_loss"]},
    )
    yield dg.AssetCheckResult(
        check_name="generates_diffs",
        passed=checks["generates_diffs"].passed,
        metadata={"well_formed": well_formed, "items": heldout.get("items", 0)},
    )


@dg.asset(group_name=GROUP, code_version=MODEL_CODE_VERSION, kinds={"python"})
def approved_model(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource, finetuned_model: registry.VersionRecord
) -> registry.VersionRecord:
    """The model version evaluation and deployment see: `finetuned_model`'s candidate, approved
    here after its blocking checks passed (the registry refuses one whose check failed)."""
    record = registry.approve(object_store.get_store(), finetuned_model)
    context.add_output_metadata({
        "model_version": record.version,
        "dataset_version": record.parents.get(registry.DATASET),
        "checks": dg.MetadataValue.json({name: c.passed for name, c in record.checks.items()}),
        "location": dg.MetadataValue.url(record.uri),
    })  # fmt: skip
    return record
