"""The demo's last step runs the served answer through verification: a diff that applies is reported
as a fix only when the error is gone and no new error appeared."""

from __future__ import annotations

import pytest

from repair.commands.demo import BROKEN_EXAMPLE, _verification
from repair.lint import lint_project


@pytest.fixture(scope="module")
def target():
    (linted,) = lint_project({"broken.py": BROKEN_EXAMPLE}, ["broken.py"])
    return next(d for d in linted.diagnostics if d.severity == "error")


def _answer(new_line: str) -> str:
    return f"<diff>\n-5     return math.pi * raduis ** 2\n+5     {new_line}\n</diff>"


def test_an_answer_that_leaves_the_error_fails_verification(target):
    # The demo model's answer of 2026-12-02: it applies (status `fixed`) but rewrites the wrong name.
    verdict = _verification(BROKEN_EXAMPLE, target, _answer("return name.pi * raduis ** 2"))
    assert verdict.startswith("failed: diagnostic_remains")


def test_the_right_fix_passes_verification(target):
    assert _verification(BROKEN_EXAMPLE, target, _answer("return math.pi * radius ** 2")).startswith("passed")


def test_no_applicable_diff_is_not_verified(target):
    assert _verification(BROKEN_EXAMPLE, target, "no diff here").startswith("failed: no_diff_block")


def test_the_demo_says_plainly_when_the_model_answers_no_fix(target):
    from repair.commands.demo import _answer_report
    from repair.model import NO_FIX

    report = _answer_report(BROKEN_EXAMPLE, target, NO_FIX, "no_fix")
    assert "no fix" in report and "rather than a wrong one" in report
    fixed = _answer_report(BROKEN_EXAMPLE, target, _answer("return math.pi * radius ** 2"), "fixed")
    assert "verification: passed" in fixed
