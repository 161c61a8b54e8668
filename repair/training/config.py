"""Typed training settings -> the LLM Foundry YAML that runs them -> `llmfoundry.command_utils.train`.

A preset (`presets/<name>.yaml`, modeled on LLM Foundry's finetune YAMLs) holds the recipe; the
settings fill its `variables` (data, model, tokenizer and run folders) and the few knobs a run
changes (duration, learning rate, batch), and `overrides` set any other key by its dotted path.

A run survives being killed (`run_training`): the presets keep two checkpoints, and before resuming
a corrupt latest one is set aside so that the previous one is resumed (`recover_checkpoints`), and
so is a final one (a kill after it and before the export: Composer would refuse to resume with
nothing left to train, so the retry trains the last interval again); the run's progress is read
over every attempt, so a retry reports the run's losses; free space is checked before training
(`variables.min_free_gb`, `InsufficientSpace`); old Hugging Face exports of a run
(`prune_exports`) and old run folders (`prune_runs`) are removed by policy.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PRESETS_DIR = Path(__file__).parent / "presets"
# Presets that train from scratch (they need the `tokenizer` asset and a scratch model).
SCRATCH_PRESETS = ("cpu-tiny-scratch",)
# Bases shipped in the repository (`repair pretrain` writes them); a preset names one in `variables.base_model`.
SHIPPED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
PROGRESS_FILE = "progress.jsonl"  # in the run folder: every attempt's records (`read_progress`)
log = logging.getLogger("repair.training")


def is_main_process() -> bool:
    """Rank 0 of a launch (`composer -n N` sets RANK), or a plain process: the one that writes the
    run's files and reports."""
    return int(os.environ.get("RANK", "0")) == 0


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str):
    """The preset's YAML as an OmegaConf `DictConfig` (interpolations unresolved)."""
    from omegaconf import OmegaConf

    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown training preset {name!r}; presets: {', '.join(preset_names())}")
    return OmegaConf.load(path)


def default_model_dir(preset: str) -> Path | None:
    """The shipped base a pretrained preset finetunes when no other is given (None: it names none)."""
    from omegaconf import OmegaConf

    name = OmegaConf.select(load_preset(preset), "variables.base_model")
    if not name:
        return None
    path = SHIPPED_MODELS_DIR / name
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"preset {preset} finetunes the shipped base {path}, which is missing; write it with "
            f"`repair pretrain --out {path}` (see docs/training.md) or pass a base model folder"
        )
    return path


@dataclass
class TrainingSettings:
    """What one training run needs; None keeps the preset's value."""

    preset: str
    data_dir: str
    model_dir: str
    run_dir: str
    tokenizer_dir: str | None = None  # None: the model's own (pretrained) or model_dir (scratch)
    run_name: str | None = None
    max_duration: str | None = None  # e.g. "6ep", "400ba"
    learning_rate: float | None = None
    global_batch_size: int | None = None
    microbatch_size: int | None = None
    max_seq_len: int | None = None
    seed: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted key -> value


def render_config(settings: TrainingSettings):
    """The run's `DictConfig`: the preset with the settings applied (interpolations unresolved, so
    the written YAML still reads like the preset)."""
    from omegaconf import OmegaConf

    cfg = load_preset(settings.preset)
    variables = {
        "data_dir": settings.data_dir,
        "model_dir": settings.model_dir,
        "run_dir": settings.run_dir,
        "tokenizer_dir": settings.tokenizer_dir,
        "run_name": settings.run_name,
    }
    if settings.tokenizer_dir is None and settings.preset in SCRATCH_PRESETS:
        variables["tokenizer_dir"] = settings.model_dir
    for key, value in variables.items():
        if value is not None:
            OmegaConf.update(cfg, f"variables.{key}", str(value))
    follow_base_names(cfg, settings.model_dir)
    knobs = {
        "max_duration": settings.max_duration,
        "optimizer.lr": settings.learning_rate,
        "global_train_batch_size": settings.global_batch_size,
        "device_train_microbatch_size": settings.microbatch_size,
        "max_seq_len": settings.max_seq_len,
        "seed": settings.seed,
    }
    for key, value in {**knobs, **settings.overrides}.items():
        if value is not None:
            OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def follow_base_names(cfg, model_dir: str | Path | None) -> None:
    """A run starting from a base trained with the names like the flagged one (docs/formats.md 3b)
    reads them too: its edit loaders get the named preprocessing (an override can still say
    otherwise). Finetuned without them, such a base would lose the line it learnt to copy from."""
    from omegaconf import OmegaConf

    from repair.model import EDIT_PREPROCESSING_FN, NAMED_EDIT_PREPROCESSING_FN, read_prompt_names

    if model_dir is None or not read_prompt_names(model_dir):
        return
    for loader in ("train_loader", "eval_loader"):
        if OmegaConf.select(cfg, f"{loader}.dataset.preprocessing_fn") == EDIT_PREPROCESSING_FN:
            OmegaConf.update(cfg, f"{loader}.dataset.preprocessing_fn", NAMED_EDIT_PREPROCESSING_FN)


def write_config(cfg, path: str | Path) -> Path:
    from omegaconf import OmegaConf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg))
    return path


def validate_config(cfg) -> None:
    """LLM Foundry's own checks without building anything: the keys and types of its `TrainConfig`
    (unknown keys rejected, interpolations resolved) and its model/loader compatibility rules."""
    from llmfoundry.command_utils.train import validate_config as foundry_validate
    from llmfoundry.utils.config_utils import TRAIN_CONFIG_KEYS, TrainConfig, make_dataclass_and_log_config
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(OmegaConf.to_container(cfg))  # a copy: the transforms edit in place
    _, train_cfg = make_dataclass_and_log_config(cfg, TrainConfig, TRAIN_CONFIG_KEYS, transforms="all")
    foundry_validate(train_cfg)


# ---------------------------------------------------------------------------------------------
# Progress: a Composer callback, registered with LLM Foundry so that YAML can name it


ProgressSink = Callable[[dict[str, Any]], None]
_progress_sinks: list[ProgressSink] = []


def _global_batch_loss(state) -> float:
    """The global batch's loss, reduced over ranks and microbatches (token-weighted); `state.loss`
    would be this rank's last microbatch's."""
    loss = (getattr(state, "total_loss_dict", None) or {}).get("loss/train/total", state.loss)
    return float(sum(loss.values()) if isinstance(loss, dict) else loss)


def _progress_callback_class():
    from composer.core import Callback

    class RepairProgress(Callback):
        """Records loss and throughput every `log_every` batches (and eval metrics at each eval,
        and each new checkpoint) to `log_file` (JSON lines), the `repair.training` logger and any
        sink `run_training` set. Rank 0 records for the run: the loss is the global batch's (Composer
        reduces it over ranks), tokens count every rank's."""

        def __init__(self, log_file: str, log_every: int = 10, checkpoint_folder: str | None = None):
            self.log_file, self.log_every = Path(log_file), log_every
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.checkpoint_folder = Path(checkpoint_folder) if checkpoint_folder else None
            self._reported_checkpoints: set[str] | None = None
            self._start: float | None = None
            self._start_tokens = 0
            # The last `log_every` batches' losses: one batch's loss swings with its examples (one
            # run's batches of 4 read 0.62, 0.49 and 1.02 at batches 1, 10 and 20).
            self._recent: collections.deque[float] = collections.deque(maxlen=log_every)

        def _emit(self, record: dict[str, Any]) -> None:
            if not is_main_process():
                return
            with open(self.log_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            for sink in _progress_sinks:
                sink(record)

        def fit_start(self, state, logger) -> None:
            self._start, self._start_tokens = time.perf_counter(), int(state.timestamp.token)
            self._report_checkpoints(state, announce=False)  # those of earlier attempts are known

        def batch_end(self, state, logger) -> None:
            batch = int(state.timestamp.batch)
            self._recent.append(_global_batch_loss(state))
            if batch % self.log_every == 0 or batch == 1:
                self._record_batch(state)
            self._report_checkpoints(state)

        def fit_end(self, state, logger) -> None:
            batch = int(state.timestamp.batch)
            if batch % self.log_every and batch != 1 and self._start is not None:
                self._record_batch(state)  # the last batch, when the interval skipped it
            self._report_checkpoints(state)

        def _report_checkpoints(self, state, announce: bool = True) -> None:
            """A `checkpoint` record per checkpoint file new in the save folder (the checkpoint
            saver writes them at the same events, before or after this callback)."""
            if self.checkpoint_folder is None or not is_main_process():
                return
            names = {p.name for p in self.checkpoint_folder.glob("ep*-ba*-rank0.pt")}
            new = sorted(names - (self._reported_checkpoints or set()))
            self._reported_checkpoints = names
            for name in new if announce else ():
                match = CHECKPOINT_NAME.fullmatch(name)
                batch = int(match.group(2)) if match else int(state.timestamp.batch)
                path = str(self.checkpoint_folder / name)
                log.info("checkpoint at batch %d: %s", batch, path)
                self._emit({"event": "checkpoint", "batch": batch, "path": path})

        def _record_batch(self, state) -> None:
            batch = int(state.timestamp.batch)
            elapsed = time.perf_counter() - (self._start or time.perf_counter())
            tokens = int(state.timestamp.token) - self._start_tokens
            loss = _global_batch_loss(state)
            record = {
                "event": "train",
                "batch": batch,
                "epoch": int(state.timestamp.epoch),
                "loss": round(loss, 5),
                "recent_loss": round(sum(self._recent) / len(self._recent), 5) if self._recent else None,
                "recent_batches": len(self._recent),
                "tokens": tokens,
                "elapsed_s": round(elapsed, 2),
                "tokens_per_s": round(tokens / elapsed, 1) if elapsed > 0 else None,
                "max_duration": str(state.max_duration),
            }
            log.info(
                "batch %d epoch %d loss %.4f, %d tokens in %.0f s (%.0f tok/s)",
                batch, record["epoch"], loss, tokens, elapsed, record["tokens_per_s"] or 0,
            )  # fmt: skip
            self._emit(record)

        def eval_end(self, state, logger) -> None:
            metrics = {
                f"{label}/{name}": round(float(metric.compute()), 5)
                for label, by_name in state.eval_metrics.items()
                for name, metric in by_name.items()
            }
            log.info("eval at batch %d: %s", int(state.timestamp.batch), metrics)
            self._emit({"event": "eval", "batch": int(state.timestamp.batch), **metrics})

    return RepairProgress


def _register_progress_callback() -> None:
    from llmfoundry.registry import callbacks

    if "repair_progress" not in callbacks.get_all():
        callbacks.register("repair_progress", func=_progress_callback_class())


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class TrainingRun:
    run_dir: Path
    export_dir: Path  # the last Hugging Face checkpoint hf_checkpointer wrote
    progress: list[dict[str, Any]]  # what RepairProgress recorded in this attempt, in order
    wall_s: float
    history: list[dict[str, Any]] = field(default_factory=list)  # every attempt's (`read_progress`)
    world_size: int = 1  # training processes (ranks) of this attempt

    @property
    def checkpoints(self) -> list[str]:
        """The checkpoint files this attempt wrote, in order."""
        return [r["path"] for r in self.progress if r["event"] == "checkpoint"]

    @property
    def losses(self) -> list[tuple[int, float]]:
        """This attempt's (a resumed attempt starts after its checkpoint; one at the end has none)."""
        return [(r["batch"], r["loss"]) for r in self.progress if r["event"] == "train"]

    @property
    def run_losses(self) -> list[tuple[int, float]]:
        """The whole run's, over every attempt: what a check on the run's loss reads, so that a retry
        gives the same answer."""
        return [(r["batch"], r["loss"]) for r in self.history if r["event"] == "train"]

    @property
    def run_recent_losses(self) -> list[tuple[int, float, int]]:
        """(batch, mean loss of the last batches up to it, how many) of the whole run's records that
        carry it (runs recorded before it was kept have none)."""
        return [
            (r["batch"], r["recent_loss"], r["recent_batches"])
            for r in self.history
            if r["event"] == "train" and r.get("recent_loss") is not None
        ]

    @property
    def tokens_per_s(self) -> float | None:
        train = [r for r in self.progress if r["event"] == "train" and r["tokens_per_s"]]
        return train[-1]["tokens_per_s"] if train else None

    @property
    def eval_metrics(self) -> dict[str, float]:
        evals = [r for r in self.progress if r["event"] == "eval"]
        return {k: v for k, v in evals[-1].items() if k not in ("event", "batch")} if evals else {}

    def summary(self) -> dict[str, Any]:
        losses = self.run_losses
        return {
            "batches": losses[-1][0] if losses else 0,
            "first_loss": losses[0][1] if losses else None,
            "final_loss": losses[-1][1] if losses else None,
            "tokens_per_s": self.tokens_per_s,
            "wall_s": round(self.wall_s, 1),
            "processes": self.world_size,
            **self.eval_metrics,
        }


def latest_export(run_dir: str | Path) -> Path:
    """`<run_dir>/huggingface/ba<N>` with the highest N (hf_checkpointer's layout): a full model, or
    for LoRA presets the adapter (which `from_pretrained` loads onto its base model)."""
    exports = [
        (int(m.group(1)), p)
        for p in (Path(run_dir) / "huggingface").glob("ba*")
        if (m := re.fullmatch(r"ba([0-9]+)", p.name))
        and (
            (p / "config.json").is_file() or (p / "adapter_config.json").is_file()
        )  # full model or LoRA adapter
    ]
    if not exports:
        raise FileNotFoundError(f"no Hugging Face export under {Path(run_dir) / 'huggingface'}")
    return max(exports)[1]


class InsufficientSpace(RuntimeError):
    """Not enough free disk for what is about to be written."""


def require_free_space(path: str | Path, needed_gb: float, what: str) -> None:
    """Raises `InsufficientSpace` naming `what`, the folder and both figures when the file system
    holding `path` has less than `needed_gb` free."""
    existing = Path(path).resolve()
    while not existing.exists():
        existing = existing.parent
    free_gb = shutil.disk_usage(existing).free / 1e9
    if free_gb < needed_gb:
        raise InsufficientSpace(
            f"{what} needs {needed_gb:g} GB free under {path}, only {free_gb:.1f} GB are: free space, "
            "prune old runs (repair.training.config.prune_runs) or lower variables.min_free_gb"
        )


CHECKPOINT_NAME = re.compile(r"ep([0-9]+)-ba([0-9]+)-rank0\.pt")
LATEST_CHECKPOINT = "latest-rank0.pt"  # Composer's symlink that autoresume follows


def checkpoint_is_readable(path: Path) -> bool:
    """Whether a Composer checkpoint (a torch zip archive) is complete: every member's CRC checks."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def rank0_checkpoints(folder: Path) -> list[tuple[int, int, Path]]:
    """Rank 0's checkpoints in `folder` as (batch, epoch, path), newest first."""
    found = ((CHECKPOINT_NAME.fullmatch(p.name), p) for p in folder.glob("ep*-ba*-rank0.pt"))
    return sorted(((int(m.group(2)), int(m.group(1)), p) for m, p in found if m), reverse=True)


def reached(max_duration: str | None, epoch: int, batch: int) -> bool:
    """Whether a checkpoint at (`epoch`, `batch`) has reached `max_duration` ("24ba", "6ep"); a
    duration in other units (tokens, samples) is never judged reached."""
    match = re.fullmatch(r"([0-9]+)(ba|ep)", max_duration or "")
    return bool(match) and (batch if match.group(2) == "ba" else epoch) >= int(match.group(1))


def recover_checkpoints(save_folder: str | Path, max_duration: str | None = None) -> dict[str, list[str]]:
    """Before a resume: sets aside checkpoints that are not readable (into `corrupt/`) and those
    that have reached `max_duration` (into `finished/`: Composer refuses to resume a fit with
    nothing left to train, which a kill between the final checkpoint and the export leaves), and
    points Composer's `latest-rank0.pt` at the newest one left (or removes it, so the run starts
    over, when none is). Returns the names kept and set aside."""
    folder = Path(save_folder)
    recovered: dict[str, list[str]] = {"kept": [], "corrupt": [], "finished": []}
    for batch, epoch, path in rank0_checkpoints(folder):
        if not checkpoint_is_readable(path):
            aside = "corrupt"
            log.warning("checkpoint %s is not readable: set aside in %s", path, folder / aside)
        elif reached(max_duration, epoch, batch):
            aside = "finished"
            log.warning("checkpoint %s is at the end (%s): set aside in %s, the last interval is trained again",
                        path, max_duration, folder / aside)  # fmt: skip
        else:
            recovered["kept"].append(path.name)
            continue
        (folder / aside).mkdir(exist_ok=True)
        path.replace(folder / aside / path.name)
        recovered[aside].append(path.name)
    latest = folder / LATEST_CHECKPOINT
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    if recovered["kept"]:
        latest.symlink_to(recovered["kept"][0])
    return recovered


def prune_checkpoints(save_folder: str | Path, keep: int) -> list[str]:
    """Removes all but the newest `keep` checkpoints. Composer counts only the checkpoints of the
    attempt that saved them, so a killed attempt's would stay beside a resumed one's. Returns the
    names removed."""
    found = rank0_checkpoints(Path(save_folder))
    batches = sorted({batch for batch, _, _ in found}, reverse=True)[: max(keep, 1)]
    removed = []
    for batch, _, path in found:
        if batch not in batches:
            path.unlink()
            removed.append(path.name)
    return removed


def read_progress(progress_file: str | Path) -> list[dict[str, Any]]:
    """Every attempt's records of a run, the last one per (event, batch), in batch order: a resumed
    attempt replays batches after its checkpoint, and one that starts at the end records none."""
    path = Path(progress_file)
    if not path.exists():
        return []
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        latest[(record.get("event", ""), record.get("batch", 0))] = record
    return sorted(latest.values(), key=lambda r: (r.get("batch", 0), r.get("event", "")))


def prune_exports(run_dir: str | Path, keep: int = 1) -> list[Path]:
    """Removes all but the newest `keep` Hugging Face exports (`huggingface/ba<N>`) of a run."""
    exports = sorted(
        (int(m.group(1)), p)
        for p in (Path(run_dir) / "huggingface").glob("ba*")
        if (m := re.fullmatch(r"ba([0-9]+)", p.name))
    )
    removed = [p for _, p in exports[: max(0, len(exports) - keep)]]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def prune_runs(runs_root: str | Path, keep: int, current: str | Path | None = None) -> list[Path]:
    """Removes all but the `keep` most recently used run folders under `runs_root` (never `current`):
    each holds checkpoints and exports (tens of GB for the 7B preset) that only a resume needs."""
    folders = sorted(
        (p for p in Path(runs_root).iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    current_path = Path(current).resolve() if current else None
    removed = [p for p in folders[keep:] if p.resolve() != current_path]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def run_training(cfg, sink: ProgressSink | None = None, keep_exports: int | None = 1) -> TrainingRun:
    """Runs LLM Foundry's `train` on `cfg` (writes `<run_dir>/train.yaml` first); resumes from the
    last checkpoint in the run folder when there is one (the presets set `autoresume`). Keeps the
    newest `keep_exports` Hugging Face exports (None: every one, e.g. to score a learning curve)."""
    from omegaconf import OmegaConf

    run_dir = Path(OmegaConf.select(cfg, "variables.run_dir"))
    require_free_space(run_dir, float(OmegaConf.select(cfg, "variables.min_free_gb") or 0), "training")
    from llmfoundry.command_utils import train

    _register_progress_callback()
    threads = OmegaConf.select(cfg, "variables.cpu_threads")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    save_folder = OmegaConf.select(cfg, "save_folder")
    main = is_main_process()
    # Rank 0 repairs the folder before any rank's trainer reads it (they meet at the process
    # group's start, inside `train`).
    if main and save_folder and Path(save_folder).is_dir():
        recovered = recover_checkpoints(save_folder, OmegaConf.select(cfg, "max_duration"))
        if recovered["corrupt"] or recovered["finished"]:
            log.warning("resuming from %s (set aside: %s)", recovered["kept"][:1] or "nothing",
                        recovered["corrupt"] + recovered["finished"])  # fmt: skip
    progress_file = run_dir / PROGRESS_FILE
    cfg = OmegaConf.create(OmegaConf.to_container(cfg))
    callback_args = {"log_file": str(progress_file), "checkpoint_folder": save_folder}
    OmegaConf.update(cfg, "callbacks.repair_progress", callback_args, force_add=True)
    if main:
        write_config(cfg, run_dir / "train.yaml")
    # The file keeps every attempt's records (a resumed one appends); this attempt's start at its end.
    offset = progress_file.stat().st_size if progress_file.exists() else 0
    start = time.perf_counter()
    if sink is not None:
        _progress_sinks.append(sink)
    try:
        train(cfg)
    finally:
        if sink is not None:
            _progress_sinks.remove(sink)
    progress = []
    if progress_file.exists():
        with open(progress_file, "rb") as handle:
            handle.seek(offset)
            progress = [json.loads(line) for line in handle.read().decode().splitlines()]
    export = latest_export(run_dir)
    if main:
        if keep_exports is not None:
            prune_exports(run_dir, keep=keep_exports)
        if save_folder and Path(save_folder).is_dir():
            prune_checkpoints(save_folder, int(OmegaConf.select(cfg, "save_num_checkpoints_to_keep") or 2))
    return TrainingRun(
        run_dir, export, progress, time.perf_counter() - start, history=read_progress(progress_file),
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
    )  # fmt: skip


def settings_dict(settings: TrainingSettings) -> dict[str, Any]:
    return asdict(settings)
