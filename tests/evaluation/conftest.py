"""A small executable benchmark built once per test session (real injection, linter and sandbox)."""

from __future__ import annotations

import pytest

from evals.function_benchmark import build_function_benchmark
from evals.sources import problem_programs

PROGRAMS = ("problem:two_sum", "problem:valid_parentheses", "problem:word_pattern")


@pytest.fixture(scope="session")
def small_programs():
    return [p for p in problem_programs() if p.name in PROGRAMS]


@pytest.fixture(scope="session")
def small_benchmark(small_programs):
    return build_function_benchmark(small_programs, functions_per_program=1, tries_per_kind=2, seed=0)
