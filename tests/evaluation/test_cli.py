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
    # The gate refuses a candidate that does not beat doing nothing: exit status 1, the report written.
    assert result.exit_code == 1, result.output
    assert "| no_change | pass@1 |" in result.output and "**REFUSED**" in result.output
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()


def test_repair_eval_needs_a_repair_benchmark_to_evaluate_one(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--benchmark", "repair"])
    assert result.exit_code == 1 and "materialize repair_benchmark" in result.output


def test_repair_eval_rejects_bad_specs(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--model", "gpt4"])
    assert result.exit_code == 2 and "unknown kind" in result.output
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--kind", "off by one"])
    assert result.exit_code == 2 and "unknown kinds" in result.output


def test_repair_eval_scores_an_external_fixer_and_prints_json(tmp_path):
    import json

    broken, fixed = "value = 3\nprint(valeu)\n", "value = 3\nprint(value)\n"
    item = Item("held-2", REPAIR_BENCHMARK, "pyright:reportUndefinedVariable", "repl-1", "main.py", broken,
                Diagnostic("pyright", "reportUndefinedVariable", "error", '"valeu" is not defined', 1, 6, 1, 11), fixed,
                reference_source="agreement", reference_by=("user_fix", "search"))
    items_to_frame([item]).write_parquet(tmp_path / "items.parquet")
    fixer = "command:sed -i 's/valeu/value/' {file} # line {line}"
    result = CliRunner().invoke(main, [
        "eval", "--store", str(tmp_path / "store"), "--model", fixer, "--model", "no_change", "--model", "search",
        "--benchmark", "repair", "--repair-items", str(tmp_path / "items.parquet"), "--json", "--out", str(tmp_path / "o"),
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert all(set(row) == {"model", "benchmark", "mode", "metric", "value", "n"} for row in rows)
    scores = {(r["model"], r["mode"], r["metric"]): (r["value"], r["n"]) for r in rows}
    for mode in ("pass@1", "verified@k"):
        assert scores[(fixer, mode, "ast_or_string")] == (1.0, 1)
        assert scores[(fixer, mode, "resolved")] == (1.0, 1)
        assert scores[("no_change", mode, "ast_or_string")] == (0.0, 1)
    # search co-wrote this item's reference: it is not scored on it.
    assert not any(r["model"] == "search" for r in rows)


def test_a_command_spec_needs_the_file_placeholder(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--model", "command:black -"])
    assert result.exit_code == 2 and "{file}" in result.output
