"""Asset values in the object store: partitioned and unpartitioned assets in one partitioned run
(the shape of `full_lifecycle`), DataFrames and JSON, and a clear error for a missing value."""

import io
import json

import dagster as dg
import polars as pl
import pytest

from repair_assets._partitions import daily_log_partitions
from resources.io_manager import BY_PARTITION, ByPartition, ObjectStoreIOManager
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


RANGE = {
    "dagster/asset_partition_range_start": "2026-11-24",
    "dagster/asset_partition_range_end": "2026-11-26",
}


@dg.asset(partitions_def=daily_log_partitions)
def ranged_rows(context: dg.AssetExecutionContext) -> ByPartition:
    return ByPartition({day: pl.DataFrame({"day": [day]}) for day in context.partition_keys})


@dg.asset(partitions_def=daily_log_partitions, ins={"ranged_rows": dg.AssetIn(metadata=BY_PARTITION)})
def ranged_copy(context: dg.AssetExecutionContext, ranged_rows: ByPartition) -> ByPartition:
    assert sorted(ranged_rows) == list(context.partition_keys)
    return ByPartition({day: frame.with_columns(copied=True) for day, frame in ranged_rows.items()})


def test_a_range_run_stores_and_reads_one_value_per_day(tmp_path):
    assert dg.materialize([ranged_rows, ranged_copy], tags=RANGE, resources=_resources(tmp_path)).success
    store = LocalObjectStore(tmp_path)
    assert store.list("assets/ranged_copy/") == [
        f"assets/ranged_copy/2026-11-2{d}.parquet" for d in (4, 5, 6)
    ]
    stored = pl.read_parquet(io.BytesIO(store.read_bytes("assets/ranged_copy/2026-11-25.parquet")))
    assert stored["day"].to_list() == ["2026-11-25"] and stored["copied"].to_list() == [True]


@dg.asset(partitions_def=daily_log_partitions)
def one_frame_for_many_days(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return pl.DataFrame({"days": [len(context.partition_keys)]})


def test_one_value_for_a_range_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match=r"a run of 3 partitions .* needs one value per partition"):
        dg.materialize([one_frame_for_many_days], tags=RANGE, resources=_resources(tmp_path))
