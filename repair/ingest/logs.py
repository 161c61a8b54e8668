"""One daily partition of session logs read into two tables: the valid events and the quarantine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from repair.sessionlog import LogEvent, ShardLimits, read_shard

if TYPE_CHECKING:  # the store classes pull in Dagster; the CLI does without
    from repair.object_store import ObjectStore

EVENTS_SCHEMA = {
    "repl": pl.String,
    "session": pl.String,
    "ts": pl.Int64,
    "kind": pl.String,
    "file": pl.String,
    "version": pl.Int64,
    "shard": pl.String,
    "line_no": pl.Int64,
    "event": pl.String,
}
QUARANTINE_SCHEMA = {"shard": pl.String, "line_no": pl.Int64, "reason": pl.String, "raw": pl.String}
SHARD_SUFFIXES = (".jsonl", ".jsonl.gz")


def event_row(record: LogEvent) -> tuple[Any, ...]:
    """A valid event as a `session_logs` row (the columns of EVENTS_SCHEMA)."""
    e = record.event
    return (
        e["repl"],
        e["session"],
        e["ts"],
        e["kind"],
        e.get("file"),
        e.get("version"),
        record.shard,
        record.line_no,
        record.raw,
    )


def partition_prefix(day: str) -> str:
    return f"sessions/date={day}/"


def unsafe_shard_key(key: str) -> str | None:
    """Why a listed shard is never read, or None. A bucket lists what anyone with write access put
    there: a key that would leave the store is quarantined by `session_logs`, not a crash."""
    from repair.object_store import check_key

    try:
        check_key(key)
    except ValueError as exc:
        return f"unsafe shard key, not read: {exc}"
    return None


@dataclass
class LogPartition:
    events: pl.DataFrame
    quarantine: pl.DataFrame
    shards: list[str]
    skipped_keys: list[str] = field(default_factory=list)  # objects in the folder that are no shard

    @property
    def lines_read(self) -> int:
        return self.events.height + self.quarantine.height

    def reasons(self) -> Counter[str]:
        """Quarantine reasons with the specifics (positions, values) cut off, for counting."""
        return Counter(r.split(":")[0].split(" at ")[0] for r in self.quarantine["reason"])


def read_partition(
    store: ObjectStore,
    day: str,
    progress: Callable[[str], None] | None = None,
    limits: ShardLimits | None = None,
) -> LogPartition:
    """Every shard under `sessions/date=<day>/`, in key order, each read as a stream within `limits`;
    the shard name is its key below that folder. Lines read = rows in `events` + rows in
    `quarantine` (a row may stand for the unread rest of a shard over a limit)."""
    prefix = partition_prefix(day)
    keys = store.list(prefix)
    shards = [k for k in keys if k.endswith(SHARD_SUFFIXES)]
    events: list[tuple[Any, ...]] = []
    rejected: list[tuple[Any, ...]] = []
    for number, key in enumerate(shards, start=1):
        shard = key[len(prefix) :]
        if unsafe := unsafe_shard_key(key):
            rejected.append((shard, 0, unsafe, ""))  # line 0: the shard as a whole
            continue
        with store.open_read(key) as stream:
            for record in read_shard(stream, shard, limits):
                if isinstance(record, LogEvent):
                    events.append(event_row(record))
                else:
                    rejected.append((record.shard, record.line_no, record.reason, record.raw))
        if progress:
            progress(
                f"shard {number}/{len(shards)} {shard}: {len(events)} events, {len(rejected)} rejected so far"
            )
    return LogPartition(
        events=pl.DataFrame(events, schema=EVENTS_SCHEMA, orient="row"),
        quarantine=pl.DataFrame(rejected, schema=QUARANTINE_SCHEMA, orient="row"),
        shards=[k[len(prefix) :] for k in shards],
        skipped_keys=[k for k in keys if k not in set(shards)],
    )
