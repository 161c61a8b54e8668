"""kill -9 of a live training run (issue 18 item 7): the `finetuned_model` asset launches training
through Dagster Pipes and Composer's launcher; its training process is killed with SIGKILL at a
seeded random moment after its first checkpoint. The step fails and registers nothing; run again,
it resumes from the newest checkpoint on disk (not from scratch), finishes, and exactly one model is
registered; the run's progress covers every batch once. The workload and its checks are the
benchmark's (`benchmarks/bench_faults.py`, `training`)."""

from __future__ import annotations

import pytest

from benchmarks.bench_faults import TRAINING_BATCHES, run_training

pytestmark = pytest.mark.slow


def test_training_killed_after_a_checkpoint_resumes_and_registers_one_model(tmp_path):
    report = run_training(tmp_path, seed=18, kills=1)
    assert report.kills == 1 and report.recoveries == 1, report.to_dict()
    assert report.records_expected == report.records_final == TRAINING_BATCHES
    assert report.ok, report.invariant_violations


def test_training_killed_after_its_final_checkpoint_trains_the_last_interval_and_registers_one_model(tmp_path):
    """A kill between the final checkpoint and the export: Composer refuses to resume a fit with
    nothing left to train, so the final checkpoint is set aside and the one before it resumed."""
    report = run_training(tmp_path, seed=18, kills=1, after_final_checkpoint=True)
    assert report.kills == 1 and report.recoveries == 1, report.to_dict()
    assert report.ok, report.invariant_violations
