"""Issue 20's done-when: 30 random training examples of a simulated day hold no typing-in-progress
"fix" and no rename to an unrelated name. The day runs through the library functions the assets
call (`benchmarks/bench_targets.py`: simulate, ingest, reproduce with the settle filter, search and
user-fix teachers, verification, the dataset's one example per diagnostic)."""

from __future__ import annotations

import random
import re

import pytest

from repair.ground_truth import UNEXPLAINED
from repair.linediff import parse_diff
from repair.teachers.search import IDENTIFIER, typo_budget, typo_distance

SAMPLE = 30


def renamed(diff_text: str) -> tuple[str, str] | None:
    """(old, new) when the diff replaces one line by the same line with one name changed."""
    ops = parse_diff(diff_text).ops
    if len(ops) != 2 or {op.sign for op in ops} != {"-", "+"} or ops[0].line != ops[1].line:
        return None
    old, new = (re.split(r"(\W+)", op.text) for op in ops)
    changed = [(a, b) for a, b in zip(old, new) if a != b]
    if len(old) != len(new) or len(changed) != 1 or not all(IDENTIFIER.fullmatch(x) for x in changed[0]):
        return None
    return changed[0]


def test_renamed_reads_a_one_name_change():
    assert renamed("<diff>\n-3 print(valeu)\n+3 print(value)\n</diff>") == ("valeu", "value")
    assert renamed("<diff>\n-3 print(x)\n+3 print(x, y)\n</diff>") is None


@pytest.mark.slow
def test_thirty_random_training_examples_follow_the_rules(tmp_path):
    from benchmarks.bench_targets import measure
    from repair.object_store import LocalObjectStore

    run = measure(LocalObjectStore(tmp_path), sessions=14, seed=2, day="2026-05-04", say=lambda _: None)
    examples = run.examples
    assert len(examples) >= 10, "too few training examples to read"
    sample = random.Random(0).sample(examples, min(SAMPLE, len(examples)))
    problems = []
    for example in sample:
        state = run.states[example["diagnostic_id"]]
        response = example["response"]
        # Typing in progress: a diagnostic the user never saw settle, or one the simulator's ground
        # truth explains neither as a mistake nor as an error of the code as written.
        if state["settled_by"] is None or run.index.classify(state) == UNEXPLAINED:
            problems.append(("typing in progress", state["message"], response))
        # A rename that is no plausible typo of the name is only right if it is what was meant.
        change = renamed(response)
        if change and typo_distance(*change) > typo_budget(change[0]) and example["agrees_with_truth"] is not True:
            problems.append(("unrelated rename", change, response))
    assert not problems, problems
