"""Evaluation: the two benchmarks (`function_repair_benchmark`, executable; `repair_benchmark`,
production-style), their loaders, the sandbox candidate code runs in, and the harness that compares
repairers on them. `docs/evaluation.md` describes them for operators.

`benchmark_sources()` is what the dataset stage's dedup reads so that no benchmark text leaks into
training.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike


def benchmark_sources(extra_files: Iterable[str | PathLike] = ()) -> dict[str, str]:
    """Every source text the benchmarks are built from, `{name: text}`: each reserved stdlib module
    file and its `Lib/test` suite (`stdlib:<module>/<path>`, `stdlib-test:<module>`), each problem's
    solution and tests (`problem:<name>`), and the programs of any DebugBench / HumanEvalPack file in
    `extra_files` (`debugbench:<slug>`, `humanevalpack:<task_id>`, buggy variants included).

    The held-out `repair_benchmark` needs no entry here: its items come from projects that the
    dataset's split rule (`repair.dataset`) never puts in training.
    """
    from pathlib import Path

    from evals.loaders import load_benchmark_file
    from evals.sources import PROBLEMS_DIR, stdlib_module_files, stdlib_test_source
    from repair.corpus import EVAL_RESERVED_MODULES

    texts: dict[str, str] = {}
    for module in EVAL_RESERVED_MODULES:
        for path, text in stdlib_module_files(module).items():
            texts[f"stdlib:{module}/{path}"] = text
        test = stdlib_test_source(module)
        if test:
            texts[f"stdlib-test:{module}"] = test
    for path in sorted(PROBLEMS_DIR.glob("*.py")):
        texts[f"problem:{path.stem}"] = path.read_text(encoding="utf-8")
    for file in extra_files:
        loaded = load_benchmark_file(Path(file))
        for program in loaded.programs:
            texts[program.name] = program.code
        for bug in loaded.bugs:
            texts[f"{bug.program}#buggy"] = bug.buggy_code
    return texts
