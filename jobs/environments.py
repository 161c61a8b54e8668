"""One variable, `REPAIR_ENV`, switches every resource between the embedded default (`local`) and
production (`production`); it is read when the code location loads, since it decides which assets
exist (the simulator is local only). Every other setting is read when a run uses it: resource fields
left empty take their environment variable then (`resources.settings`), and required ones are
`dg.EnvVar`s that Dagster resolves when the run starts. `docs/operations.md` lists them.
"""

from __future__ import annotations

import os

import dagster as dg

from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.linter import LinterResource
from resources.object_store import ObjectStoreResource, StoreBackend
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
        object_store = ObjectStoreResource(backend=StoreBackend.gcs, bucket=dg.EnvVar("REPAIR_GCS_BUCKET"))
    else:
        object_store = ObjectStoreResource(backend=StoreBackend.local)
    return {
        "object_store": object_store,
        "io_manager": ObjectStoreIOManager(object_store=object_store),
        # Each stage adds its resources below, one line each, built for `env`.
        "spark": spark_resource(),
        "linter": LinterResource(),
        "teacher_lm": TeacherLMResource(),
        "triton": TritonResource.from_env(env),
        "benchmark_sources": BenchmarkSourcesResource(),
    }
