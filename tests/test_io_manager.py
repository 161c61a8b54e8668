"""Asset values in the object store: partitioned and unpartitioned assets in one partitioned run
(the shape of `full_lifecycle`), DataFrames and JSON, and a clear error for a missing value."""

import json

import dagster as dg
import polars as pl
import pytest

from repair_assets._partitions import daily_log_partitions
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource


@dg.asset(partitions_def=daily_log_partitions)
def daily_rows(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return pl.DataFrame({"day": [context.partition_key], "n": [1]})


@dg.asset
def every_day(daily_rows: pl.DataFrame) -> pl.DataFrame:
    return daily_rows


@dg.asset
def summary(every_day: pl.DataFrame) -> dict:
    return {"days": sorted(every_day["day"].to_list())}


def _resources(root):
    store = ObjectStoreResource(backend="local", root=str(root))
    return {"io_manager": ObjectStoreIOManager(object_store=store)}


def test_unpartitioned_assets_in_a_partitioned_run_are_stored_whole(tmp_path):
    assets = [daily_rows, every_day, summary]
    for day in ("2026-11-24", "2026-11-25"):
        assert dg.materialize(assets, partition_key=day, resources=_resources(tmp_path)).success
    store = LocalObjectStore(tmp_path)
    assert store.list("assets/every_day/") == ["assets/every_day/all.parquet"]
    assert store.exists("assets/daily_rows/2026-11-24.parquet")
    # The whole-history reader saw both days; the days in between, never materialized, were skipped.
    assert json.loads(store.read_text("assets/summary/all.json")) == {"days": ["2026-11-24", "2026-11-25"]}


def test_a_value_never_materialized_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="materialize it first"):
        dg.materialize([every_day.to_source_asset(), summary], resources=_resources(tmp_path))
