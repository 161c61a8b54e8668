"""OT replay on the three real editing traces (`data/editing-traces/`).

1. Throughput in OT ops per second, replaying every packet of a trace with `FileReplay`: without
   and with the per-packet crc32 check, beside the naive way (the contract read literally: slice
   and concatenate the whole string for every op).
2. State extraction at 1,000 timestamps: one pass (`replay_states`) against the naive way (replay
   from the start for each timestamp). The naive way is timed on an evenly spread sample of the
   timestamps and scaled to 1,000 (its cost per timestamp grows linearly with the position, so an
   even spread estimates the total without bias); both without crc32.

Times are CPU seconds of this process (the machine is shared: waiting for a core is not the code's
cost). Run: `uv run python -m benchmarks bench_replay` (prints a markdown section for RESULTS.md).
Settings: `BENCH_REPLAY_TRACES` (comma-separated names), `BENCH_REPLAY_NAIVE_SAMPLE` (default 50).
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.results import load_words
from repair.ingest.traces import TRACE_NAMES, TRACES_DIR, load_trace, trace_events
from repair.ot import FileReplay, StateRequest, replay_states

TRACES = TRACES_DIR
STATES = 1000
REPEATS = 3  # best of, for the quick measurements


def _replay(events, check_crc: bool) -> str:
    replay = FileReplay(check_crc=check_crc)
    for event in events:
        replay.apply(event)
    return replay.text()


def _naive_replay(events) -> str:
    """Every op on a plain string, as the contract reads."""
    text = ""
    for event in events:
        cursor = 0
        for op in event["ops"]:
            ((kind, value),) = op.items()
            if kind == "skip":
                cursor += value
            elif kind == "insert":
                text = text[:cursor] + value + text[cursor:]
                cursor += len(value)
            else:
                text = text[:cursor] + text[cursor + value :]
    return text


def _timed(fn, *args):
    """(value, CPU seconds of this process). CPU time, not wall time: the machine is shared, and
    time spent waiting for a core says nothing about the code."""
    started = time.process_time()
    value = fn(*args)
    return value, time.process_time() - started


def _best(fn, repeats: int):
    value, seconds = _timed(fn)
    for _ in range(repeats - 1):
        seconds = min(seconds, _timed(fn)[1])
    return value, seconds


def throughput(name: str) -> dict[str, Any]:
    trace = load_trace(TRACES / f"{name}.json.gz")
    events = trace_events(trace)  # with real crc32s
    ops = sum(len(e["ops"]) for e in events)
    row: dict[str, Any] = {
        "trace": name,
        "packets": len(events),
        "ops": ops,
        "chars": len(trace["endContent"]),
    }
    for label, run, repeats in (
        ("fast", lambda: _replay(events, False), REPEATS),
        ("crc", lambda: _replay(events, True), 1),
        ("naive", lambda: _naive_replay(events), REPEATS),
    ):
        text, seconds = _best(run, repeats)
        assert text == trace["endContent"], f"{name}: {label} replay does not reproduce endContent"
        row[label] = ops / seconds
        print(f"  {name} {label}: {seconds:.3f}s, {ops / seconds:,.0f} ops/s", flush=True)
    return row


def extraction(name: str, naive_sample: int) -> dict[str, Any]:
    events = trace_events(load_trace(TRACES / f"{name}.json.gz"), with_crc=False)
    step = len(events) / STATES
    stamps = [events[min(int(i * step), len(events) - 1)]["ts"] for i in range(STATES)]
    requests = [StateRequest(i, ts=t) for i, t in enumerate(stamps)]
    states, one_pass = _best(lambda: list(replay_states(events, requests, check_crc=False)), REPEATS)
    assert len(states) == STATES

    sample = stamps[:: max(1, STATES // naive_sample)]

    def naive():
        # The file at each moment, replayed from version 1 every time.
        return [_replay([e for e in events if e["ts"] <= t], False) for t in sample]

    texts, naive_seconds = _timed(naive)
    by_ts = {s.request.ts: s.text for s in states}
    assert all(by_ts[t] == text for t, text in zip(sample, texts, strict=True)), "one pass and naive disagree"
    naive_total = naive_seconds * STATES / len(sample)
    print(f"  {name}: one pass {one_pass:.3f}s, naive ~{naive_total:.1f}s ({len(sample)} timed)", flush=True)
    return {"trace": name, "one_pass": one_pass, "naive": naive_total, "sampled": len(sample)}


def main() -> None:
    names = [n for n in os.environ.get("BENCH_REPLAY_TRACES", ",".join(TRACE_NAMES)).split(",") if n]
    naive_sample = int(os.environ.get("BENCH_REPLAY_NAIVE_SAMPLE", "50"))
    load_before = os.getloadavg()[0]
    rows = [throughput(n) for n in names]
    extractions = [extraction(n, naive_sample) for n in names]

    lines = [
        (
            f"Command: `uv run python -m benchmarks bench_replay`; machine: {os.cpu_count()}-core CPU, {load_words(load_before)} "
            f"({platform.machine()}, Python {platform.python_version()}); "
            f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Times are CPU seconds of the benchmark process "
            f"(one core; waiting for a core not counted), best of {REPEATS} where it is cheap."
        ),
        "",
        "Replay throughput, OT ops per CPU second (one packet per trace patch; every packet applied):",
        "",
        "| trace | packets | ops | final chars | no crc32 | crc32 every packet | naive string splicing | no crc32 / naive |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['trace']} | {r['packets']:,} | {r['ops']:,} | {r['chars']:,} | {r['fast']:,.0f} | {r['crc']:,.0f} | "
        f"{r['naive']:,.0f} | {r['fast'] / r['naive']:.1f}x |"
        for r in rows
    ]
    lines += [
        "",
        (
            f"State extraction at {STATES:,} timestamps (no crc32), one pass against replaying from the start "
            f"for each timestamp (naive timed on {naive_sample} evenly spread timestamps, scaled to {STATES:,}):"
        ),
        "",
        "| trace | one pass (s) | naive (s) | speed-up |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {e['trace']} | {e['one_pass']:.3f} | {e['naive']:.1f} | {e['naive'] / e['one_pass']:,.0f}x |"
        for e in extractions
    ]
    print("\n".join(lines))
