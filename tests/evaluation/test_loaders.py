"""DebugBench and HumanEvalPack loaders on small fixtures written in their formats, and the
benchmark texts the dataset's dedup reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import evals
from evals.loaders import load_benchmark_file, load_debugbench, parse_example
from evals.sandbox import run_python
from evals.sources import problem_programs, stdlib_programs
from repair.corpus import EVAL_RESERVED_MODULES

FIXTURES = Path(__file__).parent / "fixtures"


def test_debugbench_programs_bugs_and_quarantine():
    loaded = load_benchmark_file(FIXTURES / "debugbench_sample.json")
    assert [p.name for p in loaded.programs] == ["debugbench:two-sum", "debugbench:is-subsequence"]
    assert [(b.program, b.kind) for b in loaded.bugs] == [
        ("debugbench:two-sum", "missing colons"),
        ("debugbench:is-subsequence", "undefined objects"),
    ]
    reasons = {q["record"]: q["reason"] for q in loaded.quarantined}
    assert "'ListNode(1)' is not a literal" in reasons["debugbench:reverse-linked-list"]
    assert "not Python" in reasons["debugbench:two-sum"]
    # Counts reconcile: every record is a program or quarantined.
    records = json.loads((FIXTURES / "debugbench_sample.json").read_text())
    assert len(loaded.programs) + len(loaded.quarantined) == len(records)


def test_debugbench_tests_pass_on_the_solution_and_fail_on_the_bug():
    loaded = load_debugbench(FIXTURES / "debugbench_sample.json")
    for program, bug in zip(loaded.programs, loaded.bugs, strict=True):
        assert run_python(program.files(), program.argv).ok
        assert not run_python(program.files(bug.buggy_code), program.argv).ok


def test_debugbench_example_parsing():
    assert parse_example('Input: s = "abc", k = [1,null]\nOutput: true') == ({"s": "abc", "k": [1, None]}, True)
    with pytest.raises(ValueError, match="Input"):
        parse_example("nums = [1]")


def test_humanevalpack_programs_run_their_check():
    loaded = load_benchmark_file(FIXTURES / "humanevalpack_sample.jsonl")
    assert [p.name for p in loaded.programs] == ["humanevalpack:Python/0", "humanevalpack:Python/2"]
    assert loaded.quarantined == [{"record": "humanevalpack:Python/99", "reason": "solution does not parse: invalid syntax"}]
    assert {b.kind for b in loaded.bugs} == {"humanevalpack: missing logic", "humanevalpack: excess logic"}
    program, bug = loaded.programs[1], loaded.bugs[1]
    assert run_python(program.files(), program.argv).ok
    assert not run_python(program.files(bug.buggy_code), program.argv).ok


def test_bad_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "Python/0"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_benchmark_file(bad)


def test_project_problems_and_stdlib_suites_pass_unmodified():
    problems = problem_programs()
    assert len(problems) >= 30
    for program in problems[:3] + stdlib_programs(("textwrap", "html")):
        result = run_python(program.files(), program.argv)
        assert result.ok, (program.name, result.stderr[-500:])


def test_stdlib_copy_shadows_the_installed_module():
    program = stdlib_programs(("fnmatch",))[0]
    broken = program.code + "\nraise ImportError('sandbox copy imported')\n"
    result = run_python(program.files(broken), program.argv)
    assert not result.ok and "sandbox copy imported" in result.stderr


def test_benchmark_sources_cover_every_source():
    texts = evals.named_benchmark_sources([FIXTURES / "debugbench_sample.json"])
    for module in EVAL_RESERVED_MODULES:
        assert any(key.startswith(f"stdlib:{module}/") for key in texts)
        assert f"stdlib-test:{module}" in texts
    assert "def two_sum(" in texts["problem:two_sum"]
    assert "class Solution" in texts["debugbench:two-sum"]
    assert "debugbench:two-sum#buggy" in texts
