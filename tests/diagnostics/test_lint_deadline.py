"""A file that hangs a linter is found in bounded time, and a batch never runs past its deadline
(issue 18). The linter here is a stand-in that 'hangs' on one file (a real hang would cost the real
timeouts); time is a simulated clock advanced by each call's timeout, so the bound is exact."""

from __future__ import annotations

import pytest

from repair.lint import batch
from repair.lint.batch import LintBudget, lint_batch
from repair.lint.tools import ToolFailure

HANGS = "while True: pass  # hangs the linter\n"


class SimulatedLinter:
    def __init__(self):
        self.now = 0.0
        self.calls: list[tuple[int, float]] = []

    def clock(self) -> float:
        return self.now

    def run(self, root, states, config, timeout_s):
        self.calls.append((len(states), timeout_s))
        if any(state.text == HANGS for state in states):
            self.now += timeout_s  # the process is killed at its timeout
            raise ToolFailure(f"pyright timed out after {timeout_s:.0f} s")
        self.now += 1.0
        return {state.index: [] for state in states}


@pytest.fixture
def linter(monkeypatch):
    fake = SimulatedLinter()
    monkeypatch.setitem(batch._RUNNERS, "pyright", fake.run)
    return fake


def _projects(n: int, hang_at: int | None):
    return [{"main.py": HANGS if i == hang_at else f"x_{i} = {i}\n"} for i in range(n)]


def test_a_hanging_file_is_found_in_bounded_time(linter):
    budget = LintBudget(clock=linter.clock)  # 120 s per call at most, 30 s + 0.5 s per state
    results = lint_batch(_projects(200, hang_at=137), ["main.py"] * 200, tools=("pyright",), budget=budget)
    assert results[137].error and "timed out" in results[137].error
    assert all(r.ok for i, r in enumerate(results) if i != 137)
    # Halving with full 120 s timeouts took 9 x 120 s = 1080 s on the hanging path; scaled timeouts
    # take under half that (436 s: 120 + 80 + 55 + 42.5 + ... down to the 30.5 s of one state).
    assert linter.now < 0.5 * 9 * 120, linter.calls
    assert linter.now < budget.deadline_s


def test_the_deadline_bounds_the_batch_and_loses_nothing(linter):
    budget = LintBudget(clock=linter.clock, deadline_s=150)
    results = lint_batch(_projects(200, hang_at=3), ["main.py"] * 200, tools=("pyright",), budget=budget)
    assert linter.now <= 150 + 1
    not_linted = [r for r in results if r.error and "deadline" in r.error]
    assert not_linted and all(r.ok or r.error for r in results) and len(results) == 200
