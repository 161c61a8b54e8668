"""Polars frames as Dagster table metadata (`MetadataValue.table`), which the UI shows sortable,
shared by the stage modules."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import polars as pl

SCORE_COLUMNS = ("value", "ci_low", "ci_high")


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return "bool" if dtype == pl.Boolean else "string"


def frame_table(frame: pl.DataFrame, percent: Sequence[str] = ()) -> dg.TableMetadataValue:
    """The frame as a Dagster table; the `percent` columns (shares in [0, 1]) shown as `<name>_%`
    with one decimal."""
    shown = frame.with_columns((100 * pl.col(c)).round(1).alias(f"{c}_%") for c in percent).drop(percent)
    columns = [dg.TableColumn(name, _kind(dtype)) for name, dtype in shown.schema.items()]
    return dg.MetadataValue.table(
        [dg.TableRecord(row) for row in shown.iter_rows(named=True)], schema=dg.TableSchema(columns=columns)
    )
