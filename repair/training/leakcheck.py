"""Disjointness of a pretraining corpus from everything the product evaluates or simulates.

The base model is pretrained on third-party code; the simulator (and so the demo's data) and both
benchmarks draw on the standard library and the hand-written problems. Overlap is checked, not
assumed: every reference text (each benchmark source of `evals.sources`, each file the simulator
draws on) is indexed two ways, and a corpus file or example is a leak when it shares

- a function whose normalised tokens hash the same (`exact_function`), or
- a window of `repair.leaks.WINDOW_LINES` consecutive normalised code lines (`exact_window`).

Near-duplicates (MinHash, Jaccard >= 0.7 over 5-grams of tokens) of benchmark windows are the
dataset build's own step (`repair.dataset.deduplicate`), which the pretraining corpus goes through
like user data. MinHash against every simulator function is not run: signing the ~7.6K functions of
the standard library and every corpus function costs minutes of CPU per build here, against
seconds for the exact hashes.

Both are `repair.leaks`'s normalised-token hashes (the dataset's own leak check hashes functions the
same way), with a higher floor: functions and windows under `MIN_TOKENS` tokens are too generic
(`return self._name`) to mean a copy and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from repair.leaks import WINDOW_LINES, function_hashes, window_hashes

MIN_TOKENS = 40


class LeakError(RuntimeError):
    """The pretraining corpus overlaps a benchmark source or a simulator source."""


@dataclass
class LeakIndex:
    """The references, indexed; `check(code)` lists what a corpus text shares with them."""

    windows: dict[str, str] = field(default_factory=dict)
    function_hashes: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, references: Mapping[str, str]) -> LeakIndex:
        index = cls()
        for name, code in references.items():
            for digest in window_hashes(code, WINDOW_LINES, MIN_TOKENS):
                index.windows.setdefault(digest, name)
            for digest in function_hashes(code, min_tokens=MIN_TOKENS):
                index.function_hashes.setdefault(digest, name)
        index.counts = {"functions": len(index.function_hashes), "windows": len(index.windows)}
        return index

    def check(self, code: str) -> list[dict[str, str]]:
        """What `code` shares with the references: [{kind, reference}], empty when disjoint."""
        hits = []
        for digest in function_hashes(code, min_tokens=MIN_TOKENS):
            reference = self.function_hashes.get(digest)
            if reference is not None:
                hits.append({"kind": "exact_function", "reference": reference})
        for digest in window_hashes(code, WINDOW_LINES, MIN_TOKENS):
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
