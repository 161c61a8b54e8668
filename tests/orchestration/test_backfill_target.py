"""What a backfill of a range of days from the UI targets, computed the way the webserver computes it
when the asset page's "Materialize" dialog sends `launchPartitionBackfill` (asset selection and
partition names): Dagster's `AssetBackfillData.from_asset_partitions` walks the graph downstream of
the selected days through every partition mapping. A week asked for must be that week for every
ingest asset, never a day after it (which has no logs and would fail the backfill)."""

import time

import dagster as dg
from dagster._core.execution.asset_backfill import AssetBackfillData

from jobs.definitions import build_definitions

WEEK = [f"2026-11-{day}" for day in range(16, 23)]
INGEST = ("session_logs", "session_timelines", "file_states", "error_states")


def test_a_week_backfilled_from_the_ui_targets_that_week_for_every_ingest_asset():
    graph = build_definitions("local").resolve_asset_graph()
    keys = [dg.AssetKey(name) for name in INGEST]
    target = AssetBackfillData.from_asset_partitions(
        asset_graph=graph,
        partition_names=WEEK,
        asset_selection=keys,
        dynamic_partitions_store=dg.DagsterInstance.ephemeral(),
        backfill_start_timestamp=time.time(),
        all_partitions=False,
    ).target_subset
    for key in keys:
        assert sorted(target.get_partitions_subset(key, graph).get_partition_keys()) == WEEK, key
