"""The executable benchmark's items from its sources, as the `function_repair_benchmark` asset and
`repair eval` both build them: the programs collected (stdlib modules, problems, benchmark files),
kept to the named ones, bugs injected and kept when the linter flags them and the tests break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.function_benchmark import BuildReport, Progress, build_function_benchmark
from evals.inject import KINDS
from evals.items import Item
from evals.loaders import LoadedBenchmark, collect_programs


@dataclass
class FunctionItems:
    collected: LoadedBenchmark  # the programs kept, their files' own bugs, the quarantined records
    items: list[Item]
    report: BuildReport
    kinds: tuple[str, ...]


def function_benchmark_items(
    *,
    stdlib: bool = True,
    problems: bool = True,
    handwritten: bool = True,
    files: Sequence[str | Path] = (),
    only_programs: Sequence[str] | None = None,
    kinds: Sequence[str] = (),
    functions_per_program: int = 3,
    tries_per_kind: int = 2,
    seed: int = 0,
    workers: int = 2,
    progress: Progress | None = None,
) -> FunctionItems:
    """The items of the executable benchmark; `only_programs` keeps the named programs (None: all),
    `kinds` the bug kinds injected (empty: all)."""
    collected = collect_programs(stdlib=stdlib, problems=problems, handwritten=handwritten, files=files)
    if only_programs is not None:
        collected.programs = [p for p in collected.programs if p.name in set(only_programs)]
        collected.bugs = [b for b in collected.bugs if b.program in set(only_programs)]
    chosen = tuple(str(kind) for kind in kinds or KINDS)
    items, report = build_function_benchmark(
        collected.programs, loaded_bugs=collected.bugs, kinds=chosen, functions_per_program=functions_per_program,
        tries_per_kind=tries_per_kind, seed=seed, workers=workers, progress=progress,
    )  # fmt: skip
    return FunctionItems(collected, items, report, chosen)


def reference_failures(collected: LoadedBenchmark) -> list[str]:
    """The programs whose reference (correct) code fails its own tests in the sandbox, with why."""
    from evals.sources import expected_tests
    from evals.testrun import run_tests

    failures = []
    for program in collected.programs:
        result = run_tests(program.files(), program.argv, expected_tests(program))
        if not result.ok:
            failures.append(f"{program.name}: {result.reason} ({result.outcome})")
    return failures
