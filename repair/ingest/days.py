"""One day of ingest, the library calls of the daily `session_logs`, `file_states` and `error_states`
assets: read or replay the day, write what the store keeps beside the asset value (quarantines,
context blobs), and count what the checks reconcile. The assets loop over a run's days and add
Dagster metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from repair.ingest import blobs_key
from repair.ingest.frames import quarantine_key, write_frame
from repair.ingest.logs import LogPartition, partition_prefix, read_partition
from repair.ingest.snapshots import Mismatch, check_snapshots
from repair.ingest.spark_engine import build_error_states_spark
from repair.ingest.states import DayEnd, ErrorStates, build_error_states, end_of_day, starts_from
from repair.object_store import ObjectStore
from repair.sessionlog import ShardLimits


class NoShards(ValueError):
    """A day's folder holds no session-log shard."""

    def __init__(self, message: str, skipped_keys: list[str]):
        super().__init__(message)
        self.skipped_keys = skipped_keys


@dataclass
class SessionLogsDay:
    logs: LogPartition
    quarantine_uri: str
    not_reconciled: pl.DataFrame  # shards whose lines are not all accounted for (events + quarantine)
    shards_with_lines: int


def read_session_logs_day(
    store: ObjectStore, day: str, limits: ShardLimits, log: Callable[[str], None] = print
) -> SessionLogsDay:
    """The day's valid events; bad lines quarantined in the store; per shard, the highest line
    number seen must equal the lines accounted for (none went missing). NoShards on an empty day."""
    logs = read_partition(store, day, progress=log, limits=limits)
    if not logs.shards:
        raise NoShards(
            f"no session-log shards (*.jsonl, *.jsonl.gz) under {partition_prefix(day)} in {store.uri()}",
            logs.skipped_keys,
        )
    where = write_frame(store, quarantine_key("session_logs", day), logs.quarantine)
    per_shard = (
        pl.concat([logs.events.select("shard", "line_no"), logs.quarantine.select("shard", "line_no")])
        .group_by("shard")
        .agg(rows=pl.len(), last_line=pl.col("line_no").max(), distinct=pl.col("line_no").n_unique())
        .sort("shard")
    )
    not_reconciled = per_shard.filter(
        (pl.col("rows") != pl.col("last_line")) | (pl.col("distinct") != pl.col("rows"))
    ).with_columns(day=pl.lit(day))
    return SessionLogsDay(logs, where, not_reconciled, per_shard.height)


@dataclass
class ErrorStatesDay:
    result: ErrorStates
    engine: str
    seconds: float
    diagnostics_logged: int
    blobs_uri: str
    quarantine_uri: str
    invalid_packets_uri: str

    @property
    def reconciles(self) -> bool:
        """Diagnostics logged = error states kept + quarantined."""
        return self.diagnostics_logged == self.result.states.height + self.result.quarantine.height


def error_states_day(
    store: ObjectStore,
    day: str,
    timelines: pl.DataFrame,
    file_states: pl.DataFrame,
    *,
    engine: str,
    check_crc: bool = True,
    spark_session: Callable[[], Any] | None = None,
    log: Callable[[str], None] = print,
) -> ErrorStatesDay:
    """The day's error states, each file replayed from its state at the start of the day (the day's
    `file_states`), on `engine` (`polars` in process, `spark` on `spark_session()`'s cluster); the
    context blobs, the quarantine and the invalid packets written to the store."""
    started = time.perf_counter()
    if engine == "spark":
        if spark_session is None:
            raise ValueError("the spark engine needs a Spark session")
        # Executors read the day's shards and file_states (where the IO manager keeps it) from
        # the store themselves; the timelines in hand are only counted.
        result = build_error_states_spark(
            spark_session(), store, day, starts_key=f"assets/file_states/{day}.parquet",
            check_crc=check_crc, progress=log,
        )  # fmt: skip
    else:
        result = build_error_states(
            timelines, check_crc=check_crc, progress=log, starts=starts_from(file_states, day)
        )
    seconds = time.perf_counter() - started
    log(f"{day} ({engine}): {result.files_replayed} files replayed in {seconds:.1f}s")
    return ErrorStatesDay(
        result,
        engine,
        seconds,
        diagnostics_logged=timelines.filter(pl.col("kind") == "lsp_diagnostic").height,
        blobs_uri=write_frame(store, blobs_key(day), result.blobs),
        quarantine_uri=write_frame(store, quarantine_key("error_states", day), result.quarantine),
        invalid_packets_uri=write_frame(
            store, quarantine_key("error_states", f"{day}.invalid_packets"), result.invalid_packets
        ),
    )


@dataclass
class FileStatesDay:
    result: DayEnd
    files_checked: int
    mismatches: list[Mismatch]  # replayed files that differ from the store's copy as of the day
    seconds: float


def file_states_day(
    store: ObjectStore, day: str, timelines: pl.DataFrame, previous: pl.DataFrame | None, *, check_crc: bool = True
) -> FileStatesDay:
    """Every file at the end of the day, carried from `previous` (yesterday's states) through the
    day's packets, and each file edited that day checked against the store's copy as of that day."""
    started = time.perf_counter()
    result = end_of_day(timelines, previous, day, check_crc=check_crc)
    files, mismatches = check_snapshots(result.edited, store, day)
    return FileStatesDay(result, files, mismatches, time.perf_counter() - started)
