"""`python -m benchmarks NAME...`: options meant for one benchmark must not be dropped silently."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmarks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def test_a_benchmark_option_given_to_the_runner_is_refused_not_ignored():
    done = run_benchmarks("bench_serving", "--model-dir", "/some/model")

    assert done.returncode != 0
    assert "not a benchmark: --model-dir /some/model" in done.stderr
    assert "python -m benchmarks.<name>" in done.stderr
    assert "== bench_serving" not in done.stdout  # nothing ran on its defaults


def test_a_misspelt_benchmark_name_is_refused():
    done = run_benchmarks("bench_servin")

    assert done.returncode != 0
    assert "not a benchmark: bench_servin" in done.stderr


def test_a_benchmark_section_names_the_model_it_was_run_on():
    from benchmarks.bench_serving import command_line

    assert command_line(["--model-dir", "/store/models/v 1"]) == (
        "uv run python -m benchmarks.bench_serving --model-dir '/store/models/v 1'"
    )
    assert command_line([]) == "uv run python -m benchmarks bench_serving"


@pytest.mark.parametrize("benchmark", ["bench_base", "bench_finetune"])
def test_a_benchmark_refuses_to_score_a_split_that_is_trained_on(benchmark, tmp_path, capsys):
    main = importlib.import_module(f"benchmarks.{benchmark}").main

    with pytest.raises(SystemExit):
        main(["--held-out", "test,train", "--work", str(tmp_path / "work")])

    assert "not a held-out split: train" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()  # refused before anything was built
