"""`repair train` resolves the base and builds a scratch model through the same library calls as the
`finetuned_model` and `tokenizer` assets (`repair.training.model_version`), checked with --dry-run
(the config written and validated, the launch command printed, nothing trained)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from repair import dataset as ds
from repair.cli import main


@pytest.mark.slow  # a dataset build, a tokenizer and LLM Foundry's config validation: 10 min at load 20
def test_a_scratch_preset_gets_a_tokenizer_and_a_model_from_the_training_split(repair_rows, tmp_path):
    ds.write_finetuning_files(ds.build_dataset(repair_rows[:96]).examples, tmp_path / "data")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "train", "--preset", "cpu-tiny-scratch", "--data", str(tmp_path / "data" / "jsonl"),
        "--run-dir", str(run_dir), "--dry-run",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (run_dir / "tokenizer" / "tokenizer.json").is_file()
    assert (run_dir / "scratch_model" / "config.json").is_file()
    assert (run_dir / "run" / "train.yaml").is_file() and "composer" in result.output


def test_a_pretrained_preset_without_a_base_asks_for_one(tmp_path):
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(main, [
        "train", "--preset", "single-gpu-lora", "--data", str(tmp_path / "data"), "--run-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    assert result.exit_code == 2
    assert "preset single-gpu-lora finetunes a pretrained model: pass --model-dir" in result.output
