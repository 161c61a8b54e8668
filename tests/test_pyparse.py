"""`repair.pyparse.parse`: threads take turns at `ast.parse` (CPython 3.11's gh-106905)."""

from __future__ import annotations

import ast
import gc
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from repair import pyparse

ROOT = Path(__file__).resolve().parents[1]
# Nested expressions in many functions: each parse converts a deep tree, often switching threads.
SOURCE = "\n".join(
    f"def f{i}(x):\n    return [(a, {{b: c}}) for a in x if a for b, c in a.items()]" for i in range(200)
)


def _yield_to_other_threads(phase, info):
    time.sleep(0)


@pytest.fixture
def thread_switches_inside_parses():
    """Threads switch as often as the interpreter allows, and at every garbage collection, which the
    AST conversion's allocations trigger: a parse is interrupted by another thread's in seconds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    gc.callbacks.append(_yield_to_other_threads)
    yield
    gc.callbacks.remove(_yield_to_other_threads)
    sys.setswitchinterval(interval)


def _errors_of_two_threads_parsing(parse: Callable[[str], ast.AST], seconds: float) -> list[Exception]:
    errors: list[Exception] = []
    stop = time.monotonic() + seconds

    def parse_until_stopped():
        while time.monotonic() < stop and not errors:
            try:
                parse(SOURCE)
            except SystemError as error:
                errors.append(error)

    threads = [threading.Thread(target=parse_until_stopped) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="gh-106905 is fixed in CPython 3.12")
def test_plain_ast_parse_from_two_threads_fails_on_this_python(thread_switches_inside_parses):
    # The control: without the lock the fixture reproduces the CI failure, so the next test can fail.
    errors = _errors_of_two_threads_parsing(ast.parse, seconds=20)
    assert errors and "AST constructor recursion depth mismatch" in str(errors[0])


def test_parse_from_two_threads_never_fails(thread_switches_inside_parses):
    assert _errors_of_two_threads_parsing(pyparse.parse, seconds=3) == []


def test_parse_keeps_the_mode_and_the_file_name():
    assert isinstance(pyparse.parse("x = 1"), ast.Module)
    assert isinstance(pyparse.parse("f(x)", mode="eval"), ast.Expression)
    with pytest.raises(SyntaxError) as raised:
        pyparse.parse("def f(:\n", "broken.py")
    assert raised.value.filename == "broken.py"


def test_repair_and_evals_parse_only_through_pyparse():
    direct = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("repair", "evals")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "pyparse.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bast\.(parse|literal_eval)\((?!pyparse)", line)
    ]
    assert direct == []
