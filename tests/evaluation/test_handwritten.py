"""Bugs no generator of ours wrote: the hand-written broken programs (`evals/problems/handwritten`)
are many, cover the diagnostic categories, are not what the injector makes, and become benchmark
items reported under their own bug origin."""

from __future__ import annotations

import polars as pl

from evals.function_benchmark import build_function_benchmark
from evals.harness import NoChange, breakdown, evaluate
from evals.inject import KINDS, candidate_bugs, function_spans
from evals.loaders import load_handwritten
from evals.sources import problem_programs

CATEGORIES = {"syntax", "undefined name", "undefined attribute", "wrong call"}


def test_at_least_fifty_hand_written_bugs_across_the_categories():
    loaded = load_handwritten()
    assert not loaded.quarantined
    assert len(loaded.bugs) >= 50
    by_category = {bug.kind.removeprefix("handwritten: ") for bug in loaded.bugs}
    assert by_category == CATEGORIES
    programs = {p.name: p for p in problem_programs()}
    for bug in loaded.bugs:
        assert bug.origin == "handwritten" and bug.buggy_code != programs[bug.program].code, bug.function


def test_at_least_fifty_hand_written_bugs_are_ones_the_injector_cannot_make():
    """A person's missing colon can be the injector's missing colon; at least 50 are not."""
    loaded = load_handwritten()
    programs = {p.name: p for p in problem_programs()}
    injectable = 0
    for name in {bug.program for bug in loaded.bugs}:
        code = programs[name].code
        injected = {b.buggy_code for function in function_spans(code) for kind in KINDS
                    for b in candidate_bugs(name, code, kind, function, 0)}
        injectable += sum(b.buggy_code in injected for b in loaded.bugs if b.program == name)
    assert len(loaded.bugs) - injectable >= 50, injectable


def test_hand_written_bugs_are_items_reported_by_origin():
    loaded = load_handwritten()
    names = {"problem:two_sum", "problem:fizz_buzz"}
    bugs = [bug for bug in loaded.bugs if bug.program in names]
    items, report = build_function_benchmark([p for p in problem_programs() if p.name in names], loaded_bugs=bugs,
                                             kinds=())
    assert len(items) == len(bugs) == 4 and not report.dropped
    assert {item.bug_origin for item in items} == {"handwritten"}
    results, _ = evaluate([NoChange()], items)
    by_origin = breakdown(results, "bug_origin")
    assert set(by_origin["bug_origin"]) == {"handwritten"} and by_origin["value"].max() == 0.0
    assert by_origin.filter(pl.col("mode") == "pass@1")["n"].to_list() == [4]
