"""The executable benchmark: DebugBench-style bugs injected into programs with tests.

`build_function_benchmark(programs)`:

1. finds the functions each program's tests exercise (one traced run of the tests in the sandbox)
   and picks up to `functions_per_program` of them (seeded);
2. for each picked function and bug kind, takes up to `tries_per_kind` injection sites
   (`evals.inject`), plus any bugs a loader brought (DebugBench's own);
3. lints every candidate in one batch with the shared linter and keeps those with a diagnostic the
   correct program does not have (the language server flags it); that diagnostic, an error first and
   then the one nearest the change, becomes the item's diagnostic;
4. per (program, function, kind), runs the program's tests on the flagged tries in order and keeps
   the first the tests reject (a syntax error cannot be imported, so it breaks every test without a
   run); the tries after it are not run.

Every candidate not kept is counted under the reason it was dropped (`BuildReport.dropped`), so the
counts reconcile: candidates = items + dropped.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from evals.inject import KINDS, Bug, candidate_bugs, compiles, function_spans
from evals.items import FUNCTION_BENCHMARK, Item, item_id
from evals.sandbox import Limits, run_python
from evals.sources import Program, expected_tests
from evals.testrun import run_tests
from repair.diagnostic import Diagnostic

TRACE_RUNNER = "_trace_run.py"
TRACE_MARKER = "__EXERCISED__"

# Runs the program's test script under a profile hook and prints the qualified names of the
# target file's functions that were called.
_TRACE_SCRIPT = """\
import json, os, runpy, sys, threading
target = os.path.abspath(sys.argv[1])
called = set()
def hook(frame, event, arg):
    if event == "call" and frame.f_code.co_filename == target:
        called.add(frame.f_code.co_qualname)
sys.setprofile(hook)
threading.setprofile(hook)
sys.argv = sys.argv[2:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
finally:
    sys.setprofile(None)
    print("__EXERCISED__" + json.dumps(sorted(called)))
"""

Linter = Callable[[Sequence[dict[str, str]], Sequence[str]], list[list[Diagnostic] | Exception]]
Progress = Callable[[str], None]


@dataclass
class BuildReport:
    candidates: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    programs_skipped: dict[str, str] = field(default_factory=dict)  # program -> reason

    def as_metadata(self) -> dict[str, object]:
        return {"candidates": self.candidates, "dropped": dict(self.dropped),
                "programs_skipped": dict(self.programs_skipped)}


def default_linter(projects: Sequence[dict[str, str]], targets: Sequence[str]) -> list:
    """The shared linting service, one batch (engineer C's `lint_batch` via `BatchLinter`)."""
    from repair.verify import BatchLinter

    return BatchLinter().check_many(projects, targets)


def exercised_functions(program: Program, limits: Limits | None = None) -> list[str]:
    """Qualified names of the target's functions that its tests call (a traced run)."""
    files = {**program.files(), TRACE_RUNNER: _TRACE_SCRIPT}
    argv = (TRACE_RUNNER, program.target, *program.argv)
    result = run_python(files, argv, limits or Limits(wall_s=program.timeout_s * 3, cpu_s=int(program.timeout_s * 3)))
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(TRACE_MARKER):
            return json.loads(line[len(TRACE_MARKER):])
    raise RuntimeError(f"{program.name}: traced test run printed no result ({result.outcome}): {result.stderr[-300:]}")


def pick_functions(program: Program, exercised: Sequence[str], count: int, seed: int) -> list[str]:
    """Up to `count` exercised functions with at least two lines of body, seeded."""
    spans = function_spans(program.code)
    allowed = set(program.functions) if program.functions else set(spans)
    eligible = sorted(n for n in set(exercised) & allowed if n in spans and spans[n][1] - spans[n][0] >= 2)
    random.Random(f"{seed}|{program.name}").shuffle(eligible)
    return eligible[:count]


def new_diagnostic(bug: Bug, clean: Sequence[Diagnostic], buggy: Sequence[Diagnostic]) -> Diagnostic | None:
    """The diagnostic the bug introduced: not among the correct program's (same source, rule and
    message, counted), an error before a warning, then nearest the changed line."""
    remaining = Counter((d.source, d.code, d.message) for d in clean)
    introduced = []
    for diagnostic in buggy:
        key = (diagnostic.source, diagnostic.code, diagnostic.message)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            introduced.append(diagnostic)
    if not introduced:
        return None
    line = bug.line or min(d.line1 for d in introduced)
    return min(
        introduced,
        key=lambda d: (d.severity != "error", abs(d.line1 - line), d.start_line, d.start_character, d.source),
    )


def _as_item(program: Program, bug: Bug, diagnostic: Diagnostic) -> Item:
    return Item(
        item_id=item_id(FUNCTION_BENCHMARK, program.name, bug.kind, bug.function, bug.line, bug.buggy_code),
        benchmark=FUNCTION_BENCHMARK,
        group=bug.kind,
        origin=program.origin,
        file=program.target,
        content=bug.buggy_code,
        diagnostic=diagnostic,
        fixed_content=bug.fixed_code or program.code,
        support_files=dict(program.support_files),
        argv=tuple(program.argv),
        timeout_s=program.timeout_s,
        expected_tests=expected_tests(program),
        bug_origin=bug.origin,
        reference_source="handwritten fix" if bug.fixed_code else "program",
    )


def build_function_benchmark(
    programs: Sequence[Program],
    *,
    loaded_bugs: Sequence[Bug] = (),
    kinds: Sequence[str] = KINDS,
    functions_per_program: int = 3,
    tries_per_kind: int = 2,
    seed: int = 0,
    workers: int = 2,
    linter: Linter = default_linter,
    progress: Progress | None = None,
) -> tuple[list[Item], BuildReport]:
    say = progress or (lambda message: None)
    report = BuildReport()
    by_name = {p.name: p for p in programs}
    candidates: list[Bug] = [bug for bug in loaded_bugs if bug.program in by_name]
    if len(loaded_bugs) > len(candidates):
        report.dropped["program not loaded"] += len(loaded_bugs) - len(candidates)
    report.candidates += len(loaded_bugs)

    def traced(program: Program) -> list[str] | str:
        try:
            return exercised_functions(program)
        except RuntimeError as error:
            return str(error)

    # Only the traced runs (subprocesses) go to threads: parses take turns (`repair.pyparse`), so
    # threads would gain nothing on them.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (program, exercised) in enumerate(zip(programs, pool.map(traced, programs)), 1):
            if isinstance(exercised, str):
                report.programs_skipped[program.name] = exercised
                continue
            picked = pick_functions(program, exercised, functions_per_program, seed)
            for function in picked:
                for kind in kinds:
                    candidates.extend(candidate_bugs(program.name, program.code, kind, function, seed)[:tries_per_kind])
            if done % 10 == 0 or done == len(programs):
                say(f"traced {done}/{len(programs)} programs, {len(candidates)} candidate bugs")
    report.candidates += len(candidates) - sum(1 for b in loaded_bugs if b.program in by_name)

    # One lint batch: every program's correct code first, then every candidate.
    names = sorted({bug.program for bug in candidates})
    projects = [by_name[n].files() for n in names] + [by_name[b.program].files(b.buggy_code) for b in candidates]
    targets = [by_name[n].target for n in names] + [by_name[b.program].target for b in candidates]
    say(f"linting {len(projects)} files")
    linted = linter(projects, targets)
    clean = dict(zip(names, linted[: len(names)], strict=True))
    flagged: list[tuple[Bug, Diagnostic]] = []
    for bug, buggy in zip(candidates, linted[len(names):], strict=True):
        before = clean[bug.program]
        if isinstance(buggy, Exception) or isinstance(before, Exception):
            report.dropped["lint failed"] += 1
            continue
        diagnostic = new_diagnostic(bug, before, buggy)
        if diagnostic is None:
            report.dropped["not flagged by the linter"] += 1
        else:
            flagged.append((bug, diagnostic))

    def breaks_tests(bug: Bug) -> bool:
        if not compiles(bug.buggy_code):
            return True
        program = by_name[bug.program]
        limits = Limits(wall_s=program.timeout_s, cpu_s=int(program.timeout_s))
        return not run_tests(program.files(bug.buggy_code), program.argv, expected_tests(program), limits).ok

    # Tries of one slot (program, function, kind) run in order until one breaks the tests; the
    # tries after it are not run. Slots run in parallel.
    slots: dict[tuple[str, str, str], list[tuple[Bug, Diagnostic]]] = {}
    for bug, diagnostic in flagged:
        slots.setdefault((bug.program, bug.function, bug.kind), []).append((bug, diagnostic))

    def first_breaking(tries: list[tuple[Bug, Diagnostic]]) -> tuple[int | None, int]:
        """(index of the kept try or None, how many tries ran and kept passing)."""
        for index, (bug, _) in enumerate(tries):
            if breaks_tests(bug):
                return index, index
        return None, len(tries)

    say(f"running tests for {len(slots)} (program, function, kind) slots ({len(flagged)} flagged bugs)")
    items: list[Item] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for tries, (kept, passing) in zip(slots.values(), pool.map(first_breaking, slots.values()), strict=True):
            if passing:
                report.dropped["tests still pass"] += passing
            if kept is not None:
                bug, diagnostic = tries[kept]
                items.append(_as_item(by_name[bug.program], bug, diagnostic))
                if len(tries) > kept + 1:
                    report.dropped["another try of the same slot was kept"] += len(tries) - kept - 1
    say(f"{len(items)} items from {report.candidates} candidates")
    return items, report
