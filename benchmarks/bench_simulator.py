"""Session simulator throughput: sessions per minute and diagnostics per second for a whole day,
and batched linting (one ruff + one basedpyright process per shard) against the naive way (one
process pair per language-server state), side by side on the same states.

`uv run python -m benchmarks bench_simulator`; BENCH_SIM_SESSIONS (default 1000) sets the day's size,
BENCH_SIM_NAIVE_STATES (default 24) how many states the naive way lints.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime

from repair.corpus import iter_source_files, stdlib_dir
from repair.lint import lint_batch
from repair.object_store import LocalObjectStore
from repair.simulate import SimulationConfig, simulate_partition
from repair.simulate.partition import simulate_repl

DAY = "2026-11-24"


def _cpu_seconds() -> float:
    """CPU time of this process and of the linter processes it waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _naive_vs_batched(states: int) -> tuple[float, float, int]:
    """Seconds per state: each state linted on its own, and all of them in one batch."""
    config = SimulationConfig(day=DAY, sessions=10, seed=99)
    sources = list(iter_source_files())
    points = []
    number = 0
    while len(points) < states:
        points += simulate_repl(number, config, sources, stdlib_dir(), 3).simulator.publishes
        number += 1
    points = points[:states]
    started = time.perf_counter()
    for p in points:
        lint_batch([p.files], [p.file])
    naive = (time.perf_counter() - started) / len(points)
    started = time.perf_counter()
    lint_batch([p.files for p in points], [p.file for p in points])
    batched = (time.perf_counter() - started) / len(points)
    return naive, batched, len(points)


def main() -> None:
    sessions = int(os.environ.get("BENCH_SIM_SESSIONS", "1000"))
    naive_states = int(os.environ.get("BENCH_SIM_NAIVE_STATES", "24"))
    naive, batched_small, measured = _naive_vs_batched(naive_states)
    cpu_before = _cpu_seconds()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as root:
        summary = simulate_partition(
            LocalObjectStore(root), SimulationConfig(day=DAY, sessions=sessions, seed=1), progress=print
        )
    cpu = _cpu_seconds() - cpu_before
    load_after = os.getloadavg()[0]
    per_state_day = summary.lint_seconds / summary.lint_states if summary.lint_states else 0.0
    rows = [
        ("sessions", f"{summary.sessions}"),
        ("wall time", f"{summary.seconds:.0f} s ({summary.seconds / 60:.1f} min; budget for 1,000 sessions: 15 min)"),
        ("CPU time (simulator + linter processes)", f"{cpu:.0f} s ({cpu / summary.sessions:.2f} s per session)"),
        ("machine load average (1 min) before / after", f"{load_before:.1f} / {load_after:.1f} on {os.cpu_count()} cores"),
        ("sessions per minute", f"{60 * summary.sessions / summary.seconds:.0f}"),
        ("seconds per session", f"{summary.seconds / summary.sessions:.2f}"),
        ("events / OT packets", f"{summary.events} / {summary.events_by_kind['ot']}"),
        ("diagnostics", f"{summary.diagnostics}"),
        ("diagnostics per second", f"{summary.diagnostics / summary.seconds:.0f}"),
        ("language-server states linted", f"{summary.lint_states} ({summary.lint_seconds:.0f} s of linting)"),
        ("lint per state, batched per shard (day)", f"{1000 * per_state_day:.1f} ms"),
        (f"lint per state, naive: one process pair per state ({measured} states)", f"{1000 * naive:.0f} ms"),
        (f"lint per state, one batch of the same {measured} states", f"{1000 * batched_small:.0f} ms"),
        ("batched vs naive (same states)", f"{naive / batched_small:.1f}x faster"),
        ("batched (day) vs naive", f"{naive / per_state_day:.1f}x faster" if per_state_day else "-"),
    ]
    print()
    print(f"Machine: {platform.machine()} {os.cpu_count()}-core CPU sandbox (shared); "
          f"date {datetime.now(UTC):%Y-%m-%d}")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
