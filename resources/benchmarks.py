"""The one list of benchmark sources, as a resource both sides read: `repair_dataset` keeps every
one of them out of training (dedup and the `no_leaks` check) and `function_repair_benchmark` builds
its items from the same programs. The list itself is `evals.named_benchmark_sources`."""

from __future__ import annotations

import os
from typing import ClassVar

import dagster as dg
from pydantic import Field

from resources.settings import EnvSettings, FromEnv

FILES_ENV = "REPAIR_BENCHMARK_FILES"


class BenchmarkSourcesResource(EnvSettings, dg.ConfigurableResource):
    """Benchmark files beyond the built-in sources (reserved stdlib modules, `evals/problems/`)."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "files": FromEnv(FILES_ENV, [], lambda value: [f for f in value.split(os.pathsep) if f]),
    }

    files: list[str] | None = Field(
        default=None,
        description="DebugBench (JSON) or HumanEvalPack (JSONL) files the executable benchmark adds; "
        f"the dataset keeps them out of training too. Empty: ${FILES_ENV} ({os.pathsep}-separated) when the "
        "run reads it, else none.",
    )

    def benchmark_files(self) -> list[str]:
        return list(self.setting("files"))

    def named_sources(self) -> dict[str, str]:
        """`{name: text}` of every benchmark source."""
        from evals.sources import named_benchmark_sources

        return named_benchmark_sources(self.benchmark_files())
