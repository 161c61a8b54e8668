"""kill -9 of a live training run (issue 18 item 7): the `finetuned_model` asset launches training
through Dagster Pipes and Composer's launcher; its training process is killed with SIGKILL at a
seeded random moment after its first checkpoint. The step fails and registers nothing; run again,
it resumes from the checkpoint (not from scratch), finishes, and exactly one model is registered;
the run's progress covers every batch once."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import psutil
import pytest

from repair import registry
from repair.object_store import LocalObjectStore
from repair.training import config as tc
from repair_assets.dataset import approved_dataset, repair_dataset
from repair_assets.training import finetuned_model, tokenizer
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource

pytestmark = pytest.mark.slow

SEED = 18
BATCHES = 24
CHECKPOINT_EVERY = 4


def _upstream(rows, tmp_path) -> tuple[list, dict]:
    """The approved dataset and tokenizer from `rows` as verified repairs, and the resources."""
    from resources.benchmarks import BenchmarkSourcesResource

    @dg.asset(name="verified_repairs")
    def verified_repairs() -> pl.DataFrame:
        return pl.DataFrame(rows)

    store = ObjectStoreResource(backend="local", root=str(tmp_path / "store"))
    resources = {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
                 "benchmark_sources": BenchmarkSourcesResource()}  # fmt: skip
    return [verified_repairs, repair_dataset, approved_dataset, tokenizer], resources


def _training_config(run_root: Path) -> dict:
    overrides = {
        "variables.scratch_model.hidden_size": 32,
        "variables.scratch_model.num_layers": 1,
        "variables.scratch_model.num_heads": 2,
        "variables.scratch_model.intermediate_size": 64,
        "scheduler.t_warmup": "2ba",
        "eval_interval": f"{BATCHES}ba",
        "save_interval": f"{CHECKPOINT_EVERY}ba",
        "callbacks.hf_checkpointer.save_interval": f"{BATCHES}ba",
        "callbacks.repair_progress.log_every": 1,
    }
    config = {
        "preset": "cpu-tiny-scratch", "max_duration": f"{BATCHES}ba", "global_batch_size": 4,
        "microbatch_size": 4, "overrides_json": json.dumps(overrides), "heldout_items": 1,
        "run_root": str(run_root),
    }  # fmt: skip
    return {"ops": {"finetuned_model": {"config": config}}}


def _training_workers() -> list[psutil.Process]:
    """This test's training ranks (children of Composer's launcher, which Pipes started)."""
    return [
        p for p in psutil.Process().children(recursive=True)
        if "repair.training.worker" in " ".join(p.cmdline())
    ]  # fmt: skip


def _kill_after_first_checkpoint(run_root: Path, delay_s: float, killed: list) -> None:
    """Waits for the first checkpoint, then `delay_s`, then SIGKILLs rank 0's process."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if list(run_root.glob("*/*/run/checkpoints/ep*-ba*-rank0.pt")):
            break
        time.sleep(0.2)
    else:
        return
    time.sleep(delay_s)
    for process in _training_workers():
        try:
            if process.environ().get("RANK", "0") == "0":
                os.kill(process.pid, signal.SIGKILL)
                killed.append(process.pid)
        except psutil.NoSuchProcess:
            pass


def _repair_rows(files: int = 24, per_file: int = 6) -> list[dict]:
    """Synthetic verified repairs of real standard-library files (tests/training's inputs)."""
    from benchmarks.make_synthetic_repairs import repairs_for_file
    from repair.corpus import iter_source_files, stdlib_dir

    root, rng = stdlib_dir(), random.Random(0)
    paths = [p for p in iter_source_files(root) if p.stat().st_size > 4000][:files]
    return [row for path in paths for row in repairs_for_file(path, root, per_file, rng)]


def test_training_killed_after_a_checkpoint_resumes_and_registers_one_model(tmp_path):
    upstream, resources = _upstream(_repair_rows(), tmp_path)
    assert dg.materialize(upstream, resources=resources).success
    run_root = tmp_path / "training"
    run_config = _training_config(run_root)
    assets = [*upstream, finetuned_model]

    delay_s = random.Random(SEED).uniform(0.0, 3.0)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(run_root, delay_s, killed))
    killer.start()
    first = dg.materialize(
        assets, resources=resources, run_config=run_config, selection=[finetuned_model], raise_on_error=False
    )
    killer.join()
    assert killed, "the training process was not found alive after its first checkpoint"
    assert not first.success
    store = LocalObjectStore(tmp_path / "store")
    assert registry.versions(store, registry.MODEL) == []  # a killed run registers nothing
    (run_dir,) = [p / "run" for p in run_root.glob("*/*")]
    before = tc.read_progress(run_dir / tc.PROGRESS_FILE)
    trained_before = max(r["batch"] for r in before if r["event"] == "train")
    checkpoints_before = sorted(r["batch"] for r in before if r["event"] == "checkpoint")
    assert checkpoints_before and trained_before < BATCHES  # killed mid-run, after a checkpoint
    # The kill may land after a checkpoint's file is written and before its record is: the files
    # on disk say what the rerun can resume from.
    on_disk = max(int(p.name.split("-ba")[1].split("-")[0]) for p in (run_dir / "checkpoints").glob("ep*-ba*-rank0.pt"))

    # A tiny model this short may not write diffs yet: the blocking `generates_diffs` check may fail,
    # which must not hide what this test checks (the materialization and the registration).
    second = dg.materialize(
        assets, resources=resources, run_config=run_config, selection=[finetuned_model], raise_on_error=False
    )
    assert second.asset_materializations_for_node("finetuned_model")
    attempt = json.loads((run_dir / "result.json").read_text())["progress"]
    resumed_from = min(r["batch"] for r in attempt if r["event"] == "train") - 1
    # Resumed from the newest checkpoint the killed attempt had written, not from scratch.
    assert resumed_from == on_disk >= checkpoints_before[-1] > 0
    versions = registry.versions(store, registry.MODEL)
    assert [v.version for v in versions] == [1]  # exactly one model
    history = tc.read_progress(run_dir / tc.PROGRESS_FILE)
    # Counts reconcile: every batch of the run is recorded exactly once over the two attempts.
    assert [r["batch"] for r in history if r["event"] == "train"] == list(range(1, BATCHES + 1))
    metadata = second.asset_materializations_for_node("finetuned_model")[0].metadata
    assert metadata["batches"].value == BATCHES and metadata["model_version"].value == 1
    assert metadata["checkpoints"].value  # reported back through Pipes
    assert len(list((run_dir / "checkpoints").glob("ep*-ba*-rank0.pt"))) <= 2
    assert not _training_workers()  # nothing left running
