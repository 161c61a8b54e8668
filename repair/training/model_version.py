"""A tokenizer or a model version from an approved dataset version, in the store: what the
`tokenizer` and `finetuned_model` assets call (the assets only add Dagster Pipes, metadata and check
results). The same inputs, settings and code give the same data version: an existing model version
with it is reused, not trained again. See docs/training.md."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import dataset as ds
from repair import registry
from repair.object_store import ObjectStore
from repair.training import config as training_config
from repair.training.launch import Runner, launch, subprocess_runner
from repair.training.pipeline import TrainedModel, init_scratch

# Bump when the code changes what a step produces: part of the data versions below (and the assets'
# code versions).
TOKENIZER_CODE_VERSION = "2"
MODEL_CODE_VERSION = "3"


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class NoBaseModel(ValueError):
    """A pretrained preset was given no base model and ships none."""


def base_model_dir(preset: str, given: str | Path | None) -> str | None:
    """The base a pretrained preset finetunes (`given`, else the preset's shipped base, cpu-tiny:
    models/base-cpu); None for a from-scratch preset. NoBaseModel when a pretrained preset has none."""
    if preset in training_config.SCRATCH_PRESETS:
        return None
    found = given or training_config.default_model_dir(preset)
    if not found:
        raise NoBaseModel(f"preset {preset} finetunes a pretrained model")  # the caller says how to give one
    return str(found)


def train_tokenizer_on_split(data_dir: str | Path, out_dir: str | Path, vocab_size: int) -> tuple[Path, int]:
    """A byte-level BPE tokenizer trained on `train.jsonl`'s prompts and responses; (folder, number
    of training examples). ValueError on an empty split."""
    from repair.training.scratch import train_tokenizer

    lines = (Path(data_dir) / "train.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    if not rows:
        raise ValueError(f"{data_dir}/train.jsonl is an empty training split")
    return train_tokenizer((r["prompt"] + r["response"] for r in rows), out_dir, vocab_size), len(rows)


def make_tokenizer(store: ObjectStore, dataset: registry.VersionRecord, vocab_size: int) -> registry.VersionRecord:
    """The tokenizer trained on the dataset version's training split, stored beside that version."""
    with tempfile.TemporaryDirectory() as tmp:
        data = store.download_dir(f"{dataset.prefix}/jsonl", Path(tmp) / "jsonl")
        try:
            out, examples = train_tokenizer_on_split(data, Path(tmp) / "tokenizer", vocab_size)
        except ValueError:
            raise ValueError(f"{dataset.label} has an empty training split") from None
        prefix = f"{dataset.prefix}/tokenizer"
        store.upload_dir(out, prefix)
        vocab = len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    return registry.VersionRecord(
        "tokenizer", dataset.version, dataset.status,
        _hash(dataset.data_version, vocab_size, TOKENIZER_CODE_VERSION), prefix, store.uri(prefix),
        dataset.created, parents={registry.DATASET: dataset.version},
        details={"vocab_size": vocab, "train_examples": examples},
    )  # fmt: skip


@dataclass(frozen=True)
class ModelTrainingOptions:
    """What a model version is trained with, beside its dataset and tokenizer (the asset's config)."""

    preset: str
    base_model_dir: str = ""
    run_root: str = ".data/training"
    max_duration: str | None = None
    learning_rate: float | None = None
    global_batch_size: int | None = None
    microbatch_size: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    heldout_items: int = 200
    processes: int = 1


@dataclass
class ModelVersionOutcome:
    """A model version and how it came: trained now (`trained`, `run_dir`) or reused (`trained` None)."""

    record: registry.VersionRecord
    trained: TrainedModel | None = None
    run_dir: Path | None = None

    @property
    def reused(self) -> bool:
        return self.trained is None


def loss_decreased(run: training_config.TrainingRun) -> registry.CheckOutcome:
    """The run learned: the mean loss of its last window of batches (the progress records' window,
    10 batches) is below that of its first full window, so that one batch's examples cannot decide
    it. A run too short for two windows compares its first and last batch."""
    windows = run.run_recent_losses  # every attempt's: a retry after the final checkpoint trains 0 batches
    widest = max((n for _, _, n in windows), default=0)
    full = [w for w in windows if w[2] == widest]
    if len(full) >= 2 and full[-1][0] > full[0][0]:
        (first_batch, first, n), (last_batch, last, _) = full[0], full[-1]
        return registry.CheckOutcome(
            last < first,
            detail=f"mean loss of {n} batches: {first} at batch {first_batch}, {last} at batch {last_batch}",
        )
    losses = run.run_losses
    first, final = (losses[0][1], losses[-1][1]) if losses else (None, None)
    return registry.CheckOutcome(len(losses) >= 2 and final < first, detail=f"first {first}, final {final}")


def model_checks(trained: TrainedModel) -> dict[str, registry.CheckOutcome]:
    """The blocking checks of a trained model: it learned, and it writes diffs on held-out items."""
    heldout = trained.heldout
    well_formed = heldout.get("well_formed")
    return {
        "loss_decreased": loss_decreased(trained.run),
        # No held-out item, no evidence that it writes diffs: that fails, it does not pass by default.
        "generates_diffs": registry.CheckOutcome(
            well_formed is not None and well_formed >= 0.5,
            detail=f"well-formed {well_formed} on {heldout.get('items', 0)} held-out items",
        ),
    }


def model_data_version(
    dataset: registry.VersionRecord, tokenizer: registry.VersionRecord, options: ModelTrainingOptions
) -> str:
    """The data version of the model these inputs, options and code make: the same, the same model."""
    return _hash(
        dataset.data_version, tokenizer.data_version, options.preset,
        base_model_dir(options.preset, options.base_model_dir) or "", options.max_duration,
        options.learning_rate, options.global_batch_size, options.microbatch_size, options.overrides,
        options.heldout_items, MODEL_CODE_VERSION,
    )  # fmt: skip


def train_model_version(
    store: ObjectStore,
    dataset: registry.VersionRecord,
    tokenizer: registry.VersionRecord,
    options: ModelTrainingOptions,
    *,
    runner: Runner = subprocess_runner,
    log=print,
) -> ModelVersionOutcome:
    """Trains the preset on the dataset version (through `launch`, `runner` running the command) and
    registers the export as a CANDIDATE model version with its checks; reuses an existing version of
    the same data version instead."""
    from omegaconf import OmegaConf

    preset = options.preset
    base = base_model_dir(preset, options.base_model_dir)
    data_version = model_data_version(dataset, tokenizer, options)
    existing = registry.find_by_data_version(store, registry.MODEL, data_version)
    if existing is not None:
        log(f"{existing.label} was made from the same inputs and code: reused, not retrained")
        return ModelVersionOutcome(existing)
    # The run folder is keyed by everything but the duration, so that a retry or a longer duration
    # resumes the same run from its last checkpoint; the dataset's location is part of the key, so that
    # two stores (a test's, the demo's) never resume each other's checkpoints.
    run_key = _hash(
        store.uri(dataset.prefix), preset, base or "", options.learning_rate, options.global_batch_size,
        options.overrides,
    )[:10]  # fmt: skip
    run_dir = Path(options.run_root).resolve() / preset / f"data-v{dataset.version}-{run_key}"
    data_dir = store.download_dir(f"{dataset.prefix}/jsonl", run_dir / "data" / "jsonl")
    settings = training_config.TrainingSettings(
        preset=preset,
        data_dir=str(data_dir),
        model_dir=base or str(run_dir / "scratch_model"),
        run_dir=str(run_dir / "run"),
        run_name=f"{preset}-data-v{dataset.version}-{run_key}",
        max_duration=options.max_duration,
        learning_rate=options.learning_rate,
        global_batch_size=options.global_batch_size,
        microbatch_size=options.microbatch_size,
        overrides=options.overrides,
    )
    if base is None:
        init_scratch(settings, store.download_dir(tokenizer.prefix, run_dir / "tokenizer"))
    processes = f"{options.processes} process" + ("es" if options.processes > 1 else "")
    log(f"training {preset} on dataset v{dataset.version} in {run_dir} ({processes})")
    trained = launch(
        settings, processes=options.processes, heldout_items=options.heldout_items,
        window=dataset.details.get("window", ds.DEFAULT_WINDOW), runner=runner,
    )  # fmt: skip
    if trained.heldout:
        log(f"held-out exact match {trained.heldout['exact_match']} on {trained.heldout['items']} test items")
    record = registry.register_model(
        store,
        trained.run.export_dir,
        data_version=data_version,
        dataset_version=dataset.version,
        config_yaml=OmegaConf.to_yaml(trained.cfg),
        checks=model_checks(trained),
        details={"preset": preset, "settings": training_config.settings_dict(settings), "metrics": trained.metrics},
    )
    log(f"registered {record.label} (candidate) at {record.uri}")
    pruned = training_config.prune_runs(run_dir.parent, keep=2, current=run_dir)  # the model is stored
    if pruned:
        log(f"pruned old run folders: {', '.join(p.name for p in pruned)}")
    return ModelVersionOutcome(record, trained, run_dir)
