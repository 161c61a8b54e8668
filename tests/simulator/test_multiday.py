"""Projects that continue over several simulated days, ingested across days: a backfill of three days
in one run equals three runs, and no file begun on an earlier day is quarantined for a version gap."""

import shutil

import dagster as dg
import polars as pl
import pytest

from repair.ingest.frames import read_frame
from repair.simulate import SimulationConfig, simulate_partition
from repair_assets.ingest import error_states, file_states, session_logs, session_timelines
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource
from resources.spark import spark_resource

DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
SESSIONS, SEED = 6, 5
ASSETS = [session_logs, session_timelines, file_states, error_states]


def _materialize(root, **kwargs):
    resource = ObjectStoreResource(backend="local", root=str(root))
    return dg.materialize(
        ASSETS,
        resources={
            "object_store": resource,
            "io_manager": ObjectStoreIOManager(object_store=resource),
            "spark": spark_resource(),
        },
        raise_on_error=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    root = tmp_path_factory.mktemp("three_days")
    store = LocalObjectStore(root)
    summaries = [
        simulate_partition(store, SimulationConfig(day=d, sessions=SESSIONS, seed=SEED)) for d in DAYS
    ]
    return root, summaries


@pytest.mark.slow  # three simulated days, each linted: about a minute
def test_three_simulated_days_backfill_alike_and_replay_files_across_days(three_days, tmp_path):
    root, summaries = three_days
    assert all(s.sessions_begun == SESSIONS for s in summaries)
    assert summaries[0].continued_sessions == 0
    assert sum(s.continued_sessions for s in summaries[1:]) > 0  # projects do continue
    one, three = tmp_path / "one", tmp_path / "three"
    shutil.copytree(root, one)
    shutil.copytree(root, three)

    ranged = _materialize(
        one,
        tags={"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]},
    )
    assert ranged.success
    for day in DAYS:
        assert _materialize(three, partition_key=day).success
    a, b = LocalObjectStore(one), LocalObjectStore(three)
    outputs = [k for k in a.list() if k.startswith(("assets/", "quarantine/")) and k.endswith(".parquet")]
    assert sorted(outputs) == sorted(k for k in b.list() if k.startswith(("assets/", "quarantine/")))
    for key in outputs:
        assert read_frame(a, key).equals(read_frame(b, key)), key

    carried = 0
    for day in DAYS:
        quarantine = read_frame(a, f"quarantine/error_states/{day}.parquet")
        assert quarantine.is_empty(), quarantine["reason"].to_list()[:3]
        states = read_frame(a, f"assets/error_states/{day}.parquet")
        logged = read_frame(a, f"assets/session_timelines/{day}.parquet").filter(
            pl.col("kind") == "lsp_diagnostic"
        )
        assert states.height == logged.height
    for day in DAYS[1:]:
        files = read_frame(a, f"assets/file_states/{day}.parquet")
        # Files edited today whose history began on an earlier day: replayed from yesterday's state.
        earlier = read_frame(a, f"assets/file_states/{DAYS[DAYS.index(day) - 1]}.parquet")
        carried += files.filter(pl.col("last_edited") == day).join(earlier, on=["repl", "file"]).height
    assert carried > 0
