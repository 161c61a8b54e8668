"""Ingest: session-log partitions -> session timelines -> error states (see docs/ingest.md).

Downstream stages read `error_states` rows and resolve each row's `context` (the project's other
files at that moment, stored once per content hash) with `load_context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from repair.ingest.frames import read_frame

if TYPE_CHECKING:  # the store classes pull in Dagster; the CLI does without
    from repair.object_store import ObjectStore

ENGINES = ("polars", "spark")


def blobs_key(partition: str) -> str:
    """Where the file texts that `error_states` rows of `partition` refer to are kept."""
    return f"assets/error_states/{partition}.blobs.parquet"


def load_context(
    store: ObjectStore, partition: str, rows: pl.DataFrame | Iterable[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """For each `error_states` row (a frame or dicts with a `context` column), the project's other
    files at that moment as `{path: text}`, in row order. Reads the partition's blob table once."""
    contexts = rows["context"].to_list() if isinstance(rows, pl.DataFrame) else [r["context"] for r in rows]
    wanted = {ref["blob"] for context in contexts for ref in context or ()}
    if not wanted:
        return [{} for _ in contexts]
    blobs = read_frame(store, blobs_key(partition)).filter(pl.col("blob").is_in(list(wanted)))
    texts = dict(zip(blobs["blob"].to_list(), blobs["text"].to_list(), strict=True))
    missing = wanted - texts.keys()
    if missing:
        raise KeyError(f"{store.uri(blobs_key(partition))} lacks {len(missing)} blobs, e.g. {min(missing)}")
    return [{ref["path"]: texts[ref["blob"]] for ref in context or ()} for context in contexts]
