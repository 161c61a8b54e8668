"""Verification throughput: verified candidates per second end to end, the cost split between
applying a diff (extract, parse, apply, ast) and re-linting, and the warm linting service against
running the linter CLI afresh per candidate (the naive way), side by side on the same candidates.

Workload: real standard-library modules (the corpus the simulator uses) with one injected mistake
each (a misspelled use of a name the module defines), linted to get the real diagnostic; the
candidates are the search repairer's candidate edits for it (right and wrong ones), as teachers
would propose them.

Run: `uv run python -m benchmarks bench_verify` (env: BENCH_VERIFY_STATES, BENCH_VERIFY_CLI,
BENCH_VERIFY_MAX_LINES: largest module taken, default 100 lines like the pipeline's states).
"""

from __future__ import annotations

import ast
import os
import platform
import random
import time

from repair.corpus import iter_source_files
from repair.linediff import apply_diff, make_diff, parse_diff, render_diff
from repair.lint import WarmLinter
from repair.teachers.search import candidates
from repair.verify import BatchLinter, Verifier, prepare

# The pipeline's error states are 37 lines at the median and 107 at most (a simulated day).
MAX_LINES = int(os.environ.get("BENCH_VERIFY_MAX_LINES", "100"))


def _misspell(name: str, rng: random.Random) -> str:
    i = rng.randrange(len(name) - 1)
    swapped = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return swapped if swapped != name else name + "x"


def make_states(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(path, broken code) for `count` small stdlib modules, one use of a defined name misspelled."""
    rng = random.Random(seed)
    states = []
    for path in iter_source_files():
        code = path.read_text(encoding="utf-8")
        if code.count("\n") > MAX_LINES:
            continue
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        defined = {
            n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and len(n.name) > 3
        }
        uses = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id in defined and isinstance(n.ctx, ast.Load)
        ]
        if not uses:
            continue
        use = rng.choice(uses)
        lines = code.split("\n")
        line = lines[use.lineno - 1]
        lines[use.lineno - 1] = line[: use.col_offset] + _misspell(use.id, rng) + line[use.end_col_offset :]
        states.append((path.name, "\n".join(lines)))
        if len(states) == count:
            break
    return states


def main() -> None:
    state_count = int(os.environ.get("BENCH_VERIFY_STATES", "30"))
    cli_count = int(os.environ.get("BENCH_VERIFY_CLI", "12"))
    work = []  # (code, diagnostic, raw diff)
    with WarmLinter() as linter:
        for _, code in make_states(state_count):
            found = [
                d for d in linter.check({"main.py": code}, "main.py") if d.code == "reportUndefinedVariable"
            ]
            if not found:
                continue
            for candidate in candidates(code, found[0])[:4]:
                work.append((code, found[0], render_diff(make_diff(code, candidate.fixed))))
        states = len({code for code, _, _ in work})
        print(f"{len(work)} candidates for {states} error states (modules of at most {MAX_LINES} lines)")

        # The cost split: applying alone, then the whole verification with the warm service.
        started = time.perf_counter()
        for code, _, raw in work:
            prepare(code, raw)
        apply_s = time.perf_counter() - started

        verifier = Verifier(linter)
        started = time.perf_counter()
        for code, _, _ in work:  # the "before" lint of each state, once (shared by its candidates)
            verifier.before({"main.py": code}, "main.py")
        before_s = time.perf_counter() - started
        started = time.perf_counter()
        warm_verdicts = [verifier.verify(code, diagnostic, raw) for code, diagnostic, raw in work]
        warm_s = time.perf_counter() - started
    accepted = sum(v.accepted for v in warm_verdicts)
    warm_total = warm_s + before_s
    relint_s = warm_s - apply_s

    # The naive way: the linter CLI (a fresh ruff + basedpyright) for every check.
    cli_verifier = Verifier(BatchLinter())
    subset = work[:cli_count]
    started = time.perf_counter()
    cli_verdicts = [cli_verifier.verify(code, diagnostic, raw) for code, diagnostic, raw in subset]
    cli_s = time.perf_counter() - started
    agree = sum(a.verdict == b.verdict for a, b in zip(warm_verdicts, cli_verdicts, strict=False))
    cli_checks = len({code for code, _, _ in subset}) + len(subset)  # befores + afters

    # The CLI batched over every candidate at once (how a big offline job would amortise it).
    batch = BatchLinter()
    started = time.perf_counter()
    batch.check_many(
        [{"main.py": apply_diff(code, parse_diff(raw))} for code, _, raw in work], ["main.py"] * len(work)
    )
    batch_s = time.perf_counter() - started

    per_warm = warm_total / len(work)
    per_cli = cli_s / len(subset)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(
        f"warm service end to end: {len(work)} candidates in {warm_total:.2f} s = {len(work) / warm_total:.1f} candidates/s"
    )
    print(f"  verified (accepted) per s: {accepted / warm_total:.1f} ({accepted} of {len(work)} accepted)")
    print(f"  cost split: apply {apply_s * 1000 / len(work):.2f} ms/candidate ({apply_s / warm_total:.1%}), "
          f"re-lint {relint_s * 1000 / len(work):.1f} ms/candidate, before-lint {before_s * 1000 / states:.1f} ms/state")  # fmt: skip
    print(
        f"CLI per candidate: {len(subset)} candidates in {cli_s:.2f} s = {per_cli * 1000:.0f} ms/candidate ({cli_checks} linter runs)"
    )
    print(
        f"warm vs CLI per candidate: {per_cli / per_warm:.1f}x faster; verdicts agree on {agree}/{len(subset)}"
    )
    print(
        f"CLI batched (one process pair for all {len(work)} fixed files, no verdicts): {batch_s:.2f} s = {batch_s * 1000 / len(work):.0f} ms/candidate"
    )
