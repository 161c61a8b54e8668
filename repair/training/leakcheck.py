"""Disjointness of a pretraining corpus from everything the product evaluates or simulates.

The base model is pretrained on third-party code; the simulator (and so the demo's data) and both
benchmarks draw on the standard library and the hand-written problems. Overlap is checked, not
assumed: every reference text (each benchmark source of `evals.sources`, each file the simulator
draws on) is indexed two ways, and a corpus file or example is a leak when it shares

- a function whose normalised tokens hash the same (`exact_function`), or
- a window of `WINDOW_LINES` consecutive normalised code lines (`exact_window`).

Near-duplicates (MinHash, Jaccard >= 0.7 over 5-grams of tokens) of benchmark windows are the
dataset build's own step (`repair.dataset.deduplicate`), which the pretraining corpus goes through
like user data. MinHash against every simulator function is not run: signing the ~7.6K functions of
the standard library and every corpus function costs minutes of CPU per build here, against
seconds for the exact hashes.

Normalised: comments and blank lines dropped, code cut into identifier / number / punctuation tokens
and joined by single spaces (so re-indentation or re-spacing does not hide a copy). Functions and
windows under `MIN_TOKENS` tokens are too generic (`return self._name`) to mean a copy and are skipped.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WINDOW_LINES = 6
MIN_TOKENS = 40
_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[^\sA-Za-z0-9_]")
_COMMENT = re.compile(r"#.*$")


class LeakError(RuntimeError):
    """The pretraining corpus overlaps a benchmark source or a simulator source."""


def normalised_lines(code: str) -> list[str]:
    lines = []
    for line in code.split("\n"):
        tokens = _CODE_TOKEN.findall(_COMMENT.sub("", line))
        if tokens:
            lines.append(" ".join(tokens))
    return lines


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=12).digest()


def window_hashes(code: str) -> set[bytes]:
    lines = normalised_lines(code)
    out = set()
    for start in range(max(1, len(lines) - WINDOW_LINES + 1)):
        window = lines[start : start + WINDOW_LINES]
        if len(window) == WINDOW_LINES and sum(line.count(" ") + 1 for line in window) >= MIN_TOKENS:
            out.add(_digest("\n".join(window)))
    return out


def functions(code: str) -> list[str]:
    """The normalised text of every function (methods and nested ones too) long enough to count."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    lines = code.split("\n")
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
            text = " ".join(normalised_lines("\n".join(lines[node.lineno - 1 : node.end_lineno])))
            if text.count(" ") + 1 >= MIN_TOKENS:
                out.append(text)
    return out


@dataclass
class LeakIndex:
    """The references, indexed; `check(name, code)` lists what a corpus text shares with them."""

    windows: dict[bytes, str] = field(default_factory=dict)
    function_hashes: dict[bytes, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, references: Mapping[str, str]) -> LeakIndex:
        index = cls()
        for name, code in references.items():
            for digest in window_hashes(code):
                index.windows.setdefault(digest, name)
            for function in functions(code):
                index.function_hashes.setdefault(_digest(function), name)
        index.counts = {"functions": len(index.function_hashes), "windows": len(index.windows)}
        return index

    def check(self, code: str) -> list[dict[str, str]]:
        """What `code` shares with the references: [{kind, reference}], empty when disjoint."""
        hits = []
        for function in functions(code):
            reference = self.function_hashes.get(_digest(function))
            if reference is not None:
                hits.append({"kind": "exact_function", "reference": reference})
        for digest in window_hashes(code):
            reference = self.windows.get(digest)
            if reference is not None:
                hits.append({"kind": "exact_window", "reference": reference})
        return hits


def reference_sources(simulator_root=None) -> dict[str, str]:
    """`{name: text}`: every benchmark source (`evals.sources.named_benchmark_sources`) and every
    file the simulator draws on (`repair.corpus.iter_source_files`, the standard library by default)."""
    from evals.sources import named_benchmark_sources
    from repair.corpus import iter_source_files, stdlib_dir

    references = {f"benchmark:{name}": text for name, text in named_benchmark_sources().items()}
    root = simulator_root or stdlib_dir()
    for path in iter_source_files(root):
        try:
            references[f"simulator:{path.relative_to(root).as_posix()}"] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
    return references


def check_examples(index: LeakIndex, prompts_code: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Leaks of examples (`(id, code the prompt shows)`): the final check on what is trained on."""
    leaks = []
    for item, code in prompts_code:
        for hit in index.check(code):
            leaks.append({"item": item, **hit})
    return leaks
