"""Spark `local-cluster` against the in-process engines on the same simulated day, outputs asserted equal.

1. `error_states` from the day's shards: the polars engine (read the shards, build timelines, replay
   every file, in this process) against the Spark engine (`repair.ingest.spark_engine`: executors read
   the shards from the store, replay and write parts; the driver merges the parts).
2. Reproduction of that day's error states (`repair.reproduce`, the stage's settings): the `process`
   executor (a pool of 2 processes fed by the driver) against the `spark` executor (executors read
   the stored partition, lint and write their diagnostics back).

Spark runs on `local-cluster[2,1,1024]`: two executor JVMs of one core each, with their own Python
workers, on this machine. The cluster's start is timed apart; each Spark figure is the better of two
runs (the first also starts the executors' Python workers). Wall-clock seconds, with the machine's
load beside them.

Run: `uv run python -m benchmarks bench_spark`. Env: `BENCH_SPARK_STORE` (a store holding the day,
e.g. a copy of the demo's `.data/store`) and `BENCH_SPARK_DAY`; without them a day of
`BENCH_SPARK_SESSIONS` (default 40) sessions is simulated into a temporary store.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime

from benchmarks.results import load_words, write_section
from repair.ingest import blobs_key, load_context
from repair.ingest.frames import write_frame
from repair.ingest.logs import read_partition
from repair.ingest.spark_engine import build_error_states_spark
from repair.ingest.states import ErrorStates, build_error_states
from repair.ingest.timelines import build_timelines
from repair.reproduce import ReproduceSettings, reproduce
from repair.reproduce_spark import StoredStates
from repair.simulate import SimulationConfig, simulate_partition
from resources.object_store import LocalObjectStore
from resources.spark import LOCAL_CLUSTER, local_spark_session

HEADING = "## Spark local-cluster against polars"
RUNS = 2


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _best(fn, runs: int = RUNS):
    value, seconds = _timed(fn)
    times = [seconds]
    for _ in range(runs - 1):
        value, seconds = _timed(fn)
        times.append(seconds)
    return value, times


def _same_error_states(a: ErrorStates, b: ErrorStates) -> None:
    for table in ("states", "blobs", "quarantine", "invalid_packets"):
        assert getattr(a, table).equals(getattr(b, table)), f"error_states: the engines differ on {table}"


def _canonical(outcome):
    return (
        outcome.counts,
        outcome.kept.sort("diagnostic_id").to_dicts(),
        outcome.dropped.sort("diagnostic_id").to_dicts(),
    )


def _day(tmp: str) -> tuple[LocalObjectStore, str, str]:
    if os.environ.get("BENCH_SPARK_STORE"):
        return (
            LocalObjectStore(os.environ["BENCH_SPARK_STORE"]),
            os.environ["BENCH_SPARK_DAY"],
            "the demo's store",
        )
    sessions = int(os.environ.get("BENCH_SPARK_SESSIONS", "40"))
    day = "2026-11-20"
    store = LocalObjectStore(tmp)
    print(f"simulating {sessions} sessions of {day}...", flush=True)
    simulate_partition(store, SimulationConfig(day=day, sessions=sessions, seed=7))
    return store, day, f"{sessions} simulated sessions (seed 7)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args(argv or [])
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        store, day, what = _day(tmp)
        shards = [k for k in store.list(f"sessions/date={day}/") if k.endswith((".jsonl", ".jsonl.gz"))]

        def on_polars():
            return build_error_states(build_timelines(read_partition(store, day).events))

        polars_states, polars_times = _best(on_polars)
        print(f"polars: {polars_times}", flush=True)
        spark, start_seconds = _timed(lambda: local_spark_session(LOCAL_CLUSTER))
        try:
            spark_states, spark_times = _best(lambda: build_error_states_spark(spark, store, day))
            print(f"spark: {spark_times} (cluster start {start_seconds:.1f}s)", flush=True)
            _same_error_states(spark_states, polars_states)

            # Reproduction of the same day: the partition where the IO manager would keep it.
            states = polars_states.states
            states_key = f"bench/error_states/{day}.parquet"
            write_frame(store, states_key, states)
            write_frame(store, blobs_key(day), polars_states.blobs)
            timelines = build_timelines(read_partition(store, day).events)
            contexts = load_context(store, day, states)
            settings = ReproduceSettings(executor="process", workers=2)
            pooled, pool_times = _best(
                lambda: reproduce(states, contexts, settings, timelines=timelines), runs=1
            )
            print(f"reproduce process: {pool_times}", flush=True)
            on_spark = dataclasses.replace(settings, executor="spark")
            stored = StoredStates(store.location(), states_key, day)
            spark_outcome, spark_lint_times = _best(
                lambda: reproduce(
                    states, contexts, on_spark, timelines=timelines, spark=spark, stored=stored
                ),
                runs=1,
            )
            print(f"reproduce spark: {spark_lint_times}", flush=True)
            assert _canonical(spark_outcome) == _canonical(pooled), "reproduction: the executors differ"
        finally:
            spark.stop()

    linted = pooled.states_linted
    body = "\n".join(
        [
            (
                f"Command: `uv run python -m benchmarks bench_spark`; day: {what}, {len(shards)} shards, "
                f"{polars_states.states.height} error states, {polars_states.quarantine.height} quarantined, "
                f"{linted} states linted. Machine: {os.cpu_count()}-core CPU, {load_words(load_before)} "
                f"({platform.machine()}, Python {platform.python_version()}); "
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Spark master `{LOCAL_CLUSTER}` (two executor "
                f"JVMs of one core, their own Python workers); cluster start {start_seconds:.1f} s, not counted "
                "below. Wall-clock seconds; outputs asserted equal (every table of `error_states` row for row; "
                "the reproduction's counts, kept and quarantined rows)."
            ),
            "",
            "| stage | in process | Spark local-cluster | Spark / in process |",
            "|---|---|---|---|",
            (
                f"| `error_states` (polars engine / Spark engine; runs: {', '.join(f'{t:.1f}' for t in polars_times)} / "
                f"{', '.join(f'{t:.1f}' for t in spark_times)}) | {min(polars_times):.1f} | {min(spark_times):.1f} | "
                f"{min(spark_times) / min(polars_times):.1f}x |"
            ),
            (
                f"| reproduction, {linted} states (`process` executor, 2 workers / `spark` executor) | "
                f"{pool_times[0]:.1f} | {spark_lint_times[0]:.1f} | {spark_lint_times[0] / pool_times[0]:.1f}x |"
            ),
            "",
            (
                "On one 2-core machine Spark has nothing to gain (it adds JVMs, Python workers, Parquet parts "
                "through the store and a shuffle), and under load single runs differ by tens of percent "
                "either way; what the figures show is that the same work runs on separate executor processes "
                "with the same outputs, at a cost of the same order. The gain comes from executors "
                'on other machines (docs/operations.md, "Spark").'
            ),
        ]
    )
    if not args.no_write:
        write_section(HEADING, body)
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
