"""benchmarks.gpu_pretrain's planning and what it brings back (the device call itself needs a GPU)."""

import json
import tarfile

import pytest
import torch
from safetensors.torch import load_file, save_file

from benchmarks import gpu_pretrain


def test_plan_fits_the_time_at_the_measured_rate():
    plan = gpu_pretrain.plan_batches({"gpu-s": 0.074, "gpu-l": 0.094}, train_s=300, max_batches=10_000)
    assert plan == {"gpu-s": 3600, "gpu-l": 2850}
    assert all(batches * rate <= 300 for batches, rate in zip(plan.values(), (0.074, 0.094), strict=True))


def test_plan_is_capped_and_floored():
    assert gpu_pretrain.plan_batches({"a": 0.01}, train_s=300, max_batches=3000) == {"a": 3000}
    assert gpu_pretrain.plan_batches({"a": 5.0}, train_s=60, max_batches=3000) == {"a": 100}


def test_pretrain_args_set_the_shape_and_gpu_precision():
    args = type("Args", (), {"heldout": 200, "hardware": "h", "batch": 128, "cpu_smoke": False})()
    command = gpu_pretrain.pretrain_args(
        "gpu-l", gpu_pretrain.SHAPES["gpu-l"], 3000, "out", args, probe=False
    )
    sets = {command[i + 1] for i, a in enumerate(command) if a == "--set"}
    assert {
        "precision=amp_bf16",
        "global_train_batch_size=128",
        "variables.scratch_model.num_layers=8",
    } <= sets
    assert command[command.index("--max-duration") + 1] == "3000ba"
    assert command[command.index("--heldout") + 1] == "200"


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    save_file({"w": torch.randn(64, 64)}, folder / "model.safetensors")
    (folder / "config.json").write_text("{}")
    (folder / "card.json").write_text("{}")  # the command finished
    return folder


def test_large_base_comes_back_in_bf16(export, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    gpu_pretrain.bring_back("gpu-l", export, bf16=True, dest=dest, clock=gpu_pretrain.Clock())
    with tarfile.open(dest / "gpu-l.tar") as archive:
        archive.extractall(tmp_path / "back", filter="data")
    assert load_file(tmp_path / "back" / "gpu-l" / "model.safetensors")["w"].dtype == torch.bfloat16


def test_a_tar_over_the_limit_is_split_and_rejoins(export, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gpu_pretrain, "SPLIT_BYTES", 4096)
    dest = tmp_path / "out"
    dest.mkdir()
    gpu_pretrain.bring_back("gpu-s", export, bf16=False, dest=dest, clock=gpu_pretrain.Clock())
    parts = sorted(dest.glob("gpu-s.tar.part*"))
    assert len(parts) > 1 and not (dest / "gpu-s.tar").exists()
    (tmp_path / "joined.tar").write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(tmp_path / "joined.tar") as archive:
        assert "gpu-s/model.safetensors" in archive.getnames()


def test_without_a_card_the_latest_export_comes_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for batch in (200, 1000, 400):
        folder = tmp_path / ".data" / "gpu-s" / "run" / "huggingface" / f"ba{batch}"
        folder.mkdir(parents=True)
        (folder / "marker").write_text(str(batch))
        (folder / "config.json").write_text("{}")  # an export hf_checkpointer finished
    dest = tmp_path / "out"
    dest.mkdir()
    gpu_pretrain.bring_back(
        "gpu-s", tmp_path / "never-written", bf16=False, dest=dest, clock=gpu_pretrain.Clock()
    )
    with tarfile.open(dest / "gpu-s.tar") as archive:
        assert archive.extractfile("gpu-s/marker").read() == b"1000"


def test_report_reads_what_came_back(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "plan.json").write_text(json.dumps({"plan_batches": {"gpu-s": 20, "gpu-l": 20}}))
    records = [
        {"event": "train", "batch": 1, "epoch": 0, "loss": 7.0, "elapsed_s": 0.5, "tokens_per_s": 100.0},
        {"event": "train", "batch": 20, "epoch": 2, "loss": 0.25, "elapsed_s": 9.6, "tokens_per_s": 2500.0},
        {"event": "eval", "batch": 20, "eval/LanguageCrossEntropy": 0.51, "eval/TokenAccuracy": 0.889},
    ]
    (logs / "gpu-s-progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "gpu-s").mkdir()
    config = {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 768,
        "vocab_size": 1024,
    }
    (tmp_path / "gpu-s" / "config.json").write_text(json.dumps(config))
    section = gpu_pretrain.report(tmp_path, "an H200")
    row = next(line for line in section.splitlines() if line.startswith("| gpu-s "))
    assert "| gpu-l |" in row  # shared the GPU with the other planned run
    assert "| 20 (2 epochs) | 10 | 2,500 | 7.000 -> 0.2500 | 0.510 | 0.889 |" in row


def test_a_line_cut_by_the_watchdog_is_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / ".data" / "gpu-s" / "run"
    run.mkdir(parents=True)
    records = [{"event": "train", "batch": b, "elapsed_s": b * 0.1} for b in (1, 10, 20, 30, 40)]
    (run / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"event": "tra')
    assert gpu_pretrain.seconds_per_batch("gpu-s") == pytest.approx(0.1)
