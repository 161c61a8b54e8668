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
import psutil
import pytest

from repair import registry
from repair.object_store import LocalObjectStore
from repair.training import config as tc
from repair_assets.dataset import approved_dataset, repair_dataset
from repair_assets.training import finetuned_model, tokenizer

from ..training.test_assets import _resources, _stub_verified_repairs

pytestmark = pytest.mark.slow

SEED = 18
BATCHES = 24
CHECKPOINT_EVERY = 4


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
        "microbatch_size": 4, "overrides_json": json.dumps(overrides), "heldout_items": 2,
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


def test_training_killed_after_a_checkpoint_resumes_and_registers_one_model(repair_rows, tmp_path):
    resources = _resources(tmp_path)
    upstream = [_stub_verified_repairs(repair_rows), repair_dataset, approved_dataset, tokenizer]
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

    second = dg.materialize(assets, resources=resources, run_config=run_config, selection=[finetuned_model])
    assert second.success
    attempt = json.loads((run_dir / "result.json").read_text())["progress"]
    resumed_from = min(r["batch"] for r in attempt if r["event"] == "train") - 1
    # Resumed from the newest checkpoint the killed attempt had written, not from scratch.
    assert resumed_from == checkpoints_before[-1] > 0
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
