"""Linting service throughput: file states linted per second by (a) one ruff + one basedpyright
CLI process per file (the naive way), (b) batched CLI (one tree, one process of each per batch),
(c) the warm language server (`WarmLinter`), side by side on the same ~100-line files; and the
re-check latency of one edited file in warm mode (p50/p95), the verification workload.

Workload: real standard-library modules of 50-170 lines (the simulator's corpus), each with one
undefined name appended so that every state has a real error.

(b) runs twice: in this process (one core), and as the reproduction stage runs it, batches spread
over a pool of `BENCH_LINT_WORKERS` processes (`repair.reproduce.run_batches`), the figure for
the whole machine.

Run: `uv run python -m benchmarks bench_lint` (env: BENCH_LINT_STATES, default 400;
BENCH_LINT_NAIVE, default 20 states for (a); BENCH_LINT_EDITS, default 200 re-checks;
BENCH_LINT_BATCH, default 200 states per batch; BENCH_LINT_WORKERS, default 2).
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import resource
import statistics
import time

import psutil

from repair.corpus import iter_source_files
from repair.lint import WarmLinter, lint_batch
from repair.reproduce import ReproduceSettings, lint_task, run_batches

MIN_LINES, MAX_LINES = 50, 170


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


class Meter:
    """Wall time and CPU time of this process, its finished children (the CLI linters, ruff on
    stdin) and, in warm mode, the language server. The machine is shared, so states per
    CPU-second is the figure that does not depend on what else runs."""

    def __init__(self, server_pid: int | None = None):
        self.server = psutil.Process(server_pid) if server_pid else None

    def _cpu(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        if self.server is not None:
            times = self.server.cpu_times()
            total += times.user + times.system
        return total

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc_info):
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu


def naive(states) -> Meter:
    with Meter() as meter:
        for name, text in states:
            (result,) = lint_batch([{name: text}], [name])
            assert result.error is None, result.error
    return meter


def batched(states, batch_size: int, workers: int = 1) -> Meter:
    """Batches of `batch_size` states; with `workers` > 1 through the reproduction stage's
    process pool (the pool's start-up is inside the measurement)."""
    settings = ReproduceSettings(batch_size=batch_size, workers=workers,
                                 executor="process" if workers > 1 else "serial")
    batches = [
        lint_task([{name: text} for name, text in chunk], [name for name, _ in chunk], settings)
        for chunk in (states[start:start + batch_size] for start in range(0, len(states), batch_size))
    ]
    with Meter() as meter:
        results = run_batches(batches, settings)
    assert all(r.error is None for batch in results for r in batch)
    if workers > 1:
        meter.cpu = None  # the pool's workers are the forkserver's children: their CPU is not ours to read
    return meter


def warm(linter: WarmLinter, states) -> Meter:
    with Meter(linter.server_pid) as meter:
        for name, text in states:
            linter.check({name: text}, name)
    return meter


def recheck_latency(linter: WarmLinter, state: tuple[str, str], edits: int) -> tuple[float, float, Meter]:
    """Milliseconds per re-check of one file under a stream of single-line edits (as candidate
    repairs arrive in verification): p50, p95, and the meter of the whole stream."""
    name, text = state
    lines = text.split("\n")
    rng = random.Random(3)
    linter.check({name: text}, name)
    timings = []
    with Meter(linter.server_pid) as meter:
        for i in range(edits):
            edited = list(lines)
            at = rng.randrange(len(edited))
            edited[at] = edited[at] + f"  # candidate {i}"
            started = time.perf_counter()
            linter.check({name: "\n".join(edited)}, name)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))], meter


def main() -> None:
    count = int(os.environ.get("BENCH_LINT_STATES", "400"))
    batch_size = int(os.environ.get("BENCH_LINT_BATCH", "200"))
    workers = int(os.environ.get("BENCH_LINT_WORKERS", "2"))
    naive_count = int(os.environ.get("BENCH_LINT_NAIVE", "20"))
    edits = int(os.environ.get("BENCH_LINT_EDITS", "200"))
    states = make_states(count)
    lines = statistics.mean(t.count("\n") for _, t in states)
    # The re-check workload: the module of median length, not whichever sorts first.
    modules = sorted(dict(states).items(), key=lambda state: state[1].count("\n"))
    typical = modules[len(modules) // 2]
    print(f"{len(states)} states, {lines:.0f} lines on average; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)

    rows = []

    def report(label: str, n: int, meter: Meter) -> None:
        rows.append((label, n / meter.wall, n / meter.cpu if meter.cpu else None))
        per_cpu = f"{n / meter.cpu:.2f} states per CPU-second" if meter.cpu else "CPU not measured"
        print(f"{label}: {n / meter.wall:.2f} states/s, {per_cpu} ({n} states)", flush=True)

    report("(a) one CLI process per file", naive_count, naive(states[:naive_count]))
    report(f"(b) batched CLI, {batch_size} per batch, one process", len(states), batched(states, batch_size))
    report(f"(b) batched CLI, {batch_size} per batch, {workers} worker processes", len(states),
           batched(states, batch_size, workers))
    with WarmLinter() as linter:
        started = time.perf_counter()
        linter.check({"warmup.py": "x = 1\n"}, "warmup.py")
        startup = time.perf_counter() - started
        report("(c) warm language server", len(states), warm(linter, states))
        p50, p95, stream = recheck_latency(linter, typical, edits)
    print(f"warm start-up + first check {startup:.2f} s; re-check of one edited file: p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, {1000 * stream.cpu / edits:.1f} CPU-ms each over {edits} edits")
    base_wall, base_cpu = rows[0][1], rows[0][2]
    print("\n| mode | states/s | vs (a) | states per CPU-second | vs (a) |\n| --- | --- | --- | --- | --- |")
    for label, wall, cpu in rows:
        per_cpu = f"{cpu:.2f} | {cpu / base_cpu:.0f}x" if cpu else "n/a | n/a"
        print(f"| {label} | {wall:.2f} | {wall / base_wall:.0f}x | {per_cpu} |")
    print(f"\nWarm re-check of one edited file ({typical[0]}, {typical[1].count(chr(10))} lines, {edits} edits): "
          f"p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, {1000 * stream.cpu / edits:.1f} CPU-ms per re-check. "
          f"Load average {os.getloadavg()[0]:.1f} at the end.")


if __name__ == "__main__":
    main()
