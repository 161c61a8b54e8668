"""`bench_finetune`: a store without a dataset is told so, and RESULTS.md is left as it was; a --base
that is not a model is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_finetune
from benchmarks.results import RESULTS


def test_a_store_without_a_dataset_measures_nothing_and_writes_nothing(tmp_path, capsys):
    before = RESULTS.read_text(encoding="utf-8")

    bench_finetune.main(["--store", str(tmp_path / "store"), "--corpus", str(tmp_path / "corpus")])

    assert "nothing to finetune on" in capsys.readouterr().out
    assert RESULTS.read_text(encoding="utf-8") == before
    assert not (tmp_path / "corpus").exists()  # no corpus mined for nothing


def test_a_base_that_is_not_a_model_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench_finetune.main(["--base", str(tmp_path / "nowhere"), "--store", str(tmp_path / "store")])

    assert f"--base {tmp_path / 'nowhere'}: no model there" in capsys.readouterr().err


def test_a_base_is_shown_relative_inside_the_working_directory_and_absolute_outside(tmp_path, monkeypatch):
    inside = tmp_path / "repo"
    (inside / "models" / "base-cpu").mkdir(parents=True)
    monkeypatch.chdir(inside)

    assert bench_finetune.shown_path(Path("models/base-cpu")) == "models/base-cpu"
    assert bench_finetune.shown_path(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
