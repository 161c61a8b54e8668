"""Group `ingest`: raw session logs -> per-session timelines -> error states (docs/ingest.md).

Each asset is one daily partition (`sessions/date=YYYY-MM-DD/`). The work lives in `repair.ingest`;
these functions read and write the store, report what happened as metadata, and check it:

- `session_logs`: the valid events; bad lines go to `quarantine/session_logs/<day>.parquet`.
  Checks: `quarantine_share` (blocking), `counts_reconcile` (blocking).
- `session_timelines`: events ordered per session. Check: `snapshot_reconstruction` (blocking).
- `error_states`: one row per `lsp_diagnostic` with the file and its project at that moment; file
  texts of the context in `assets/error_states/<day>.blobs.parquet`; untrustworthy states in
  `quarantine/error_states/<day>.parquet`. Checks: `quarantine_share`, `counts_reconcile`.
"""

import os
import time
from collections import Counter

import dagster as dg
import polars as pl
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from repair.ingest import ENGINES, blobs_key
from repair.ingest.frames import quarantine_key, write_frame
from repair.ingest.logs import partition_prefix, read_partition
from repair.ingest.snapshots import Mismatch, reconstruct
from repair.ingest.states import build_error_states
from repair.ingest.timelines import build_timelines
from repair_assets._partitions import daily_log_partitions
from resources.object_store import ObjectStoreResource

GROUP = "ingest"
SAMPLE_ROWS = 20  # rows of a problem table shown in metadata; the full table is in the store


def _daily_asset(kinds: set[str], checks: list[dg.AssetCheckSpec]):
    """What every ingest asset shares: one UTC day of logs, group `ingest`, its checks beside it."""
    return dg.asset(partitions_def=daily_log_partitions, group_name=GROUP, kinds=kinds, check_specs=checks)


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
    bad JSON, invalid UTF-8, unknown kind, missing or ill-typed field) is in the quarantine with its
    shard, line number and reason."""
    store = object_store.get_store()
    day = context.partition_key
    logs = read_partition(store, day, progress=context.log.info)
    if not logs.shards:
        raise dg.Failure(
            f"no session-log shards (*.jsonl, *.jsonl.gz) under {partition_prefix(day)} in {store.uri()}",
            metadata={"other_objects": logs.skipped_keys[:SAMPLE_ROWS]},
        )
    where = write_frame(store, quarantine_key("session_logs", day), logs.quarantine)
    events = logs.events
    yield dg.Output(
        events,
        metadata={
            "shards": len(logs.shards),
            "lines_read": logs.lines_read,
            "events": events.height,
            "quarantined": logs.quarantine.height,
            "quarantine_share": logs.quarantine.height / logs.lines_read if logs.lines_read else 0.0,
            "quarantine": dg.MetadataValue.url(where),
            "quarantine_reasons": _md_table(_counts(list(logs.reasons().elements()))),
            "quarantine_sample": _md_table(logs.quarantine.drop("raw")),
            "events_by_kind": _md_table(_counts(events["kind"].to_list())),
            "repls": events["repl"].n_unique(),
            "sessions": events["session"].n_unique(),
            "ignored_objects": len(logs.skipped_keys),
        },
    )
    yield _share_check(
        "lines", logs.quarantine.height, logs.lines_read, config.max_quarantine_share, "session_logs"
    )
    # Per shard, the highest line number seen must equal the lines accounted for: none went missing.
    per_shard = (
        pl.concat([events.select("shard", "line_no"), logs.quarantine.select("shard", "line_no")])
        .group_by("shard")
        .agg(rows=pl.len(), last_line=pl.col("line_no").max(), distinct=pl.col("line_no").n_unique())
        .sort("shard")
    )
    gaps = per_shard.filter((pl.col("rows") != pl.col("last_line")) | (pl.col("distinct") != pl.col("rows")))
    yield dg.AssetCheckResult(
        check_name="counts_reconcile",
        asset_key="session_logs",
        passed=gaps.is_empty(),  # an empty shard has no lines to account for
        metadata={
            "lines_read": logs.lines_read,
            "kept": events.height,
            "quarantined": logs.quarantine.height,
            "shards": len(logs.shards),
            "empty_shards": len(logs.shards) - per_shard.height,
            "shards_not_reconciled": _md_table(gaps),
        },
    )


@_daily_asset(
    {"polars", "parquet"},
    [
        _blocking_check(
            "session_timelines",
            "snapshot_reconstruction",
            "Replaying every file to its last version gives snapshots/<repl>/<path> exactly.",
        )
    ],
)
def session_timelines(
    context: dg.AssetExecutionContext, session_logs: pl.DataFrame, object_store: ObjectStoreResource
):
    """Each session's events in one order: time, then kind (edit, editor action, diagnostic, run...),
    file, version and where the line was read, so ties never depend on the reader. `seq` is the
    0-based position of an event in its session."""
    timelines = build_timelines(session_logs)
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
    yield dg.Output(
        timelines,
        metadata={
            "events": timelines.height,
            "sessions": per_session["sessions"],
            "events_per_session_median": float(per_session["median"] or 0),
            "events_per_session_max": int(per_session["most"] or 0),
            "span_minutes_median": float(per_session["span"] or 0),
        },
    )
    started = time.perf_counter()
    checked, mismatches = reconstruct(timelines, object_store.get_store())
    context.log.info(f"snapshot reconstruction: {checked} files in {time.perf_counter() - started:.1f}s")
    # Files cut short by an invalid packet are already quarantined with their states downstream;
    # what must never happen is a clean replay that disagrees with the stored file.
    stopped = [m for m in mismatches if m.stopped]
    wrong = [m for m in mismatches if not m.stopped]
    yield dg.AssetCheckResult(
        check_name="snapshot_reconstruction",
        asset_key="session_timelines",
        passed=not wrong,
        metadata={
            "files": checked,
            "reproduced": checked - len(mismatches),
            "mismatches": _md_table(_mismatch_table(wrong)),
            "stopped_by_invalid_packets": _md_table(_mismatch_table(stopped)),
        },
        description=f"{checked - len(mismatches)} of {checked} files reproduce their snapshot"
        + (f"; {len(wrong)} differ" if wrong else "")
        + (f"; {len(stopped)} stop at an invalid packet (quarantined)" if stopped else ""),
    )


class ErrorStatesConfig(dg.Config):
    engine: str = Field(
        default="", description="'polars' (in process) or 'spark'; empty: $REPAIR_INGEST_ENGINE, else polars."
    )
    check_crc: bool = Field(
        default=True, description="Check every packet's crc32 (the contract requires it)."
    )
    max_quarantine_share: float = Field(
        default=0.10, description="Largest share of diagnostics whose state may be quarantined."
    )

    def chosen_engine(self) -> str:
        engine = self.engine or os.environ.get("REPAIR_INGEST_ENGINE", "polars")
        if engine not in ENGINES:
            raise dg.Failure(f"error_states: unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
        return engine


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
)
def error_states(
    context: dg.AssetExecutionContext,
    config: ErrorStatesConfig,
    session_timelines: pl.DataFrame,
    object_store: ObjectStoreResource,
    spark: LazyPySparkResource,
):
    """One row per `lsp_diagnostic` event: the diagnostic's fields, `content` (its file at the logged
    version) and `context` (the project's other files at that moment, as `{path, blob}` references
    into `assets/error_states/<day>.blobs.parquet`; `repair.ingest.load_context` resolves them).
    Every file is replayed once per partition; a state that depends on an invalid packet is
    quarantined with the reason, never computed from a corrupt document."""
    store = object_store.get_store()
    day = context.partition_key
    engine = config.chosen_engine()
    started = time.perf_counter()
    result = build_error_states(
        session_timelines,
        engine=engine,
        spark=spark.spark_session if engine == "spark" else None,
        check_crc=config.check_crc,
        progress=context.log.info,
    )
    seconds = time.perf_counter() - started
    states, quarantine = result.states, result.quarantine
    context.log.info(f"{engine}: {result.files_replayed} files replayed in {seconds:.1f}s")
    blobs_uri = write_frame(store, blobs_key(day), result.blobs)
    quarantine_uri = write_frame(store, quarantine_key("error_states", day), quarantine)
    invalid_uri = write_frame(
        store, quarantine_key("error_states", f"{day}.invalid_packets"), result.invalid_packets
    )
    logged = session_timelines.filter(pl.col("kind") == "lsp_diagnostic").height
    yield dg.Output(
        states,
        metadata={
            "engine": engine,
            "seconds": round(seconds, 2),
            "diagnostics_logged": logged,
            "error_states": states.height,
            "quarantined": quarantine.height,
            "files_replayed": result.files_replayed,
            "invalid_packets": result.invalid_packets.height,
            "invalid_packet_sample": _md_table(result.invalid_packets),
            "quarantine": dg.MetadataValue.url(quarantine_uri),
            "quarantine_reasons": _md_table(_counts([r.split(":")[0] for r in quarantine["reason"]])),
            "blobs": dg.MetadataValue.url(blobs_uri),
            "distinct_context_files": result.blobs.height,
            "context_files_per_state_mean": float(
                states.select(pl.col("context").list.len().mean()).item() or 0
            ),
            "diagnostics_by_rule": _md_table(
                _counts([f"{s} {c}" for s, c in states.select("source", "code").iter_rows()])
            ),
            "invalid_packets_table": dg.MetadataValue.url(invalid_uri),
        },
    )
    yield _share_check("diagnostics", quarantine.height, logged, config.max_quarantine_share, "error_states")
    yield dg.AssetCheckResult(
        check_name="counts_reconcile",
        asset_key="error_states",
        passed=logged == states.height + quarantine.height,
        metadata={"logged": logged, "kept": states.height, "quarantined": quarantine.height},
    )
