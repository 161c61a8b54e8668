"""Real editing traces (josephg/editing-traces, shipped in `data/editing-traces/` with their licence
note) as session-log `ot` events, for replay tests, benchmarks and the simulator's realism report.

A trace is `{"startContent", "endContent", "txns": [{"time", "patches": [[pos, n_deleted, text]]}]}`
with positions in code points. Each patch becomes one packet (one version): patches of one
transaction may run right to left (multi-cursor edits), which one left-to-right walk cannot express.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from repair.ot import Document, crc32_text, ops_from_patch

TRACE_NAMES = ("rustcode", "sveltecomponent", "automerge-paper")
# The traces travel with the repository, so a clone with nothing beside it replays them.
TRACES_DIR = Path(__file__).resolve().parents[2] / "data" / "editing-traces"


def load_trace(path: str | Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def trace_events(
    trace: dict[str, Any],
    *,
    with_crc: bool = True,
    repl: str = "trace",
    session: str = "trace",
    file: str = "trace.txt",
) -> list[dict[str, Any]]:
    """The trace as `ot` events, versions from 1. `with_crc=False` writes crc32 0 (replay those with
    `check_crc=False`); computing real ones costs a join of the document per packet.

    Timestamps come from the trace; where it has none worth the name (one constant time, as in
    automerge-paper) the events are 1 ms apart.
    """
    txns = trace["txns"]
    times = [_ms(t["time"]) for t in txns]
    if len(set(times)) <= 1:
        times = list(range(len(txns)))
    doc = Document()  # startContent, when there is one, arrives as version 1
    events: list[dict[str, Any]] = []

    def emit(ops: list[dict[str, Any]], ts: int) -> None:
        version = len(events) + 1
        doc.apply(ops, version)
        crc = crc32_text(doc.text()) if with_crc else 0
        events.append(
            {
                "v": 1,
                "session": session,
                "repl": repl,
                "ts": ts,
                "kind": "ot",
                "file": file,
                "version": version,
                "ops": ops,
                "crc32": crc,
            }
        )

    if trace["startContent"]:
        emit([{"insert": trace["startContent"]}], times[0] if times else 0)
    for ts, txn in zip(times, txns, strict=True):
        for pos, n_deleted, inserted in txn["patches"]:
            emit(ops_from_patch(pos, n_deleted, inserted, len(doc)), ts)
    return events
