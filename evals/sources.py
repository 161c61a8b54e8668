"""The programs with tests that the executable benchmark injects bugs into.

A `Program` is one target file (the code a repairer sees and may edit), the support files its tests
need, and how to run those tests inside the sandbox. Two sources live here:

- `stdlib_programs()`: the standard-library modules reserved for evaluation
  (`repair.corpus.EVAL_RESERVED_MODULES`, the one list) run against their own `Lib/test` suites.
  The module (or package) is copied into the sandbox folder, where it shadows the installed one:
  the runner imports it first, before `unittest` (which imports `fnmatch` and `gettext` itself),
  under `python -I` so that nothing else is on the path ahead of it.
- `problem_programs()`: the LeetCode-style problems written for this project in `evals/problems/`:
  one file each, the reference solution above a `# --- tests ---` line and plain `test_*`
  functions below it.

`evals.loaders` adds programs from the public DebugBench and HumanEvalPack formats.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from repair.corpus import EVAL_RESERVED_MODULES

PROBLEMS_DIR = Path(__file__).parent / "problems"
TESTS_MARKER = "# --- tests ---"

# Runs every `test_*` function of `tests.py`; exit status 0 only when all pass.
FUNCTION_TESTS_RUNNER = """\
import sys, traceback
import tests
failed = 0
names = sorted(n for n in dir(tests) if n.startswith("test_") and callable(getattr(tests, n)))
for name in names:
    try:
        getattr(tests, name)()
    except BaseException:
        failed += 1
        print(f"FAIL {name}", file=sys.stderr)
        traceback.print_exc()
print(f"{len(names) - failed}/{len(names)} tests passed")
sys.exit(1 if failed or not names else 0)
"""

# Imports the module under test from the sandbox folder first, then its stdlib unittest suite.
STDLIB_TESTS_RUNNER = """\
import importlib, os, sys, unittest
module_name, test_module = sys.argv[1], sys.argv[2]
module = importlib.import_module(module_name)
if not os.path.abspath(module.__file__).startswith(os.getcwd()):
    sys.exit(f"{module_name} was imported from {module.__file__}, not the sandbox copy")
suite = unittest.defaultTestLoader.loadTestsFromName(test_module)
result = unittest.TextTestRunner(verbosity=0).run(suite)
sys.exit(0 if result.wasSuccessful() and result.testsRun else 1)
"""


@dataclass(frozen=True)
class Program:
    """One target file with the tests that exercise it."""

    name: str  # unique across sources, e.g. `problem:two_sum`, `stdlib:textwrap`
    origin: str  # `problems`, `stdlib`, `debugbench`, `humanevalpack`
    target: str  # path of the target file inside the sandbox folder
    code: str  # the correct target file
    support_files: Mapping[str, str] = field(default_factory=dict)  # the tests and their runner
    argv: tuple[str, ...] = ("_run_tests.py",)  # what the sandbox runs (a Python script and args)
    functions: tuple[str, ...] = ()  # functions bugs may go into (empty: every function)
    timeout_s: float = 20.0

    def files(self, code: str | None = None) -> dict[str, str]:
        """Every file of the sandbox run, with `code` (default: the correct code) as the target."""
        return {**self.support_files, self.target: self.code if code is None else code}


def split_problem(text: str, name: str) -> tuple[str, str]:
    """(solution, tests) of a problem file; `ValueError` naming the file when the marker is missing."""
    solution, marker, tests = text.partition(TESTS_MARKER)
    if not marker:
        raise ValueError(f"problem {name}: no {TESTS_MARKER!r} line separating solution and tests")
    return solution.rstrip() + "\n", tests


def function_program(name: str, origin: str, solution: str, tests: str, timeout_s: float = 20.0) -> Program:
    """A program whose target is `solution.py` and whose tests are `test_*` functions in `tests`."""
    return Program(
        name=name,
        origin=origin,
        target="solution.py",
        code=solution,
        support_files={
            "tests.py": "from solution import *  # noqa: F403\n" + tests,
            "_run_tests.py": FUNCTION_TESTS_RUNNER,
        },
        timeout_s=timeout_s,
    )


def problem_programs(directory: Path = PROBLEMS_DIR) -> list[Program]:
    programs = []
    for path in sorted(directory.glob("*.py")):
        solution, tests = split_problem(path.read_text(encoding="utf-8"), path.name)
        programs.append(function_program(f"problem:{path.stem}", "problems", solution, tests))
    return programs


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_module_files(module: str, root: Path | None = None) -> dict[str, str]:
    """{path relative to the stdlib: text} of a reserved module (one file, or a package's files)."""
    root = root or stdlib_dir()
    single = root / f"{module}.py"
    if single.is_file():
        return {single.name: single.read_text(encoding="utf-8")}
    package = root / module
    if (package / "__init__.py").is_file():
        return {
            path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(package.rglob("*.py"))
            if "__pycache__" not in path.parts
        }
    raise FileNotFoundError(f"reserved module {module!r} is not in {root}")


def stdlib_programs(
    modules: tuple[str, ...] = EVAL_RESERVED_MODULES, root: Path | None = None
) -> list[Program]:
    """One program per reserved module: its main file is the target, its package's other files and
    the runner are support files; the tests are the interpreter's own `test.test_<module>`."""
    programs = []
    for module in modules:
        files = stdlib_module_files(module, root)
        target = f"{module}.py" if f"{module}.py" in files else f"{module}/__init__.py"
        support = {path: text for path, text in files.items() if path != target}
        support["_run_tests.py"] = STDLIB_TESTS_RUNNER
        programs.append(
            Program(
                name=f"stdlib:{module}",
                origin="stdlib",
                target=target,
                code=files[target],
                support_files=support,
                argv=("_run_tests.py", module, f"test.test_{module}"),
                timeout_s=60.0,
            )
        )
    return programs


def stdlib_test_source(module: str, root: Path | None = None) -> str:
    path = (root or stdlib_dir()) / "test" / f"test_{module}.py"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def named_benchmark_sources(extra_files: Iterable[str | PathLike] = ()) -> dict[str, str]:
    """Every source text the benchmarks are built from, `{name: text}`: each reserved stdlib module
    file and its `Lib/test` suite (`stdlib:<module>/<path>`, `stdlib-test:<module>`), each problem's
    solution and tests (`problem:<name>`), and the programs of any DebugBench / HumanEvalPack file in
    `extra_files` (`debugbench:<slug>`, `humanevalpack:<task_id>`, buggy variants included).

    The held-out `repair_benchmark` needs no entry here: its items come from projects that the
    dataset's split rule (`repair.dataset`) never puts in training.
    """
    from evals.loaders import load_benchmark_file  # the loaders import this module

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


def benchmark_sources(extra_files: Iterable[str | PathLike] = ()) -> list[str]:
    """The texts of `named_benchmark_sources`, in name order: what the dataset's dedup indexes."""
    named = named_benchmark_sources(extra_files)
    return [named[name] for name in sorted(named)]
