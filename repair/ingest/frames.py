"""Polars frames in the object store (Parquet), for the side outputs the IO manager does not write:
quarantines and the per-partition blob table of `error_states`."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # the store classes pull in Dagster; the CLI does without
    from repair.object_store import ObjectStore


def write_frame(store: ObjectStore, key: str, frame: pl.DataFrame) -> str:
    """Writes `frame` as Parquet under `key`; returns its URI."""
    buf = io.BytesIO()
    frame.write_parquet(buf)
    store.write_bytes(key, buf.getvalue())
    return store.uri(key)


def read_frame(store: ObjectStore, key: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(store.read_bytes(key)))


def quarantine_key(asset: str, partition: str) -> str:
    return f"quarantine/{asset}/{partition}.parquet"
