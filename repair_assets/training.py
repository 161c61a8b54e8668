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

import json

import dagster as dg
from pydantic import Field

from repair import registry
from repair.training import config as training_config
from repair.training import model_version
from repair.training.model_version import MODEL_CODE_VERSION, TOKENIZER_CODE_VERSION
from repair.training.pipeline import TrainedModel
from repair.training.scratch import DEFAULT_VOCAB_SIZE
from resources.choices import TrainingPreset
from resources.object_store import ObjectStoreResource

GROUP = "training"
TRAINING_POOL = "training"


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
    record = model_version.make_tokenizer(object_store.get_store(), approved_dataset, config.vocab_size)
    vocab = record.details["vocab_size"]
    context.log.info(f"tokenizer with {vocab} tokens trained on {record.details['train_examples']} examples -> {record.uri}")
    context.add_output_metadata({
        "vocab_size": vocab, "dataset_version": approved_dataset.version, "location": dg.MetadataValue.url(record.uri),
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


def _training_metadata(trained: TrainedModel, preset: str, reported: list[dict]) -> tuple[dict, dict[str, dict]]:
    """A trained model's metadata (throughput, losses, checkpoints, held-out score, loss curve) and
    the figures of each check."""
    summary, heldout = trained.run.summary(), trained.heldout
    metadata = {
        "preset": preset, "tokens_per_s": summary["tokens_per_s"], "batches": summary["batches"],
        "first_loss": summary["first_loss"], "final_loss": summary["final_loss"], "train_wall_s": summary["wall_s"],
        "processes": summary["processes"],
        "checkpoints": dg.MetadataValue.json([r["path"] for r in reported if r["event"] == "checkpoint"]),
        "reported_records": len(reported), "heldout_exact_match": heldout.get("exact_match"),
        "heldout_items": heldout.get("items", 0), "loss_curve": dg.MetadataValue.md(_loss_curve_markdown(trained.run)),
        "metrics": dg.MetadataValue.json(trained.metrics),
    }  # fmt: skip
    measured = {
        "loss_decreased": {"first_loss": summary["first_loss"], "final_loss": summary["final_loss"]},
        "generates_diffs": {"well_formed": heldout.get("well_formed"), "items": heldout.get("items", 0)},
    }
    return metadata, measured


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
            description="The mean training loss of the last 10 batches is below that of the first 10 (one batch's loss swings with its examples): the run learned something.",
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
    reported: list[dict] = []  # what the training process reported through Pipes

    def run_through_pipes(command, env) -> None:
        # The Kubernetes or Databricks Pipes client takes its place in production (docs/operations.md).
        invocation = dg.PipesSubprocessClient().run(context=context, command=command, env=env)
        reported.extend(invocation.get_custom_messages())

    options = model_version.ModelTrainingOptions(
        # a plain string: metadata and the run's records cannot hold the enum
        preset=config.preset.value, base_model_dir=config.base_model_dir, run_root=config.run_root,
        max_duration=config.max_duration, learning_rate=config.learning_rate,
        global_batch_size=config.global_batch_size, microbatch_size=config.microbatch_size,
        overrides=json.loads(config.overrides_json), heldout_items=config.heldout_items, processes=config.processes,
    )  # fmt: skip
    try:
        outcome = model_version.train_model_version(
            object_store.get_store(), approved_dataset, tokenizer, options, runner=run_through_pipes, log=context.log.info
        )  # fmt: skip
    except model_version.NoBaseModel as error:
        raise dg.Failure(f"{error}: set base_model_dir") from error
    record, trained = outcome.record, outcome.trained
    trained_metadata, measured = _training_metadata(trained, options.preset, reported) if trained else ({"reused": True}, {})
    yield dg.Output(record, data_version=dg.DataVersion(record.data_version), metadata={
        "model_version": record.version, "dataset_version": approved_dataset.version,
        "location": dg.MetadataValue.url(record.uri), **trained_metadata,
    })  # fmt: skip
    for name, check in record.checks.items():
        yield dg.AssetCheckResult(
            check_name=name, passed=check.passed, metadata={"detail": check.detail, **measured.get(name, {})}
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
