"""The Spark engine for error states: the driver plans, executors do the work.

- The driver lists the day's session-log shards (`sessions/date=<day>/*.jsonl[.gz]`) and hands each
  to a task, with the store as a `StoreLocation` (plain values: every executor opens the store itself,
  a local directory or a GCS bucket).
- Each task reads its shard from the store (the `session_logs` reader, same limits) and keys its valid
  events by repl; a shuffle between executors brings each repl's events together.
- Each task of the second stage takes the repls hashed to it: it builds their timelines, reads their
  files' start-of-day states (the day's `file_states`, see `starts_from`) from the store, replays every file
  with `replay_group` (THE replay the polars engine runs), assembles their error states with
  `assemble`, and writes them as one part (`spark/error_states/<day>/part-NNNNN/{states,blobs,
  quarantine,invalid_packets}.parquet`).
- Only a `PartSummary` per part (counts and the keys written) comes back to the driver;
  `read_parts` merges the parts into the table the polars engine builds (same rows, same order).

A project's files are replayed together, so the unit of work is a repl: its diagnostics need every
file of the project at that moment. Sessions belong to one repl (docs/formats.md section 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import polars as pl

from repair.ingest.frames import read_frame, write_frame
from repair.ingest.logs import EVENTS_SCHEMA, SHARD_SUFFIXES, event_row, partition_prefix, unsafe_shard_key
from repair.ingest.states import (
    BLOBS_SCHEMA,
    ERROR_STATES_SCHEMA,
    INVALID_PACKETS_SCHEMA,
    QUARANTINE_SCHEMA,
    ErrorStates,
    assemble,
    plan,
    replay_polars,
    starts_from,
)
from repair.ingest.timelines import build_timelines
from repair.object_store import ObjectStore, StoreLocation
from repair.sessionlog import LogEvent, ShardLimits, read_shard

PART_TABLES = ("states", "blobs", "quarantine", "invalid_packets")


def parts_prefix(day: str) -> str:
    """Where the executors of one day's run write their parts."""
    return f"spark/error_states/{day}/"


@dataclass(frozen=True)
class PartSummary:
    """What one executor task sends back: counts and the keys it wrote, never rows."""

    part: int
    repls: int = 0
    events: int = 0
    files_replayed: int = 0
    states: int = 0
    quarantined: int = 0
    invalid_packets: int = 0
    blobs: int = 0
    keys: dict[str, str] = field(default_factory=dict)  # table -> key (empty: the part had no repls)


def read_events(
    location: StoreLocation, day: str, shard_key: str, limits: ShardLimits | None
) -> Iterator[tuple]:
    """Executor side, stage 1: one shard's valid events as (repl, `session_logs` row); rejected
    lines are the `session_logs` asset's quarantine, not this engine's."""
    store = location.open()
    shard = shard_key[len(partition_prefix(day)) :]
    with store.open_read(shard_key) as stream:
        for record in read_shard(stream, shard, limits):
            if isinstance(record, LogEvent):
                row = event_row(record)
                yield row[0], row


def _starts(store: ObjectStore, starts_key: str | None, repls: set[str], day: str):
    if starts_key is None:
        return {}
    file_states = read_frame(store, starts_key).filter(pl.col("repl").is_in(list(repls)))
    return starts_from(file_states, day)


def replay_part(
    part: int,
    keyed_events: Iterable[tuple],
    location: StoreLocation,
    day: str,
    starts_key: str | None,
    check_crc: bool,
) -> Iterator[PartSummary]:
    """Executor side, stage 2: the error states of the repls hashed to this task, written to the
    store as one part."""
    rows = [row for _repl, row in keyed_events]
    if not rows:
        yield PartSummary(part)
        return
    store = location.open()
    events = pl.DataFrame(rows, schema=EVENTS_SCHEMA, orient="row")
    repls = set(events["repl"].unique().to_list())
    the_plan = plan(build_timelines(events), _starts(store, starts_key, repls, day))
    result = assemble(the_plan, replay_polars(the_plan, check_crc))
    tables = {
        "states": result.states,
        "blobs": result.blobs,
        "quarantine": result.quarantine,
        "invalid_packets": result.invalid_packets,
    }
    keys = {}
    for name, frame in tables.items():
        keys[name] = f"{parts_prefix(day)}part-{part:05d}/{name}.parquet"
        write_frame(store, keys[name], frame)
    yield PartSummary(
        part,
        repls=len(repls),
        events=events.height,
        files_replayed=result.files_replayed,
        states=result.states.height,
        quarantined=result.quarantine.height,
        invalid_packets=result.invalid_packets.height,
        blobs=result.blobs.height,
        keys=keys,
    )


def run_on_spark(
    spark,
    store: ObjectStore,
    day: str,
    starts_key: str | None = None,
    check_crc: bool = True,
    limits: ShardLimits | None = None,
    partitions: int | None = None,
) -> list[PartSummary]:
    """Driver side: plans (lists the day's shards) and runs both stages; returns the parts' summaries.
    `starts_key`: the day's (or the previous day's) `file_states` in the store (None: every file starts empty). The
    parts of an earlier run of the day are removed first, so that the store holds this run's only."""
    # A key that would leave the store is session_logs' quarantine, never read here.
    shard_keys = [
        k for k in store.list(partition_prefix(day)) if k.endswith(SHARD_SUFFIXES) and not unsafe_shard_key(k)
    ]
    if not shard_keys:
        raise FileNotFoundError(f"no session-log shards under {store.uri(partition_prefix(day))}")
    for key in store.list(parts_prefix(day)):
        store.delete(key)
    context = spark.sparkContext
    partitions = partitions or context.defaultParallelism
    location = store.location()
    return (
        context.parallelize(shard_keys, numSlices=len(shard_keys))
        .flatMap(lambda key: read_events(location, day, key, limits))
        .partitionBy(partitions)  # by repl: a project's files meet on one executor
        .mapPartitionsWithIndex(
            lambda part, items: replay_part(part, items, location, day, starts_key, check_crc)
        )
        .collect()
    )


def read_parts(store: ObjectStore, summaries: Iterable[PartSummary]) -> ErrorStates:
    """The parts merged into what `build_error_states` gives: diagnostics in timeline order (a
    session's rows are in one part, in order), blobs once each by hash, invalid packets by file."""
    summaries = [s for s in summaries if s.keys]
    schemas = {
        "states": ERROR_STATES_SCHEMA,
        "blobs": BLOBS_SCHEMA,
        "quarantine": QUARANTINE_SCHEMA,
        "invalid_packets": INVALID_PACKETS_SCHEMA,
    }
    tables = {
        name: pl.concat(
            [pl.DataFrame(schema=schema)] + [read_frame(store, s.keys[name]) for s in summaries],
            how="vertical",
        )
        for name, schema in schemas.items()
    }
    return ErrorStates(
        states=tables["states"].sort("session", maintain_order=True),
        blobs=tables["blobs"].unique("blob").sort("blob"),
        quarantine=tables["quarantine"].sort("session", maintain_order=True),
        invalid_packets=tables["invalid_packets"].sort("repl", "file", maintain_order=True),
        files_replayed=sum(s.files_replayed for s in summaries),
    )


def build_error_states_spark(
    spark, store: ObjectStore, day: str, progress: Callable[[str], None] | None = None, **options
) -> ErrorStates:
    """`error_states` of one day on Spark executors (`options`: those of `run_on_spark`), merged
    from the parts they wrote."""
    summaries = run_on_spark(spark, store, day, **options)
    if progress:
        written = [s for s in summaries if s.keys]
        progress(
            f"{day} (spark): {len(written)} parts from {len(summaries)} tasks, "
            f"{sum(s.repls for s in summaries)} repls, {sum(s.files_replayed for s in summaries)} files replayed, "
            f"{sum(s.states for s in summaries)} states, {sum(s.quarantined for s in summaries)} quarantined"
        )
    return read_parts(store, summaries)
