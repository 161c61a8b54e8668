"""DebugBench-style injection: each kind changes what it says, and the benchmark keeps only bugs
the linter flags and the tests reject."""

from __future__ import annotations

import pytest

from evals.function_benchmark import default_linter, new_diagnostic
from evals.inject import KINDS, Bug, candidate_bugs, compiles, function_spans
from evals.sandbox import run_python
from evals.sources import PROBLEMS_DIR, split_problem

CODE = '''def count_words(text: str, stop: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.split(" "):
        if word == "" or word in stop:
            continue
        counts[word] = counts.get(word, 0) + 1
    found = True
    return counts if found else {}
'''

EXPECTED_LINE_CHANGES = {
    "misused == or =": ('if word = ""', "counts[word] == counts.get", "found == True"),
    "missing colons": ('for word in text.split(" ")\n', 'if word == "" or word in stop\n'),
    "unclosed parentheses": ('text.split(" ":', 'counts.get(word, 0 + 1'),
    "illegal indentation": ("      found = True",),
    "unclosed string": ('text.split(" )',),
    "faulty indexing": ('counts["word"] =',),
    "undefined objects": ("stops", "coun", "foun"),
    "undefined methods": ("splitBy(", "fetch("),
    "illegal keywords": ("&&", "|| word", "= true", "! word"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_changes_the_function_as_described(kind):
    bugs = candidate_bugs("sample", CODE, kind, "count_words", seed=1)
    assert bugs, kind
    assert all(bug.kind == kind and bug.buggy_code != CODE for bug in bugs)
    changed = "\n".join(bug.buggy_code for bug in bugs)
    assert any(fragment in changed for fragment in EXPECTED_LINE_CHANGES[kind]), (kind, [b.description for b in bugs])


def test_injection_is_seeded_and_stays_in_the_function():
    code = CODE + "\n\ndef other(value: int) -> bool:\n    return value == 1\n"
    first = candidate_bugs("sample", code, "missing colons", "count_words", seed=3)
    assert first == candidate_bugs("sample", code, "missing colons", "count_words", seed=3)
    span = function_spans(code)["count_words"]
    assert all(span[0] <= bug.line <= span[1] for bug in first)
    with pytest.raises(KeyError, match="unknown bug kind"):
        candidate_bugs("sample", code, "off by one", "count_words")


def test_new_diagnostic_ignores_what_the_correct_code_already_had():
    from repair.diagnostic import Diagnostic

    old = Diagnostic("ruff", "F401", "warning", "`os` imported but unused", 0, 0, 0, 9)
    new = Diagnostic("pyright", "reportUndefinedVariable", "error", '"coun" is not defined', 5, 8, 5, 12)
    bug = Bug("p", "undefined objects", "f", 6, "", "")
    assert new_diagnostic(bug, [old], [old, new]) == new
    assert new_diagnostic(bug, [old], [old]) is None


def test_benchmark_items_are_flagged_and_break_the_tests(small_benchmark, small_programs):
    items, report = small_benchmark
    assert len(items) >= 8
    assert report.candidates == len(items) + sum(report.dropped.values())
    assert len({item.group for item in items}) >= 6
    linted = default_linter([{item.file: item.content} for item in items], [item.file for item in items])
    for item, diagnostics in zip(items, linted, strict=True):
        assert item.diagnostic in diagnostics, item.group
        files = {**item.support_files, item.file: item.content}
        assert not run_python(files, item.argv).ok, item.group
    # The references pass, so a right fix scores.
    for item in items[:3]:
        assert run_python({**item.support_files, item.file: item.fixed_content}, item.argv).ok


def test_bugs_that_keep_tests_passing_are_dropped(small_programs):
    from evals.function_benchmark import build_function_benchmark

    program = small_programs[0]
    # An undefined name inside an `if False:` branch is flagged but never runs.
    solution, _ = split_problem((PROBLEMS_DIR / "two_sum.py").read_text(), "two_sum")
    dead = solution.replace("    return []\n", "    if False:\n        print(undefined_thing)\n    return []\n")
    assert compiles(dead)
    bug = Bug(program.name, "undefined objects", "two_sum", 0, dead, "dead branch")
    items, report = build_function_benchmark([program], loaded_bugs=[bug], kinds=(), functions_per_program=0)
    assert items == [] and report.dropped == {"tests still pass": 1}
