"""Per-session timelines: every valid event of a session in one deterministic order."""

from __future__ import annotations

import polars as pl

from repair.sessionlog import KIND_RANK

# Ties on the millisecond are broken by kind (the edit before the diagnostic computed on it), then
# by file, version and where the line was read, so the order never depends on the reader.
TIMELINE_ORDER = ["session", "ts", "kind_rank", "file", "version", "shard", "line_no"]


def build_timelines(events: pl.DataFrame) -> pl.DataFrame:
    """`session_logs` rows ordered per session, with `seq` (0-based position in the session)."""
    return (
        events.with_columns(kind_rank=pl.col("kind").replace_strict(KIND_RANK, return_dtype=pl.Int8))
        .sort(TIMELINE_ORDER, nulls_last=True)
        .drop("kind_rank")
        .with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64).over("session"))
    )
