"""Spark for the stages that scale out (ingest replay, diagnostic reproduction), through
dagster-pyspark. The session starts on first use only: runs on the polars engine pay nothing.

`master` (else `REPAIR_SPARK_MASTER`, read when a run first uses Spark) names the cluster
(`spark://host:7077`, `yarn`, `k8s://...`); without it Spark runs in local mode, `local[2]` locally
and `local[*]` (every core of the run's machine) in production. `local-cluster[N,C,M]` runs N
executor JVMs of C cores and M MiB on this machine, each with its own Python workers: what the tests
and the benchmark use, since it ships tasks, shuffles and results between processes the way a real
cluster does. `REPAIR_SPARK_CONF` adds settings as JSON, and the resource's `spark_config` adds its
own over them (docs/operations.md, "Spark"). Like every setting (`resources.settings`), a changed
variable reaches the next run without reloading the code location.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, ClassVar

import dagster as dg
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from resources.settings import EnvSettings, FromEnv, environment_name

DEFAULT_MASTER = "local[2]"
LOCAL_MASTERS = {"local": DEFAULT_MASTER, "production": "local[*]"}
# Two executor processes of one core and 1 GiB: the smallest real cluster (tests, benchmark).
LOCAL_CLUSTER = "local-cluster[2,1,1024]"


def spark_config(
    master: str | None = None, extra: dict[str, Any] | None = None, env: str = "local"
) -> dict[str, Any]:
    """The Spark settings every session of the project uses, the environment read now."""
    master = master or dg.EnvVar("REPAIR_SPARK_MASTER").get_value() or LOCAL_MASTERS[env]
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
    config |= json.loads(dg.EnvVar("REPAIR_SPARK_CONF").get_value() or "{}")
    return config | (extra or {})


class SparkResource(EnvSettings, LazyPySparkResource):
    """dagster-pyspark's lazy session, configured when a run first uses it (see the module)."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "master": FromEnv("REPAIR_SPARK_MASTER", lambda: LOCAL_MASTERS[environment_name()]),
    }

    master: str | None = Field(
        default=None,
        description="The master URL of the cluster Spark runs on (e.g. spark://host:7077); empty: "
        "$REPAIR_SPARK_MASTER when a run starts Spark, else local[2] locally and local[*] in production.",
    )
    spark_config: dict[str, Any] = Field(
        default_factory=dict,
        description="Spark settings over the project's and $REPAIR_SPARK_CONF's (JSON), e.g. "
        '{"spark.executor.memory": "4g"}.',
    )

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    def session_config(self) -> dict[str, Any]:
        return spark_config(self.setting("master"), self.spark_config)

    def _init_session(self) -> None:
        from dagster_pyspark.resources import spark_session_from_config

        if self._spark_session is None:
            self._spark_session = spark_session_from_config(self.session_config())


def spark_resource() -> SparkResource:
    """The `spark` resource (`jobs/environments.py`); everything it needs is read at run time."""
    return SparkResource()


def local_spark_session(master: str = DEFAULT_MASTER):
    """A SparkSession outside Dagster (tests, CLI, benchmarks), with the same settings."""
    from dagster_pyspark.resources import spark_session_from_config

    return spark_session_from_config(spark_config(master))
