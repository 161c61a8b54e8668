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

import ast
import functools
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from repair import pyparse
from repair.corpus import EVAL_RESERVED_MODULES

PROBLEMS_DIR = Path(__file__).parent / "problems"
HANDWRITTEN_DIR = PROBLEMS_DIR / "handwritten"
TESTS_MARKER = "# --- tests ---"

# The report channel of `evals.testrun`, opened before anything of the candidate runs: reads the nonce
# from the first inherited pipe (then closes it) and returns the function that writes
# `{nonce, ran, passed}` to the second; the runner holds it in a local only. Without `--channel=`
# (run by hand) it prints the report.
_CHANNEL = """\
import os, sys
def _open_channel(write=os.write, close=os.close):
    flag = next((a for a in sys.argv[1:] if a.startswith("--channel=")), None)
    if flag is None:
        return lambda ran, passed: print("report: ran %d, passed %d" % (ran, passed))
    sys.argv.remove(flag)
    nonce_fd, report_fd = (int(fd) for fd in flag[len("--channel="):].split(","))
    nonce = b""
    while True:
        chunk = os.read(nonce_fd, 4096)
        if not chunk:
            break
        nonce += chunk
    close(nonce_fd)
    message = b'{"nonce": "' + nonce + b'", "ran": %d, "passed": %d}\\n'
    def report(ran, passed):
        write(report_fd, message % (ran, passed))
        close(report_fd)
    return report
"""

# Runs every `test_*` function of `tests.py` (which imports the candidate) and reports how many ran
# and passed; the counts live in a function's locals, out of the candidate's reach.
FUNCTION_TESTS_RUNNER = _CHANNEL + """\
import traceback


def main(report):
    try:
        import tests
    except BaseException:  # the candidate does not import, or exits while importing
        traceback.print_exc()
        report(0, 0)
        return 1
    names = sorted(n for n in dir(tests) if n.startswith("test_") and callable(getattr(tests, n)))
    ran = passed = 0
    for name in names:
        ran += 1
        try:
            getattr(tests, name)()
        except BaseException:
            print(f"FAIL {name}", file=sys.stderr)
            traceback.print_exc()
        else:
            passed += 1
    print(f"{passed}/{ran} tests passed")
    report(ran, passed)
    return 0 if passed == ran and ran else 1


sys.exit(main(_open_channel()))  # no global name for the candidate to call
"""

# Imports the module under test from the sandbox folder first (it shadows the installed one), then the
# interpreter's `unittest`, refuses to run when the candidate patched unittest (a method that is not
# unittest's own code), runs the stdlib suite with a plain `TestResult` and reports the counts.
STDLIB_TESTS_RUNNER = _CHANNEL + """\
import importlib, inspect, sysconfig


def patched(unittest):
    home = os.path.dirname(os.path.abspath(unittest.__file__))
    if home != os.path.join(os.path.abspath(sysconfig.get_paths()["stdlib"]), "unittest"):
        return f"unittest imported from {home}"
    for cls in (unittest.TestCase, unittest.TestSuite, unittest.suite.BaseTestSuite, unittest.TestResult,
                unittest.TestLoader):
        for name, value in vars(cls).items():
            value = getattr(value, "__func__", value)
            if not callable(value) or isinstance(value, type):
                continue
            value = inspect.unwrap(value)  # `subTest` is a contextmanager around unittest's function
            if isinstance(value, type):
                continue
            code = getattr(value, "__code__", None) if inspect.isfunction(value) else None
            if code is None or os.path.dirname(os.path.abspath(code.co_filename)) != home:
                return f"unittest.{cls.__name__}.{name} is not unittest's own"
    return None


def main(report):
    module_name, test_module = sys.argv[1], sys.argv[2]
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:
        print(f"{module_name} does not import: {error!r}", file=sys.stderr)
        report(0, 0)
        return 1
    if not os.path.abspath(module.__file__).startswith(os.getcwd()):
        print(f"{module_name} was imported from {module.__file__}, not the sandbox copy", file=sys.stderr)
        report(0, 0)
        return 1
    import unittest

    why = patched(unittest)
    if why:
        print(f"refusing to run: {why}", file=sys.stderr)
        report(0, 0)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromName(test_module)
    result = unittest.TestResult()
    suite.run(result)
    ran = result.testsRun
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    for test, trace in result.failures + result.errors:
        print(f"FAIL {test}\\n{trace}", file=sys.stderr)
    print(f"{ran - failed}/{ran} tests passed")
    report(ran, ran - failed)
    return 0 if ran and not failed else 1


sys.exit(main(_open_channel()))  # no global name for the candidate to call
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


def expected_tests(program: Program) -> int:
    """How many tests a run of `program` must report, counted outside any candidate: the `test_*`
    functions of its `tests.py` (read from the source), or the size of its stdlib suite (loaded in
    this process from the interpreter's own modules)."""
    if program.support_files.get(program.argv[0]) == STDLIB_TESTS_RUNNER:
        return _stdlib_suite_size(program.argv[2])
    tests = pyparse.parse(program.support_files.get("tests.py", ""))
    return len({node.name for node in tests.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")})


@functools.cache
def _stdlib_suite_size(test_module: str) -> int:
    import unittest

    return unittest.defaultTestLoader.loadTestsFromName(test_module).countTestCases()


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
    for path in sorted(HANDWRITTEN_DIR.rglob("*.txt")):
        texts[f"handwritten:{path.relative_to(HANDWRITTEN_DIR).as_posix()}"] = path.read_text(encoding="utf-8")
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
