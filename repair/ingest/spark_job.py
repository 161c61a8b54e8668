"""`error_states` of one day as a Spark job of its own: what a cluster runs when Dagster launches the
stage through Dagster Pipes (Dataproc: `dagster_gcp.pipes.PipesDataprocJobClient`; Databricks:
`dagster_databricks.PipesDatabricksClient`) instead of driving Spark from the run's process.

    spark-submit [--master ...] repair/ingest/spark_job.py --store gs://bucket/prefix --day 2026-11-20 \
        [--starts-key assets/file_states/2026-11-19.parquet] [--no-check-crc]

(`python -m repair.ingest.spark_job ...` runs it too, on the master `PYSPARK_SUBMIT_ARGS` names;
`spark_submit_command` builds the first form, the one a Pipes client launches.)

The job's driver plans, its executors do the work (`repair.ingest.spark_engine`), and it writes the
tables where the `error_states` asset keeps them (`assets/error_states/<day>.parquet`, the blob
table, the quarantines), so the IO manager loads them downstream as if the asset had run in
process. Launched by Pipes (its parameters in the job's arguments or environment), it reports the
materialization's counts back to Dagster; launched by hand, it prints them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from repair.ingest import blobs_key
from repair.ingest.frames import quarantine_key, write_frame
from repair.ingest.spark_engine import build_error_states_spark
from repair.object_store import open_store


def error_states_key(day: str) -> str:
    """Where the IO manager keeps `error_states` of `day` (resources/io_manager.py's layout)."""
    return f"assets/error_states/{day}.parquet"


def spark_submit_command(
    store: str,
    day: str,
    starts_key: str | None = None,
    check_crc: bool = True,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    spark_submit: str = "spark-submit",
) -> list[str]:
    """The `spark-submit` command line of this job (what `dg.PipesSubprocessClient` runs locally; a
    Dataproc or Databricks job gets the same arguments). `master`: none keeps the cluster's default."""
    command = [spark_submit]
    if master:
        command += ["--master", master]
    for key, value in (conf or {}).items():
        command += ["--conf", f"{key}={value}"]
    command += [str(Path(__file__).resolve()), "--store", store, "--day", day]
    if starts_key:
        command += ["--starts-key", starts_key]
    if not check_crc:
        command.append("--no-check-crc")
    return command


def run(
    spark, store_uri: str, day: str, starts_key: str | None = None, check_crc: bool = True, log=print
) -> dict[str, int]:
    """Builds and writes the day's `error_states` tables; returns their counts."""
    store = open_store(store_uri)
    result = build_error_states_spark(
        spark, store, day, starts_key=starts_key, check_crc=check_crc, progress=log
    )
    write_frame(store, blobs_key(day), result.blobs)
    write_frame(store, quarantine_key("error_states", day), result.quarantine)
    write_frame(store, quarantine_key("error_states", f"{day}.invalid_packets"), result.invalid_packets)
    write_frame(store, error_states_key(day), result.states)  # last: downstream reads it as "done"
    return {
        "error_states": result.states.height,
        "quarantined": result.quarantine.height,
        "files_replayed": result.files_replayed,
        "invalid_packets": result.invalid_packets.height,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="gs://bucket/prefix or a local directory")
    parser.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD")
    parser.add_argument("--starts-key", default=None, help="the previous day's file_states in the store")
    parser.add_argument(
        "--no-check-crc", dest="check_crc", action="store_false", help="skip the packets' crc32 check"
    )
    args, _pipes_args = parser.parse_known_args(argv)  # Pipes adds its own arguments

    from dagster_pipes import PipesCliArgsParamsLoader, PipesEnvVarParamsLoader, open_dagster_pipes
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(f"error_states {args.day}").getOrCreate()
    # Pipes passes its parameters as job arguments (Dataproc) or in the environment (Databricks, k8s).
    loader = next(
        (p for p in (PipesCliArgsParamsLoader(), PipesEnvVarParamsLoader()) if p.is_dagster_pipes_process()),
        None,
    )
    if loader is None:
        print(json.dumps(run(spark, args.store, args.day, args.starts_key, args.check_crc)))
        return
    with open_dagster_pipes(params_loader=loader) as pipes:
        started = time.perf_counter()
        counts = run(spark, args.store, args.day, args.starts_key, args.check_crc, log=pipes.log.info)
        where = {
            "spark_master": spark.sparkContext.master,
            "spark_application": spark.sparkContext.applicationId,
        }
        seconds = round(time.perf_counter() - started, 2)
        pipes.report_asset_materialization(
            metadata={"engine": "spark", "seconds": seconds, **where, **counts}
        )


if __name__ == "__main__":
    main()
