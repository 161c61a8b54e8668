"""Issue 20's done-when: 30 random training examples of a simulated day hold no typing-in-progress
"fix", no rename to an unrelated name, and no line commented out or deleted in place of a fix. The day runs through the library functions the assets
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


# Rules whose fix is to remove code (an unused import, a redefinition, an unused variable).
REMOVING_RULES = ("ruff:F401", "ruff:F811", "ruff:F841")


def hides_or_goes_on(diff_text: str, rule: str, teacher: str) -> str | None:
    """What a reader objects to in a target that is no correction: the erroneous line commented out
    or deleted, or (a user's change) code the user went on to write: more lines added than removed,
    or a line completed with further words."""
    ops = parse_diff(diff_text).ops
    removed = [op.text.strip() for op in ops if op.sign == "-"]
    added = [op.text.strip() for op in ops if op.sign == "+"]
    if any(text.startswith("#") and text.lstrip("# ") in removed for text in added):
        return "comments the line out"
    if removed and not added and rule not in REMOVING_RULES:
        return "deletes the erroneous code"
    if teacher == "user_fix" and len([t for t in added if not t.startswith(("import ", "from "))]) > len(removed):
        return "adds code the user went on to write"
    for old, new in zip(removed, added):
        if teacher == "user_fix" and old and new.startswith(old) and re.search(r"\W\w", new[len(old) - 1 :]):
            return "completes a half-typed line"
    return None


def test_hides_or_goes_on_reads_each_objection():
    assert hides_or_goes_on("<diff>\n-2 print(x)\n+2 # print(x)\n</diff>", "pyright:reportUndefinedVariable", "search")
    assert hides_or_goes_on("<diff>\n-2 print(x)\n</diff>", "pyright:reportUndefinedVariable", "user_fix")
    assert hides_or_goes_on("<diff>\n-1 import os\n</diff>", "ruff:F401", "user_fix") is None
    assert hides_or_goes_on("<diff>\n+3     y = 1\n</diff>", "pyright:syntax", "user_fix")
    assert hides_or_goes_on('<diff>\n-1 s = ("abc\n+1 s = ("abc is x")\n</diff>', "pyright:syntax", "user_fix")
    assert hides_or_goes_on("<diff>\n-1 if x\n+1 if x:\n</diff>", "pyright:syntax", "user_fix") is None
    assert hides_or_goes_on("<diff>\n-1 print(sel)\n+1 print(self)\n</diff>", "ruff:F821", "user_fix") is None
    assert hides_or_goes_on("<diff>\n+1 import re\n</diff>", "ruff:F821", "search") is None
    assert hides_or_goes_on("<diff>\n+1 from util import helper\n</diff>", "ruff:F821", "user_fix") is None


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
        # A line commented out or deleted, or the code the user typed next, is no fix.
        if objection := hides_or_goes_on(response, example["rule"], example["teacher"]):
            problems.append((objection, state["message"], response))
    assert not problems, problems
