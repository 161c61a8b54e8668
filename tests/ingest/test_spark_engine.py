"""The Spark engine on a `local-cluster` master (two executor JVMs, each with its own Python
workers): executors read the shards from the store themselves, write their parts back, and the
merged parts equal what the polars engine builds in process. Local directory and GCS (emulator)."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from repair.ingest import blobs_key, spark_job
from repair.ingest.frames import quarantine_key, read_frame, write_frame
from repair.ingest.logs import read_partition
from repair.ingest.spark_engine import (
    PartSummary,
    build_error_states_spark,
    parts_prefix,
    read_parts,
    run_on_spark,
)
from repair.ingest.states import ErrorStates, build_error_states, end_of_day, starts_from
from repair.ingest.timelines import build_timelines
from repair.simulate import SimulationConfig, simulate_partition
from resources.object_store import GCSObjectStore, LocalObjectStore, gcs_client
from resources.spark import LOCAL_CLUSTER
from tests.ingest.sessions import DAY, DAYS, write_days, write_partition

pytestmark = pytest.mark.slow  # two executor JVMs start: minutes on a loaded 2-core machine


def on_polars(store, day: str, previous: pl.DataFrame | None) -> ErrorStates:
    timelines = build_timelines(read_partition(store, day).events)
    return build_error_states(timelines, starts=starts_from(previous))


def assert_same(spark_result: ErrorStates, polars_result: ErrorStates) -> None:
    for table in ("states", "blobs", "quarantine", "invalid_packets"):
        ours, theirs = getattr(spark_result, table), getattr(polars_result, table)
        assert ours.equals(theirs), (table, ours, theirs)
    assert spark_result.files_replayed == polars_result.files_replayed


def test_executors_run_on_separate_processes(local_cluster):
    pids = local_cluster.sparkContext.parallelize(range(4), 4).map(lambda _: os.getpid()).collect()
    assert os.getpid() not in pids
    assert local_cluster.sparkContext.master == LOCAL_CLUSTER


def test_a_day_with_bad_lines_and_days_carried_forward_equal_polars(local_cluster, tmp_path):
    """The hand-made partition (bad lines, two projects) and three days whose files outlive a day
    (the executors read the previous day's `file_states` from the store)."""
    one = LocalObjectStore(tmp_path / "one")
    write_partition(one)
    progress = []
    stale = f"{parts_prefix(DAY)}part-00099/states.parquet"
    one.write_bytes(stale, b"an earlier run's part")
    result = build_error_states_spark(local_cluster, one, DAY, progress=progress.append)
    assert_same(result, on_polars(one, DAY, None))
    assert result.states.height and "(spark)" in progress[0]
    assert not one.exists(stale)

    days = LocalObjectStore(tmp_path / "days")
    write_days(days)
    previous = None
    for day in DAYS:
        starts_key = None
        if previous is not None:
            starts_key = f"assets/file_states/{day}.previous.parquet"
            write_frame(days, starts_key, previous)
        result = build_error_states_spark(local_cluster, days, day, starts_key=starts_key)
        assert_same(result, on_polars(days, day, previous))
        previous = end_of_day(build_timelines(read_partition(days, day).events), previous, day).states


def test_a_simulated_day_equals_polars_and_only_summaries_come_back(local_cluster, tmp_path):
    day = "2026-11-20"
    store = LocalObjectStore(tmp_path)
    simulate_partition(store, SimulationConfig(day=day, sessions=6, seed=3, sessions_per_shard=2))
    stale = f"{parts_prefix(day)}part-00099/states.parquet"
    store.write_bytes(stale, b"an earlier run's part")
    summaries = run_on_spark(local_cluster, store, day)
    assert all(isinstance(s, PartSummary) for s in summaries)
    written = sorted(key for s in summaries for key in s.keys.values())
    assert written == store.list(parts_prefix(day))  # the stale part is gone
    expected = on_polars(store, day, None)
    assert expected.states.height >= 10
    assert_same(read_parts(store, summaries), expected)
    assert sum(s.states for s in summaries) == expected.states.height
    assert sum(s.quarantined for s in summaries) == expected.quarantine.height
    assert sum(s.files_replayed for s in summaries) == expected.files_replayed


def test_executors_read_and_write_a_gcs_bucket(local_cluster, tmp_path, gcs_bucket):
    local = LocalObjectStore(tmp_path)
    write_partition(local)
    bucket = GCSObjectStore(gcs_client("test-project"), gcs_bucket.name, "team")
    for key in local.list():
        bucket.write_bytes(key, local.read_bytes(key))
    assert bucket.location().emulator_host  # the executors reach the emulator the driver uses
    result = build_error_states_spark(local_cluster, bucket, DAY)
    assert_same(result, on_polars(local, DAY, None))
    parts = bucket.list(parts_prefix(DAY))
    assert parts and all(key.endswith(".parquet") for key in parts)
    assert read_frame(bucket, next(k for k in parts if k.endswith("states.parquet"))).columns == list(
        result.states.columns
    )


def test_the_spark_job_writes_the_tables_where_the_io_manager_reads_them(local_cluster, tmp_path, capsys):
    """`python -m repair.ingest.spark_job` (what Pipes launches on a cluster), run with the active session."""
    store = LocalObjectStore(tmp_path)
    write_partition(store)
    spark_job.main(["--store", str(tmp_path), "--day", DAY])
    expected = on_polars(store, DAY, None)
    assert read_frame(store, f"assets/error_states/{DAY}.parquet").equals(expected.states)
    assert read_frame(store, blobs_key(DAY)).equals(expected.blobs)
    assert read_frame(store, quarantine_key("error_states", DAY)).equals(expected.quarantine)
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts["error_states"] == expected.states.height
    assert counts["quarantined"] == expected.quarantine.height


def test_the_asset_on_spark_stores_what_it_stores_on_polars_over_three_days(local_cluster, tmp_path):
    """`error_states` with `engine: spark` in Dagster, over a three-day range: the executors read
    each day's start from the `file_states` the IO manager stored the step before."""
    import dagster as dg

    from repair_assets.ingest import error_states, file_states, session_logs, session_timelines
    from resources.io_manager import ObjectStoreIOManager
    from resources.object_store import ObjectStoreResource
    from resources.spark import spark_resource

    def materialize(root, engine: str):
        write_days(LocalObjectStore(root))
        store_resource = ObjectStoreResource(backend="local", root=str(root))
        return dg.materialize(
            [session_logs, session_timelines, file_states, error_states],
            tags={
                "dagster/asset_partition_range_start": DAYS[0],
                "dagster/asset_partition_range_end": DAYS[-1],
            },
            resources={
                "object_store": store_resource,
                "io_manager": ObjectStoreIOManager(object_store=store_resource),
                "spark": spark_resource(),  # the session the fixture started: one per process
            },
            run_config={"ops": {"error_states": {"config": {"engine": engine}}}},
        )

    assert materialize(tmp_path / "polars", "polars").success
    assert materialize(tmp_path / "spark", "spark").success
    polars_store, spark_store = LocalObjectStore(tmp_path / "polars"), LocalObjectStore(tmp_path / "spark")
    compared = 0
    for key in polars_store.list():
        if key.startswith(("assets/error_states/", "quarantine/error_states/")):
            assert read_frame(spark_store, key).equals(read_frame(polars_store, key)), key
            compared += 1
    assert compared == 4 * len(DAYS)  # states, blobs, quarantine, invalid packets per day
