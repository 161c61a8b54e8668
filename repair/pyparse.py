"""`ast.parse` that threads take turns at.

CPython 3.11 keeps the recursion depth of its AST-to-Python conversion in interpreter-wide state;
when a thread switch lands inside one conversion and another thread parses meanwhile, the first
raises `SystemError: AST constructor recursion depth mismatch` (python/cpython gh-106905, fixed in
3.12 only). The library's functions run in callers' threads (the language server's lint thread,
thread pools around verification), and until now each caller had to keep its parsing on one thread
(`evals.function_benchmark` did); every parse in `repair/` and `evals/` goes through `parse`, which
holds one lock around it, so none has to.
Compiling to bytecode (`compile(..., "exec")`) does not convert the tree and needs no lock.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

_LOCK = threading.Lock()


@overload
def parse(source: str, filename: str = ..., mode: Literal["exec"] = ...) -> ast.Module: ...
@overload
def parse(source: str, filename: str = ..., *, mode: Literal["eval"]) -> ast.Expression: ...
def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse(source, filename, mode)`, one thread at a time."""
    with _LOCK:
        return ast.parse(source, filename, mode)
