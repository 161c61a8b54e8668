"""The demo's last step re-lints the served answer with the verifier's rule: a diff that applies is
reported as a fix only when the error is gone and no new error appeared."""

from __future__ import annotations

import pytest

from repair.commands.demo import BROKEN_EXAMPLE, _verification
from repair.lint import lint_project


@pytest.fixture(scope="module")
def broken():
    (linted,) = lint_project({"broken.py": BROKEN_EXAMPLE}, ["broken.py"])
    target = next(d for d in linted.diagnostics if d.severity == "error")
    return target, linted.diagnostics


def test_an_answer_that_leaves_the_error_fails_verification(broken):
    # The demo model's answer of 2026-12-02: it applies (status `fixed`) but rewrites the wrong name.
    answer = BROKEN_EXAMPLE.replace("math.pi * raduis", "name.pi * raduis")
    assert _verification(answer, *broken).startswith("failed: diagnostic_remains")


def test_the_right_fix_passes_verification(broken):
    assert _verification(BROKEN_EXAMPLE.replace("raduis", "radius"), *broken).startswith("passed")


def test_no_applicable_diff_is_not_verified(broken):
    assert _verification("", *broken).startswith("nothing to verify")
