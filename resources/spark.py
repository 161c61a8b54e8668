"""Spark for the stages that scale out (ingest replay, diagnostic reproduction), through
dagster-pyspark. The session starts on first use only: runs on the polars engine pay nothing.

`REPAIR_SPARK_MASTER` names the cluster (`spark://host:7077`, `yarn`, `k8s://...`); without it Spark
runs in local mode, `local[2]` in the embedded default and `local[*]` (every core of the run's
machine) in production. `local-cluster[N,C,M]` runs N executor JVMs of C cores and M MiB on this
machine, each with its own Python workers: what the tests and the benchmark use, since it ships
tasks, shuffles and results between processes the way a real cluster does. `REPAIR_SPARK_CONF`
adds settings as JSON (docs/operations.md, "Spark").
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from dagster_pyspark import LazyPySparkResource

DEFAULT_MASTER = "local[2]"
LOCAL_MASTERS = {"local": DEFAULT_MASTER, "production": "local[*]"}
# Two executor processes of one core and 1 GiB: the smallest real cluster (tests, benchmark).
LOCAL_CLUSTER = "local-cluster[2,1,1024]"


def spark_config(
    master: str | None = None, extra: dict[str, Any] | None = None, env: str = "local"
) -> dict[str, Any]:
    """The Spark settings every session of the project uses."""
    master = master or os.environ.get("REPAIR_SPARK_MASTER") or LOCAL_MASTERS[env]
    config: dict[str, Any] = {
        "spark.master": master,
        "spark.app.name": "code-repair",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        # Workers are this interpreter (the project's venv, whatever PATH says) and the UI port is
        # not wanted. PySpark takes the workers' interpreter from PYSPARK_PYTHON when the context
        # starts (`spark.pyspark.python` is read by spark-submit only, which a session made here
        # never passes through), so it is set for this process.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        config |= {
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": "1g",
        }
    config |= json.loads(os.environ.get("REPAIR_SPARK_CONF", "{}"))
    return config | (extra or {})


def spark_resource(env: str = "local") -> LazyPySparkResource:
    """The `spark` resource for `jobs/environments.py` (see the module's docstring for the master)."""
    return LazyPySparkResource(spark_config=spark_config(env=env))


def local_spark_session(master: str = DEFAULT_MASTER):
    """A SparkSession outside Dagster (tests, CLI, benchmarks), with the same settings."""
    from dagster_pyspark.resources import spark_session_from_config

    return spark_session_from_config(spark_config(master))
