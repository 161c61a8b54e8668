"""A week-long backfill launched the way the UI launches it: `dagster-webserver` and `dagster-daemon`
on a temporary instance, the webserver's GraphQL `launchPartitionBackfill` mutation (what the asset
page's "Materialize" dialog sends for a partition range), the daemon running the backfill's runs.
Over a simulated week whose projects continue across days, every ingest partition of the week (and no
other: `error_states` replay from their own day's `file_states`, never reaching the day after the
range) materializes and no file begun on an earlier day is quarantined for a version gap."""

from __future__ import annotations

import itertools
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from repair.ingest.frames import read_frame
from repair.object_store import LocalObjectStore
from repair.simulate import SimulationConfig, simulate_partition
from tests.orchestration.dagster_processes import (
    ROOT,
    WORKSPACE,
    free_port,
    graphql,
    process,
    wait_for_webserver,
)

# 11 min on 2026-12-02 at load 15 (nice 10): 2.5 min simulating, the backfill 472 s in 2 runs.
# 11 min at load 15, most of it Dagster processes starting: the soak tier, outside CI's hour.
pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.timeout(2400)]

FIRST_DAY = date(2026, 11, 16)
DAYS = [(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(7)]
SESSIONS, SEED = 2, 11
INGEST = ("session_logs", "session_timelines", "file_states", "error_states")

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConflict { message }
  }
}"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}"""
RUNS = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) { ... on Runs { results { runId status } } }
}"""
MATERIALIZED = """
query Materialized($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode { partitionStats { numMaterialized numFailed } }
  }
}"""


@pytest.fixture(scope="module")
def simulated_week(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("week_store")
    store = LocalObjectStore(root)
    return root, [simulate_partition(store, SimulationConfig(day=day, sessions=SESSIONS, seed=SEED)) for day in DAYS]


def test_a_week_backfilled_from_the_ui_materializes_every_day_without_version_gaps(simulated_week, tmp_path):
    root, summaries = simulated_week
    assert sum(s.continued_sessions for s in summaries) > 0, "no project continued across days"
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The project's instance settings, with room for a code server slow to load on a busy machine.
    instance_yaml = (ROOT / "dagster.yaml").read_text() + "\ncode_servers:\n  local_startup_timeout: 600\n"
    (home / "dagster.yaml").write_text(instance_yaml)
    env = {**os.environ, "DAGSTER_HOME": str(home), "REPAIR_STORE_ROOT": str(root), "REPAIR_ENV": "local",
           "DAGSTER_GRPC_TIMEOUT_SECONDS": "600"}
    port = free_port()
    bin_dir = Path(sys.executable).parent
    webserver = [str(bin_dir / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    daemon = [str(bin_dir / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    started = time.monotonic()
    with process(webserver, env, home / "webserver.log") as server, process(daemon, env, home / "daemon.log"):
        wait_for_webserver(port, server, home / "webserver.log")
        params = {"partitionNames": DAYS, "assetSelection": [{"path": [key]} for key in INGEST], "fromFailure": False}
        launched = graphql(port, LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]
        deadline = time.monotonic() + 1800
        status, transient = None, 0
        while status in (None, "REQUESTED", "CANCELING", "FAILING"):
            assert time.monotonic() < deadline, f"backfill still {status}: {(home / 'daemon.log').read_text()[-3000:]}"
            time.sleep(5)
            try:
                status = graphql(port, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            except AssertionError:  # the webserver's SQLite busy under the runs' writes: ask again
                transient += 1
                assert transient < 10, "the webserver kept failing"
        tags = [{"key": "dagster/backfill", "value": backfill_id}]
        runs = graphql(port, RUNS, {"tags": tags})["runsOrError"]["results"]
        print(f"backfill {status} in {time.monotonic() - started:.0f}s over {len(runs)} runs")
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, (home / "daemon.log").read_text()[-3000:])
        assert runs and all(run["status"] == "SUCCESS" for run in runs), runs
        for key in INGEST:
            stats = graphql(port, MATERIALIZED, {"key": {"path": [key]}})["assetNodeOrError"]["partitionStats"]
            assert stats == {"numMaterialized": len(DAYS), "numFailed": 0}, (key, stats)

    store = LocalObjectStore(root)
    carried = 0
    for day in DAYS:
        quarantine = read_frame(store, f"quarantine/error_states/{day}.parquet")
        gaps = quarantine.filter(pl.col("reason").str.contains("version gap")) if quarantine.height else quarantine
        assert gaps.is_empty(), (day, gaps["reason"].to_list()[:3])
    for previous, day in itertools.pairwise(DAYS):
        files = read_frame(store, f"assets/file_states/{day}.parquet")
        # Files edited today whose history began on an earlier day: replayed from yesterday's state.
        carried += files.filter(pl.col("last_edited") == day).join(
            read_frame(store, f"assets/file_states/{previous}.parquet"), on=["repl", "file"]
        ).height
    assert carried > 0
