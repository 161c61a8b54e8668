"""Evaluation: the two benchmarks (`function_repair_benchmark`, executable; `repair_benchmark`,
production-style), their loaders, the sandbox candidate code runs in, and the harness that compares
repairers on them. `docs/evaluation.md` describes them for operators.

`benchmark_sources()` (texts) / `named_benchmark_sources()` (`{name: text}`) are what the dataset
stage's dedup reads so that no benchmark text leaks into training.
"""

from evals.sources import benchmark_sources, named_benchmark_sources

__all__ = ["benchmark_sources", "named_benchmark_sources"]
