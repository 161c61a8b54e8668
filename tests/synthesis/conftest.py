"""One warm linting service for the whole synthesis test session (real ruff + basedpyright)."""

import pytest

from repair.lint import WarmLinter
from repair.verify import Verifier


@pytest.fixture(scope="session")
def warm_linter():
    with WarmLinter() as linter:
        yield linter


@pytest.fixture
def verifier(warm_linter):
    return Verifier(warm_linter)


def error_of(linter, code, file_name="main.py", context_files=None, rule=None):
    """The first error-severity diagnostic the linter reports (optionally of one rule)."""
    found = [
        d
        for d in linter.check({**(context_files or {}), file_name: code}, file_name)
        if d.severity == "error" and (rule is None or d.code == rule)
    ]
    assert found, f"the linter reports no error in {code!r}"
    return found[0]
