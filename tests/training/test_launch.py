"""Training outside the calling process (issue 17): one command for one process or N through
Composer's launcher; two CPU processes (gloo) with the same global batch follow the one-process loss
curve, and rank 0 alone writes the run's result."""

from __future__ import annotations

import json

import pytest

from repair import dataset as ds
from repair.training import config as tc
from repair.training import launch
from repair.training.scratch import init_scratch_model, train_tokenizer

BATCHES = 8


def test_one_process_or_n_is_the_same_command(tmp_path):
    one = launch.training_command(tmp_path / "launch.json", 1)
    two = launch.training_command(tmp_path / "launch.json", 2)
    assert one[0].endswith("composer") and one[1:3] == ["-n", "1"] and two[1:3] == ["-n", "2"]
    assert one[3:] == two[3:] and one[-3:] == ["-m", "repair.training.worker", str(tmp_path / "launch.json")]
    with pytest.raises(ValueError, match="at least 1"):
        launch.training_command(tmp_path / "launch.json", 0)


def test_a_launch_without_a_result_fails_clearly(tmp_path):
    settings = tc.TrainingSettings(
        preset="cpu-tiny", data_dir=str(tmp_path), model_dir=str(tmp_path), run_dir=str(tmp_path / "run")
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / launch.RESULT_FILE).write_text("{}")  # an earlier attempt's must not count
    commands = []
    with pytest.raises(launch.TrainingLaunchFailed, match="without writing .*result.json"):
        launch.launch(settings, processes=2, runner=lambda command, env: commands.append(command))
    assert commands and commands[0][1:3] == ["-n", "2"]
    spec = json.loads((tmp_path / "run" / launch.SPEC_FILE).read_text())
    assert spec["settings"]["preset"] == "cpu-tiny"
    with pytest.raises(launch.TrainingLaunchFailed, match="exited with code 3"):
        launch.subprocess_runner(["sh", "-c", "exit 3"], {})


@pytest.fixture(scope="module")
def tiny_run_inputs(repair_rows, tmp_path_factory):
    work = tmp_path_factory.mktemp("launch")
    # 96 rows: their projects split into train, test and 6 validation rows (72 gave no validation
    # project at all, and LLM Foundry refuses an empty eval split); each of 2 ranks evaluates 3.
    built = ds.build_dataset(repair_rows[:96])
    rows = ds.write_finetuning_files(built.examples, work / "data")
    assert rows["validation"] >= 2, rows
    train_rows = [e for e in built.examples if e["split"] == "train"]
    tokenizer_dir = train_tokenizer(
        (e["prompt"] + e["response"] for e in train_rows), work / "tokenizer", 512
    )
    dims = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}
    init_scratch_model(work / "scratch", tokenizer_dir, **dims, max_seq_len=320)
    return work


def _settings(work, name: str) -> tc.TrainingSettings:
    return tc.TrainingSettings(
        preset="cpu-tiny-scratch",
        data_dir=str(work / "data" / "jsonl"),
        model_dir=str(work / "scratch"),
        run_dir=str(work / name),
        max_duration=f"{BATCHES}ba",
        global_batch_size=8,  # per rank: 8 on one process, 4 on each of two
        microbatch_size=4,
        overrides={
            "scheduler.t_warmup": "2ba",
            "eval_interval": f"{BATCHES}ba",
            "save_interval": f"{BATCHES}ba",
            "callbacks.hf_checkpointer.save_interval": f"{BATCHES}ba",
            "callbacks.repair_progress.log_every": 1,
        },
    )


# Two launches, each importing torch and LLM Foundry in its ranks: 22 min at load 15, so the soak
# tier, outside CI's hour.
@pytest.mark.slow
@pytest.mark.soak
def test_two_processes_follow_the_one_process_loss_curve(tiny_run_inputs):
    one = launch.launch(_settings(tiny_run_inputs, "one"), processes=1)
    two = launch.launch(_settings(tiny_run_inputs, "two"), processes=2)
    assert (one.run.world_size, two.run.world_size) == (1, 2)
    assert [b for b, _ in one.run.losses] == [b for b, _ in two.run.losses] == list(range(1, BATCHES + 1))
    # Same global batches, same optimizer steps: the curves agree to float noise, while they fall.
    for (batch, a), (_, b) in zip(one.run.losses, two.run.losses, strict=True):
        assert abs(a - b) <= 0.01 * a, (batch, a, b)
    assert one.run.losses[-1][1] < one.run.losses[0][1]
    tokens = [[r["tokens"] for r in run.progress if r["event"] == "train"] for run in (one.run, two.run)]
    assert tokens[0] == tokens[1]  # every rank's tokens are counted
    # One export, written by rank 0; rank 1 wrote no progress of its own.
    assert two.run.export_dir.name == f"ba{BATCHES}" and (two.run.export_dir / "config.json").is_file()
    records = tc.read_progress(two.run.run_dir / tc.PROGRESS_FILE)
    assert [r["batch"] for r in records if r["event"] == "train"] == list(range(1, BATCHES + 1))
