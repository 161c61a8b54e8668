"""`repair.ingest.spark_job` launched the way the Pipes deployment launches it (docs/operations.md,
"Spark", way 2): an asset runs `spark-submit` of the job file through `dg.PipesSubprocessClient`
(locally; `PipesDataprocJobClient` / `PipesDatabricksClient` on a cluster), on a `local-cluster`
master so that the job's own driver ships the work to separate executor processes. The job must
report its counts and logs back over Pipes and leave the tables where the IO manager reads them,
equal to what the polars engine builds in process."""

import os
import sys
from pathlib import Path

import dagster as dg
import pytest

from repair.ingest import blobs_key, spark_job
from repair.ingest.frames import quarantine_key, read_frame, write_frame
from repair.ingest.logs import read_partition
from repair.ingest.states import build_error_states, end_of_day, starts_from
from repair.ingest.timelines import build_timelines
from resources.object_store import LocalObjectStore
from resources.spark import LOCAL_CLUSTER
from tests.ingest.sessions import DAYS, write_days

pytestmark = pytest.mark.slow  # the job starts its own driver and two executor JVMs


def _launch_env() -> dict[str, str]:
    """The job's processes run this venv's Python (Spark's workers find `python` on PATH otherwise)."""
    venv_bin = str(Path(sys.executable).parent)
    return {"PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", "PYSPARK_PYTHON": sys.executable}


def test_the_spark_job_launched_through_pipes_reports_back_and_writes_what_polars_builds(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_days(store)
    first, second = DAYS[0], DAYS[1]
    # Yesterday's file_states where the IO manager keeps it: the second day starts from it.
    yesterday = end_of_day(build_timelines(read_partition(store, first).events), None, first).states
    starts_key = f"assets/file_states/{first}.parquet"
    write_frame(store, starts_key, yesterday)

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition([second]), kinds={"spark"})
    def error_states(context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient):
        command = spark_job.spark_submit_command(
            store=str(tmp_path),
            day=context.partition_key,
            starts_key=starts_key,
            master=LOCAL_CLUSTER,
            conf={"spark.ui.enabled": "false", "spark.pyspark.python": sys.executable},
            spark_submit=str(Path(sys.executable).parent / "spark-submit"),
        )
        return pipes_subprocess_client.run(
            command=command, context=context, env=_launch_env()
        ).get_materialize_result()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [error_states],
        partition_key=second,
        instance=instance,
        resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
    )
    assert result.success

    timelines = build_timelines(read_partition(store, second).events)
    expected = build_error_states(timelines, starts=starts_from(yesterday))
    assert expected.states.height
    assert read_frame(store, spark_job.error_states_key(second)).equals(expected.states)
    assert read_frame(store, blobs_key(second)).equals(expected.blobs)
    assert read_frame(store, quarantine_key("error_states", second)).equals(expected.quarantine)
    assert read_frame(store, quarantine_key("error_states", f"{second}.invalid_packets")).equals(
        expected.invalid_packets
    )

    (materialization,) = result.asset_materializations_for_node("error_states")
    assert materialization.partition == second
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["engine"] == "spark"
    assert metadata["spark_master"] == LOCAL_CLUSTER  # the job's own driver, on separate executors
    assert metadata["error_states"] == expected.states.height
    assert metadata["quarantined"] == expected.quarantine.height
    assert metadata["files_replayed"] == expected.files_replayed
    assert metadata["invalid_packets"] == expected.invalid_packets.height
    # The job's progress reached the run's log over the Pipes channel.
    messages = [record.user_message for record in instance.all_logs(result.run_id)]
    assert any(f"{second} (spark):" in message for message in messages), messages
