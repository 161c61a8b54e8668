"""Group `ingest`: raw session logs -> per-session timelines -> file states -> error states
(docs/ingest.md).

Each asset is partitioned by UTC day (`sessions/date=YYYY-MM-DD/`), and a run may cover a range of
days (a backfill runs up to `RANGE_DAYS` days per run): every asset loops over the run's days and
returns one value per day (`ByPartition`). The work lives in `repair.ingest`; these functions read and
write the store, report what happened as metadata, and check it:

- `session_logs`: the valid events; bad lines go to `quarantine/session_logs/<day>.parquet`.
  Checks: `quarantine_share` (blocking), `counts_reconcile` (blocking).
- `session_timelines`: events ordered per session. Check: `events_within_day`.
- `file_states`: every file's text and version at the end of the day, carried forward from the
  previous day's `file_states` (a self-dependency one day back). Check: `snapshot_reconstruction`
  (blocking).
- `error_states`: one row per `lsp_diagnostic` with the file and its project at that moment, replayed
  from where the same day's `file_states` says each file started (same-day lineage: a backfill of a
  range of days targets that range only); file texts of the context in
  `assets/error_states/<day>.blobs.parquet`; untrustworthy states in
  `quarantine/error_states/<day>.parquet`. Checks: `quarantine_share`, `counts_reconcile`.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import dagster as dg
import polars as pl
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from repair.ingest import ENGINES
from repair.ingest import days as ingest_days
from repair.ingest.snapshots import Mismatch
from repair.ingest.timelines import build_timelines
from repair.sessionlog import ShardLimits
from repair_assets._partitions import daily_log_partitions
from resources.io_manager import BY_PARTITION, PREVIOUS_PARTITION, ByPartition
from resources.object_store import ObjectStoreResource

GROUP = "ingest"
SAMPLE_ROWS = 20  # rows of a problem table shown in metadata; the full table is in the store
RANGE_DAYS = 7  # the most days one backfill run handles
DAY_MS = 86_400_000
# Yesterday's value of a daily asset (none before the first day of history).
PREVIOUS_DAY = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


def _daily_asset(kinds: set[str], checks: list[dg.AssetCheckSpec], ins: dict[str, dg.AssetIn] | None = None):
    """What every ingest asset shares: UTC days of logs (a range of them in a backfill run), group
    `ingest`, its checks beside it."""
    return dg.asset(
        partitions_def=daily_log_partitions,
        group_name=GROUP,
        kinds=kinds,
        check_specs=checks,
        ins=ins,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=RANGE_DAYS),
    )


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _day_start_ms(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC).timestamp() * 1000)


def _per_day(values: ByPartition, name: str, days: list[str]) -> list:
    """The value of `name` for each of `days`; a day never materialized upstream is a clear error."""
    missing = [day for day in days if day not in values]
    if missing:
        raise dg.Failure(f"{name} is not materialized for {', '.join(missing)}: materialize it first")
    return [values[day] for day in days]


def _run_metadata(per_day: dict[str, dict], totals: tuple[str, ...]) -> dict:
    """One day's metadata as it is; for a range, the `totals` summed and a row per day."""
    if len(per_day) == 1:
        return next(iter(per_day.values()))
    table = pl.DataFrame([{"day": day, **{k: meta[k] for k in totals}} for day, meta in per_day.items()])
    return {
        "days": len(per_day),
        **{k: sum(meta[k] for meta in per_day.values()) for k in totals},
        "per_day": _md_table(table, limit=len(per_day)),
    }


def _blocking_check(asset: str, name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", "\\n")[:120]


def _mismatch_table(mismatches: list[Mismatch]) -> pl.DataFrame:
    return pl.DataFrame(
        [(m.repl, m.file, m.reason) for m in mismatches],
        schema={"repl": pl.String, "file": pl.String, "reason": pl.String},
        orient="row",
    )


def _md_table(frame: pl.DataFrame, limit: int = SAMPLE_ROWS) -> dg.MetadataValue:
    """The first `limit` rows of a small frame as markdown (cells cut to 120 characters)."""
    if frame.is_empty():
        return dg.MetadataValue.md("(none)")
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join("| " + " | ".join(_cell(v) for v in row) + " |\n" for row in frame.head(limit).iter_rows())
    more = f"\n… and {frame.height - limit} more" if frame.height > limit else ""
    return dg.MetadataValue.md(head + body + more)


def _counts(values: list[str]) -> pl.DataFrame:
    counted = Counter(values).most_common()
    return pl.DataFrame(counted, schema={"value": pl.String, "count": pl.Int64}, orient="row")


def _share_check(name_of: str, quarantined: int, total: int, bound: float, asset: str) -> dg.AssetCheckResult:
    share = quarantined / total if total else 0.0
    return dg.AssetCheckResult(
        check_name="quarantine_share",
        asset_key=asset,
        passed=share <= bound,
        metadata={"quarantined": quarantined, name_of: total, "share": share, "bound": bound},
        description=f"{quarantined} of {total} {name_of} quarantined ({share:.2%}; bound {bound:.2%})",
    )


class SessionLogsConfig(dg.Config):
    max_quarantine_share: float = Field(
        default=0.05, description="Largest share of lines that may be quarantined before the check fails."
    )
    max_shard_bytes: int = Field(
        default=ShardLimits.max_bytes,
        gt=0,
        description="Decompressed bytes read from one shard; the rest is quarantined unread (one row says so).",
    )
    max_line_bytes: int = Field(
        default=ShardLimits.max_line_bytes,
        gt=0,
        description="Longest line kept; a longer one is quarantined.",
    )
    max_lines_per_shard: int = Field(
        default=ShardLimits.max_lines,
        gt=0,
        description="Lines read from one shard; the rest is quarantined unread.",
    )
    max_bad_lines_per_shard: int = Field(
        default=ShardLimits.max_rejected,
        gt=0,
        description="Bad lines after which the rest of a shard is quarantined unread (a shard that broken is garbage).",
    )

    def limits(self) -> ShardLimits:
        return ShardLimits(
            max_bytes=self.max_shard_bytes,
            max_line_bytes=self.max_line_bytes,
            max_lines=self.max_lines_per_shard,
            max_rejected=self.max_bad_lines_per_shard,
        )


@_daily_asset(
    {"polars", "parquet"},
    [
        _blocking_check(
            "session_logs",
            "quarantine_share",
            "The share of rejected lines stays under the configured bound.",
        ),
        _blocking_check(
            "session_logs", "counts_reconcile", "Lines read = events kept + lines quarantined, per shard."
        ),
    ],
)
def session_logs(
    context: dg.AssetExecutionContext, config: SessionLogsConfig, object_store: ObjectStoreResource
):
    """The day's session-log events that pass schema validation (docs/formats.md section 1): columns
    `repl, session, ts, kind, file, version, shard, line_no, event`. Every other line (truncated,
    bad JSON, invalid UTF-8, unknown kind, missing or ill-typed field, unsafe path) is in the
    quarantine with its shard, line number and reason."""
    store = object_store.get_store()
    try:
        read = {day: ingest_days.read_session_logs_day(store, day, config.limits(), context.log.info) for day in context.partition_keys}
    except ingest_days.NoShards as error:
        raise dg.Failure(str(error), metadata={"other_objects": error.skipped_keys[:SAMPLE_ROWS]}) from error
    per_day = {day: _session_logs_metadata(one) for day, one in read.items()}
    yield dg.Output(
        ByPartition({day: one.logs.events for day, one in read.items()}),
        metadata=_run_metadata(per_day, ("shards", "lines_read", "events", "quarantined")),
    )
    lines_read = sum(one.logs.lines_read for one in read.values())
    quarantined = sum(one.logs.quarantine.height for one in read.values())
    yield _share_check("lines", quarantined, lines_read, config.max_quarantine_share, "session_logs")
    not_reconciled = pl.concat([one.not_reconciled for one in read.values()])
    yield dg.AssetCheckResult(
        check_name="counts_reconcile",
        asset_key="session_logs",
        passed=not_reconciled.is_empty(),  # an empty shard has no lines to account for
        metadata={
            "lines_read": lines_read, "kept": lines_read - quarantined, "quarantined": quarantined,
            "shards": sum(len(one.logs.shards) for one in read.values()),
            "empty_shards": sum(meta["empty_shards"] for meta in per_day.values()),
            "shards_not_reconciled": _md_table(not_reconciled),
        },
    )  # fmt: skip


def _session_logs_metadata(day: ingest_days.SessionLogsDay) -> dict:
    logs, events = day.logs, day.logs.events
    return {
        "shards": len(logs.shards),
        "lines_read": logs.lines_read,
        "events": events.height,
        "quarantined": logs.quarantine.height,
        "quarantine_share": logs.quarantine.height / logs.lines_read if logs.lines_read else 0.0,
        "quarantine": dg.MetadataValue.url(day.quarantine_uri),
        "quarantine_reasons": _md_table(_counts(list(logs.reasons().elements()))),
        "quarantine_sample": _md_table(logs.quarantine.drop("raw")),
        "events_by_kind": _md_table(_counts(events["kind"].to_list())),
        "repls": events["repl"].n_unique(),
        "sessions": events["session"].n_unique(),
        "ignored_objects": len(logs.skipped_keys),
        "empty_shards": len(logs.shards) - day.shards_with_lines,
    }


@_daily_asset(
    {"polars", "parquet"},
    [
        dg.AssetCheckSpec(
            "events_within_day",
            asset="session_timelines",
            description="Every event's time falls on the partition's UTC day (late or misfiled events are counted).",
        )
    ],
    ins={"session_logs": dg.AssetIn(metadata=BY_PARTITION)},
)
def session_timelines(context: dg.AssetExecutionContext, session_logs: ByPartition):
    """Each session's events in one order: time, then kind (edit, editor action, diagnostic, run...),
    file, version and where the line was read, so ties never depend on the reader. `seq` is the
    0-based position of an event in its session."""
    days = context.partition_keys
    values, per_day, outside = ByPartition(), {}, {}
    for day, events in zip(days, _per_day(session_logs, "session_logs", days), strict=True):
        timelines = values[day] = build_timelines(events)
        per_session = (
            timelines.group_by("session")
            .agg(events=pl.len(), span=(pl.col("ts").max() - pl.col("ts").min()) / 60_000)
            .select(
                sessions=pl.len(),
                median=pl.col("events").median(),
                most=pl.col("events").max(),
                span=pl.col("span").median(),
            )
            .row(0, named=True)
        )
        per_day[day] = {
            "events": timelines.height,
            "sessions": per_session["sessions"],
            "events_per_session_median": float(per_session["median"] or 0),
            "events_per_session_max": int(per_session["most"] or 0),
            "span_minutes_median": float(per_session["span"] or 0),
        }
        start = _day_start_ms(day)
        outside[day] = timelines.filter((pl.col("ts") < start) | (pl.col("ts") >= start + DAY_MS)).height
    yield dg.Output(values, metadata=_run_metadata(per_day, ("events", "sessions")))
    total = sum(meta["events"] for meta in per_day.values())
    yield dg.AssetCheckResult(
        check_name="events_within_day",
        asset_key="session_timelines",
        passed=not any(outside.values()),
        metadata={
            "events": total,
            "outside_their_day": sum(outside.values()),
            **{f"outside_{d}": n for d, n in outside.items() if n},
        },
        description=f"{sum(outside.values())} of {total} events fall outside their partition's day",
    )


class FileStatesConfig(dg.Config):
    check_crc: bool = Field(default=True, description="Check every packet's crc32 (the format requires it).")


@_daily_asset(
    {"polars", "parquet"},
    [
        _blocking_check(
            "file_states",
            "snapshot_reconstruction",
            "Every file edited that day, replayed to the end of the day, equals the store's copy as of that day.",
        )
    ],
    ins={
        "session_timelines": dg.AssetIn(metadata=BY_PARTITION),
        "previous": dg.AssetIn(
            key="file_states", partition_mapping=PREVIOUS_DAY, metadata=PREVIOUS_PARTITION
        ),
    },
)
def file_states(
    context: dg.AssetExecutionContext,
    config: FileStatesConfig,
    session_timelines: ByPartition,
    previous: pl.DataFrame | None,
    object_store: ObjectStoreResource,
):
    """Every file of every project at the end of the day: `repl, file, version, text, error,
    last_edited`. Yesterday's states (this asset's previous partition) are carried through the day's
    packets, so a file whose history began days ago replays from where it stood; a file with an
    invalid packet keeps the reason in `error` (its later states are quarantined downstream)."""
    store, days = object_store.get_store(), context.partition_keys
    if previous is None:
        context.log.info(f"no file_states for {_day_before(days[0])}: every file starts from nothing")
    values, per_day, wrong, stopped, checked = ByPartition(), {}, [], [], 0
    states = previous
    for day, timelines in zip(days, _per_day(session_timelines, "session_timelines", days), strict=True):
        replayed = ingest_days.file_states_day(store, day, timelines, states, check_crc=config.check_crc)
        result, states = replayed.result, replayed.result.states
        values[day] = states
        checked += replayed.files_checked
        wrong += [m for m in replayed.mismatches if not m.stopped]
        stopped += [m for m in replayed.mismatches if m.stopped]
        context.log.info(f"{day}: {replayed.files_checked} files replayed and checked in {replayed.seconds:.1f}s")
        per_day[day] = {
            "files": result.states.height,
            "edited": result.edited.height,
            "carried_from_earlier_days": result.states.height - result.edited.height,
            "invalid_files": result.states["error"].is_not_null().sum(),
            "duplicate_packets": result.duplicates,
        }
    yield dg.Output(
        values,
        metadata=_run_metadata(
            per_day, ("files", "edited", "carried_from_earlier_days", "invalid_files", "duplicate_packets")
        ),
    )
    yield _snapshot_check(checked, wrong, stopped)


def _snapshot_check(checked: int, wrong: list[Mismatch], stopped: list[Mismatch]) -> dg.AssetCheckResult:
    # Files cut short by an invalid packet are already quarantined with their states downstream;
    # what must never happen is a clean replay that disagrees with the stored file.
    return dg.AssetCheckResult(
        check_name="snapshot_reconstruction",
        asset_key="file_states",
        passed=not wrong,
        metadata={
            "files": checked,
            "reproduced": checked - len(wrong) - len(stopped),
            "mismatches": _md_table(_mismatch_table(wrong)),
            "stopped_by_invalid_packets": _md_table(_mismatch_table(stopped)),
        },
        description=f"{checked - len(wrong) - len(stopped)} of {checked} files reproduce their snapshot"
        + (f"; {len(wrong)} differ" if wrong else "")
        + (f"; {len(stopped)} stop at an invalid packet (quarantined)" if stopped else ""),
    )


class IngestEngine(StrEnum):
    # Dagster's run config names enum members, so the names are the values operators type.
    polars = "polars"  # in process
    spark = "spark"  # on the `spark` resource's cluster


class ErrorStatesConfig(dg.Config):
    engine: IngestEngine | None = Field(
        default=None,
        description="Where files are replayed: polars (in process) or spark; empty: $REPAIR_INGEST_ENGINE "
        "(read when the run starts), else polars.",
    )
    check_crc: bool = Field(default=True, description="Check every packet's crc32 (the format requires it).")
    max_quarantine_share: float = Field(
        default=0.10, description="Largest share of diagnostics whose state may be quarantined."
    )

    def chosen_engine(self) -> str:
        engine = self.engine or dg.EnvVar("REPAIR_INGEST_ENGINE").get_value(IngestEngine.polars)
        if engine not in ENGINES:
            raise dg.Failure(f"error_states: unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
        return str(engine)


@_daily_asset(
    {"polars", "spark", "parquet"},
    [
        _blocking_check(
            "error_states",
            "quarantine_share",
            "The share of quarantined diagnostics stays under the configured bound.",
        ),
        _blocking_check(
            "error_states", "counts_reconcile", "Diagnostics logged = error states kept + quarantined."
        ),
    ],
    ins={
        "session_timelines": dg.AssetIn(metadata=BY_PARTITION),
        "file_states": dg.AssetIn(metadata=BY_PARTITION),
    },
)
def error_states(
    context: dg.AssetExecutionContext,
    config: ErrorStatesConfig,
    session_timelines: ByPartition,
    file_states: ByPartition,
    object_store: ObjectStoreResource,
    spark: LazyPySparkResource,
):
    """One row per `lsp_diagnostic` event: the diagnostic's fields, `content` (its file at the logged
    version) and `context` (the project's other files at that moment, as `{path, blob}` references
    into `assets/error_states/<day>.blobs.parquet`; `repair.ingest.load_context` resolves them).
    Every file is replayed once per day, from its state at the start of the day (kept in the day's
    `file_states`); a state that depends on an invalid packet, or on a history with no earlier
    state, is quarantined with the reason, never computed from a corrupt document."""
    engine, store = config.chosen_engine(), object_store.get_store()
    keys = context.partition_keys
    inputs = zip(keys, _per_day(session_timelines, "session_timelines", keys), _per_day(file_states, "file_states", keys), strict=True)
    made = {
        day: ingest_days.error_states_day(
            store, day, timelines, day_files, engine=engine, check_crc=config.check_crc,
            spark_session=lambda: spark.spark_session, log=context.log.info,
        )
        for day, timelines, day_files in inputs
    }  # fmt: skip
    per_day = {day: _error_states_metadata(one) for day, one in made.items()}
    yield dg.Output(ByPartition({day: one.result.states for day, one in made.items()}), metadata=_run_metadata(
        per_day, ("diagnostics_logged", "error_states", "quarantined", "files_replayed", "invalid_packets"),
    ))  # fmt: skip
    logged, kept, quarantined = (sum(meta[k] for meta in per_day.values()) for k in ("diagnostics_logged", "error_states", "quarantined"))
    yield _share_check("diagnostics", quarantined, logged, config.max_quarantine_share, "error_states")
    yield dg.AssetCheckResult(
        check_name="counts_reconcile",
        asset_key="error_states",
        passed=all(one.reconciles for one in made.values()),
        metadata={"logged": logged, "kept": kept, "quarantined": quarantined},
    )


def _error_states_metadata(day: ingest_days.ErrorStatesDay) -> dict:
    result, states = day.result, day.result.states
    return {
        "engine": day.engine,
        "seconds": round(day.seconds, 2),
        "diagnostics_logged": day.diagnostics_logged,
        "error_states": states.height,
        "quarantined": result.quarantine.height,
        "files_replayed": result.files_replayed,
        "invalid_packets": result.invalid_packets.height,
        "invalid_packet_sample": _md_table(result.invalid_packets),
        "quarantine": dg.MetadataValue.url(day.quarantine_uri),
        "quarantine_reasons": _md_table(_counts([r.split(":")[0] for r in result.quarantine["reason"]])),
        "blobs": dg.MetadataValue.url(day.blobs_uri),
        "distinct_context_files": result.blobs.height,
        "context_files_per_state_mean": float(states.select(pl.col("context").list.len().mean()).item() or 0),
        "diagnostics_by_rule": _md_table(
            _counts([f"{s} {c}" for s, c in states.select("source", "code").iter_rows()])
        ),
        "invalid_packets_table": dg.MetadataValue.url(day.invalid_packets_uri),
    }
