"""Linting service throughput: file states linted per second by (a) one ruff + one basedpyright
CLI process per file (the naive way), (b) batched CLI (one tree, one process of each per batch),
(c) the warm language server (`WarmLinter`), side by side on the same ~100-line files; and the
re-check latency of one edited file in warm mode (p50/p95), the verification workload.

Workload: real standard-library modules of 50-170 lines (the simulator's corpus), each with one
undefined name appended so that every state has a real error.

Run: `uv run python -m benchmarks bench_lint` (env: BENCH_LINT_STATES, default 200;
BENCH_LINT_NAIVE, default 20 states for (a); BENCH_LINT_EDITS, default 200 re-checks).
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import statistics
import time

from repair.corpus import iter_source_files
from repair.lint import WarmLinter, lint_batch

MIN_LINES, MAX_LINES = 50, 170
BATCH_SIZE = 100


def make_states(count: int) -> list[tuple[str, str]]:
    """(file name, text) of `count` ~100-line stdlib modules, each with an undefined name (the
    modules are reused, with another name, when there are fewer than `count`)."""
    modules = []
    for path in iter_source_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if MIN_LINES <= text.count("\n") <= MAX_LINES:
            modules.append((path.name, text))
    return [
        (name, text + f"\nprint(undefined_name_{i})\n")
        for i, (name, text) in zip(range(count), itertools.cycle(modules))
    ]


def naive(states) -> float:
    started = time.perf_counter()
    for name, text in states:
        (result,) = lint_batch([{name: text}], [name])
        assert result.error is None, result.error
    return len(states) / (time.perf_counter() - started)


def batched(states) -> float:
    started = time.perf_counter()
    for start in range(0, len(states), BATCH_SIZE):
        chunk = states[start:start + BATCH_SIZE]
        results = lint_batch([{name: text} for name, text in chunk], [name for name, _ in chunk])
        assert all(r.error is None for r in results)
    return len(states) / (time.perf_counter() - started)


def warm(linter: WarmLinter, states) -> float:
    started = time.perf_counter()
    for name, text in states:
        linter.check({name: text}, name)
    return len(states) / (time.perf_counter() - started)


def recheck_latency(linter: WarmLinter, state: tuple[str, str], edits: int) -> tuple[float, float]:
    """Milliseconds per re-check of one file under a stream of single-line edits (as candidate
    repairs arrive in verification)."""
    name, text = state
    lines = text.split("\n")
    rng = random.Random(3)
    linter.check({name: text}, name)
    timings = []
    for i in range(edits):
        edited = list(lines)
        at = rng.randrange(len(edited))
        edited[at] = edited[at] + f"  # candidate {i}"
        started = time.perf_counter()
        linter.check({name: "\n".join(edited)}, name)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def main() -> None:
    count = int(os.environ.get("BENCH_LINT_STATES", "200"))
    naive_count = int(os.environ.get("BENCH_LINT_NAIVE", "20"))
    edits = int(os.environ.get("BENCH_LINT_EDITS", "200"))
    states = make_states(count)
    lines = statistics.mean(t.count("\n") for _, t in states)
    print(f"{len(states)} states, {lines:.0f} lines on average; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs", flush=True)

    rate_naive = naive(states[:naive_count])
    print(f"(a) one CLI process per file: {rate_naive:.2f} states/s ({naive_count} states)", flush=True)
    rate_batched = batched(states)
    print(f"(b) batched CLI ({BATCH_SIZE} per batch): {rate_batched:.1f} states/s", flush=True)
    with WarmLinter() as linter:
        started = time.perf_counter()
        linter.check({"warmup.py": "x = 1\n"}, "warmup.py")
        startup = time.perf_counter() - started
        rate_warm = warm(linter, states)
        p50, p95 = recheck_latency(linter, states[0], edits)
    print(f"(c) warm server: {rate_warm:.1f} states/s (start-up + first check {startup:.2f} s)", flush=True)
    print(f"warm re-check of one edited file: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {edits} edits")
    print(
        "\n| mode | states/s | vs (a) |\n| --- | --- | --- |\n"
        f"| (a) one CLI process per file | {rate_naive:.2f} | 1x |\n"
        f"| (b) batched CLI, {BATCH_SIZE} per batch | {rate_batched:.1f} | {rate_batched / rate_naive:.0f}x |\n"
        f"| (c) warm language server | {rate_warm:.1f} | {rate_warm / rate_naive:.0f}x |\n"
        f"\nWarm re-check latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({edits} edits of {states[0][0]})."
    )


if __name__ == "__main__":
    main()
