"""One variable, `REPAIR_ENV`, switches every resource between the embedded default (`local`) and
production (`production`). Settings come from environment variables so that the same code location
runs in both; `docs/operations.md` lists them.
"""

from __future__ import annotations

import os

import dagster as dg

from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.linter import linter_resource
from resources.object_store import DEFAULT_LOCAL_ROOT, ObjectStoreResource
from resources.spark import spark_resource
from resources.teacher_lm import TeacherLMResource
from resources.triton import TritonResource

ENVIRONMENTS = ("local", "production")


def current_environment() -> str:
    env = os.environ.get("REPAIR_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ValueError(f"REPAIR_ENV={env!r}: use one of {', '.join(ENVIRONMENTS)}")
    return env


def build_resources(env: str | None = None) -> dict[str, object]:
    env = env or current_environment()
    if env == "production":
        object_store = ObjectStoreResource(
            backend="gcs",
            bucket=dg.EnvVar("REPAIR_GCS_BUCKET"),
            prefix=os.environ.get("REPAIR_GCS_PREFIX", ""),
            project=os.environ.get("REPAIR_GCP_PROJECT", ""),
        )
    else:
        object_store = ObjectStoreResource(
            backend="local", root=os.environ.get("REPAIR_STORE_ROOT", DEFAULT_LOCAL_ROOT)
        )
    return {
        "object_store": object_store,
        "io_manager": ObjectStoreIOManager(object_store=object_store),
        # Each stage adds its resources below, one line each, built for `env`.
        "spark": spark_resource(env),
        "linter": linter_resource(env),
        "teacher_lm": TeacherLMResource.from_env(env),
        "triton": TritonResource.from_env(env),
        "benchmark_sources": BenchmarkSourcesResource.from_env(),
    }
