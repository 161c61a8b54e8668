"""`repair eval` end to end on one problem and two bug kinds."""

from __future__ import annotations

from click.testing import CliRunner

from repair.cli import main


def test_repair_eval_writes_the_report(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "eval", "--store", str(tmp_path / "store"), "--model", "no_change", "--no-stdlib",
        "--program", "problem:two_sum", "--kind", "missing colons", "--kind", "undefined objects",
        "--functions-per-program", "1", "--gate", "no_change", "no_change", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "| no_change |" in result.output and "**PASS**" in result.output
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()
    assert "no repair benchmark" in result.output


def test_repair_eval_rejects_bad_specs(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--model", "gpt4"])
    assert result.exit_code == 2 and "unknown kind" in result.output
    result = CliRunner().invoke(main, ["eval", "--store", str(tmp_path), "--kind", "off by one"])
    assert result.exit_code == 2 and "unknown kinds" in result.output
