"""Training that survives (issue 18): a corrupt latest checkpoint falls back to the previous one, a
retry reads the whole run's progress, free space is checked first, old exports and run folders are
pruned by policy."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from repair.training import config as tc


def _checkpoints(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for batch in batches:
        torch.save(
            {"state": {"batch": batch, "weights": torch.arange(1000.0)}}, folder / f"ep0-ba{batch}-rank0.pt"
        )
    (folder / tc.LATEST_CHECKPOINT).symlink_to(f"ep0-ba{batches[-1]}-rank0.pt")
    return folder


def test_corrupt_latest_checkpoint_falls_back_to_the_previous(tmp_path):
    folder = _checkpoints(tmp_path / "checkpoints", [20, 40])
    latest = folder / "ep0-ba40-rank0.pt"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # killed mid-write
    recovered = tc.recover_checkpoints(folder)
    assert recovered == {"kept": ["ep0-ba20-rank0.pt"], "corrupt": ["ep0-ba40-rank0.pt"], "finished": []}
    assert os.readlink(folder / tc.LATEST_CHECKPOINT) == "ep0-ba20-rank0.pt"
    assert torch.load(folder / tc.LATEST_CHECKPOINT)["state"]["batch"] == 20
    assert (folder / "corrupt" / "ep0-ba40-rank0.pt").is_file()  # set aside, not deleted


def test_a_checkpoint_at_the_end_is_set_aside_so_the_retry_trains_the_last_interval(tmp_path):
    """Killed after its final checkpoint and before its export, a run cannot resume from that
    checkpoint: Composer refuses a fit with nothing left to train. The retry resumes from the
    previous one (or starts over), and the final one is kept aside, not deleted."""
    folder = _checkpoints(tmp_path / "checkpoints", [20, 24])
    recovered = tc.recover_checkpoints(folder, max_duration="24ba")
    assert recovered == {"kept": ["ep0-ba20-rank0.pt"], "corrupt": [], "finished": ["ep0-ba24-rank0.pt"]}
    assert os.readlink(folder / tc.LATEST_CHECKPOINT) == "ep0-ba20-rank0.pt"
    assert (folder / "finished" / "ep0-ba24-rank0.pt").is_file()
    # In epochs: ep2 has reached "2ep", ep1 has not.
    folder = tmp_path / "epochs"
    folder.mkdir()
    for name in ("ep1-ba10-rank0.pt", "ep2-ba20-rank0.pt"):
        torch.save({"state": {}}, folder / name)
    assert tc.recover_checkpoints(folder, max_duration="2ep")["kept"] == ["ep1-ba10-rank0.pt"]
    # Without a duration nothing is judged finished.
    assert tc.recover_checkpoints(_checkpoints(tmp_path / "plain", [24]))["kept"] == ["ep0-ba24-rank0.pt"]


def test_no_readable_checkpoint_starts_over(tmp_path):
    folder = _checkpoints(tmp_path / "checkpoints", [20])
    (folder / "ep0-ba20-rank0.pt").write_bytes(b"garbage")
    assert tc.recover_checkpoints(folder)["kept"] == []
    assert not (folder / tc.LATEST_CHECKPOINT).is_symlink()


def test_progress_over_attempts_is_the_runs(tmp_path):
    progress = tmp_path / "progress.jsonl"
    first = [{"event": "train", "batch": b, "loss": 10.0 - b / 10} for b in range(1, 31)]
    resumed = [{"event": "train", "batch": b, "loss": 10.0 - b / 10} for b in range(21, 41)]
    lines = [json.dumps(r) for r in first] + ['{"event": "train", "ba'] + [json.dumps(r) for r in resumed]
    progress.write_text("\n".join(lines) + "\n")
    records = tc.read_progress(progress)
    assert [r["batch"] for r in records] == list(range(1, 41))
    # A retry after the final checkpoint trains nothing; the run's losses are still the run's.
    Run = namedtuple("Run", "history")
    losses = tc.TrainingRun.run_losses.fget(Run(records))
    assert losses[0] == (1, 9.9) and losses[-1] == (40, 6.0)


def _run_of(records: list[dict]) -> tc.TrainingRun:
    return tc.TrainingRun(Path("run"), Path("export"), records, 1.0, history=records)


def test_the_loss_check_reads_windows_of_batches_not_one_batch_each_end():
    from repair.training.model_version import loss_decreased

    # One batch at each end says the loss rose; the means of the windows say it fell.
    fell = [
        {"event": "train", "batch": 1, "loss": 0.62, "recent_loss": 0.62, "recent_batches": 1},
        {"event": "train", "batch": 10, "loss": 0.49, "recent_loss": 0.70, "recent_batches": 10},
        {"event": "train", "batch": 20, "loss": 1.02, "recent_loss": 0.61, "recent_batches": 10},
    ]
    outcome = loss_decreased(_run_of(fell))
    assert outcome.passed and "0.7 at batch 10, 0.61 at batch 20" in outcome.detail
    # Its mirror: the ends fell, the means rose.
    rose = [
        {**fell[0], "loss": 1.02},
        {**fell[1], "recent_loss": 0.61},
        {**fell[2], "loss": 0.62, "recent_loss": 0.70},
    ]
    assert not loss_decreased(_run_of(rose)).passed
    # Records from before the windows were kept: first against last batch, as before.
    old = [{"event": "train", "batch": b, "loss": loss} for b, loss in ((1, 0.62), (20, 1.02))]
    assert not loss_decreased(_run_of(old)).passed


def test_free_space_is_checked_with_a_clear_error(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100e9, 99e9, 1e9))
    with pytest.raises(tc.InsufficientSpace, match=r"training needs 40 GB free under .*only 1.0 GB"):
        tc.require_free_space(tmp_path / "run" / "not-yet", 40, "training")
    tc.require_free_space(tmp_path, 0.5, "training")


def test_training_refuses_to_start_without_space(tmp_path):
    settings = tc.TrainingSettings(
        preset="cpu-tiny", data_dir=str(tmp_path), model_dir=str(tmp_path), run_dir=str(tmp_path / "run"),
        overrides={"variables.min_free_gb": 1e9},
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(tc.InsufficientSpace, match="training needs 1e\\+09 GB"):
        tc.run_training(tc.render_config(settings))
    assert time.monotonic() - started < 60
    assert tc.load_preset("deepseek-coder-7b-8xh100").variables.min_free_gb >= 100
    for preset in tc.preset_names():
        assert tc.load_preset(preset).save_num_checkpoints_to_keep == 2


def test_pruning_keeps_the_newest(tmp_path):
    run = tmp_path / "run"
    for batch in (20, 40, 60):
        (run / "huggingface" / f"ba{batch}").mkdir(parents=True)
    assert [p.name for p in tc.prune_exports(run, keep=1)] == ["ba20", "ba40"]
    assert [p.name for p in (run / "huggingface").iterdir()] == ["ba60"]

    root = tmp_path / "runs"
    for age, name in enumerate(["newest", "middle", "current-but-old", "oldest"]):
        (root / name).mkdir(parents=True)
        stamp = time.time() - 1000 * age
        os.utime(root / name, (stamp, stamp))
    removed = tc.prune_runs(root, keep=2, current=root / "current-but-old")
    assert [p.name for p in removed] == ["oldest"]
    assert sorted(p.name for p in root.iterdir()) == ["current-but-old", "middle", "newest"]


def test_a_resumed_run_keeps_only_the_newest_checkpoints(tmp_path):
    """Composer counts the checkpoints of its own attempt only: a killed attempt's would stay."""
    from repair.training.config import prune_checkpoints

    for batch in (4, 8, 12, 16):  # 4 and 8 from the killed attempt, 12 and 16 from the resumed one
        (tmp_path / f"ep0-ba{batch}-rank0.pt").write_bytes(b"x")
    (tmp_path / "latest-rank0.pt").symlink_to("ep0-ba16-rank0.pt")
    assert sorted(prune_checkpoints(tmp_path, keep=2)) == ["ep0-ba4-rank0.pt", "ep0-ba8-rank0.pt"]
    assert sorted(p.name for p in tmp_path.glob("ep*.pt")) == ["ep0-ba12-rank0.pt", "ep0-ba16-rank0.pt"]
    assert (tmp_path / "latest-rank0.pt").resolve().exists()
