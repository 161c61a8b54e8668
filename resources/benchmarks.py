"""The one list of benchmark sources, as a resource both sides read: `repair_dataset` keeps every
one of them out of training (dedup and the `no_leaks` check) and `function_repair_benchmark` builds
its items from the same programs. The list itself is `evals.named_benchmark_sources`."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

FILES_ENV = "REPAIR_BENCHMARK_FILES"


class BenchmarkSourcesResource(dg.ConfigurableResource):
    """Benchmark files beyond the built-in sources (reserved stdlib modules, `evals/problems/`)."""

    files: list[str] = Field(
        default_factory=list,
        description="DebugBench (JSON) or HumanEvalPack (JSONL) files the executable benchmark adds; "
        f"the dataset keeps them out of training too. From ${FILES_ENV} ({os.pathsep}-separated).",
    )

    @classmethod
    def from_env(cls) -> BenchmarkSourcesResource:
        return cls(files=[f for f in os.environ.get(FILES_ENV, "").split(os.pathsep) if f])

    def named_sources(self) -> dict[str, str]:
        """`{name: text}` of every benchmark source."""
        from evals.sources import named_benchmark_sources

        return named_benchmark_sources(self.files)
