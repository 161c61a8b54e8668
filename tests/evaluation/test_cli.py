"""`repair eval` end to end on a production-style item given as a parquet file."""

from __future__ import annotations

from click.testing import CliRunner

from evals.items import REPAIR_BENCHMARK, Item, items_to_frame
from repair.cli import main
from repair.diagnostic import Diagnostic


def test_repair_eval_writes_the_report(tmp_path):
    item = Item("held-1", REPAIR_BENCHMARK, "ruff:F821", "repl-1", "main.py", "x = y\n",
                Diagnostic("ruff", "F821", "error", "Undefined name `y`", 0, 4, 0, 5), "x = 1\n")
    items_to_frame([item]).write_parquet(tmp_path / "items.parquet")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "eval", "--store", str(tmp_path / "store"), "--model", "no_change", "--benchmark", "repair",
        "--repair-items", str(tmp_path / "items.parquet"), "--gate", "no_change", "no_change", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "| no_change |" in result.output and "**PASS**" in result.output
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()


def test_repair_eval_needs_a_repair_benchmark_to_evaluate_one(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--benchmark", "repair"])
    assert result.exit_code == 1 and "materialize repair_benchmark" in result.output


def test_repair_eval_rejects_bad_specs(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--model", "gpt4"])
    assert result.exit_code == 2 and "unknown kind" in result.output
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--kind", "off by one"])
    assert result.exit_code == 2 and "unknown kinds" in result.output
