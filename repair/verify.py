"""Verification of a proposed repair: is the candidate diff a trustworthy training target?

A candidate (free teacher text holding a numbered line diff) is accepted only when every step holds:

1. extract and parse the `<diff>` block               -> `no_diff_block`, `malformed_diff`
2. the diff is not empty ("no fix")                   -> `empty_diff`
3. it applies unambiguously to the erroneous file     -> `hallucinated_line`, `line_out_of_range`
4. the result parses (`ast`) if the original did      -> `syntax_error`
5. re-linted with the project's other files:
   the linter ran                                     -> `lint_failed`
   the target diagnostic is gone                      -> `diagnostic_remains`
   no new error-severity diagnostic appeared          -> `new_error`
6. an optional judge (an LLM) agrees it is the fix    -> `judge_rejected`

"Gone" compares the target as (source, rule, message) counts before and after, so that a fix that
moves lines around does not make an untouched diagnostic look new. "New" compares *problems*, not
diagnostics (`problem_of`): an error after the fix is new only when no linter reported the same
problem before, whichever linter that was. pyright `reportUndefinedVariable` and ruff `F821` are one
problem (an undefined name, keyed by the name); any other diagnostic is its own problem (source,
rule, message). This is what makes masking harmless: ruff reports nothing but the syntax error for a
file that does not parse, so once a missing colon is added, its `F821` for a name pyright had
flagged all along is compared with pyright's view before the fix, and is not new. The "before" lint
of a state is cached: all candidates of one diagnostic share it.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from repair import pyparse
from repair.diagnostic import Diagnostic
from repair.linediff import DiffApplyError, DiffParseError, LineDiff, apply_diff, parse_diff

ACCEPTED = "accepted"
REJECTION_REASONS: tuple[str, ...] = (
    "no_diff_block",
    "malformed_diff",
    "empty_diff",
    "hallucinated_line",
    "line_out_of_range",
    "syntax_error",
    "lint_failed",
    "diagnostic_remains",
    "new_error",
    "judge_rejected",
)
VERDICTS: tuple[str, ...] = (ACCEPTED, *REJECTION_REASONS)


class LintFailure(RuntimeError):
    """The linter could not check a file (crash, timeout, bad input)."""


class Linter(Protocol):
    """What verification needs from the linting service (`repair.lint.WarmLinter` or
    `BatchLinter`): the diagnostics of `target` inside the project `files`."""

    def check(self, files: Mapping[str, str], target: str) -> list[Diagnostic]: ...


class BatchLinter:
    """The linting CLI run afresh for each check (one ruff and one basedpyright process per call):
    the naive baseline, and the fallback where no warm service runs. `check_many` lints many files
    in one process pair, which is how the synthesis assets verify a whole partition."""

    def __init__(self, **lint_options):
        self.lint_options = lint_options

    def check(self, files: Mapping[str, str], target: str) -> list[Diagnostic]:
        found = self.check_many([files], [target])[0]
        if isinstance(found, LintFailure):
            raise found
        return found

    def check_many(
        self, projects: Sequence[Mapping[str, str]], targets: Sequence[str]
    ) -> list[list[Diagnostic] | LintFailure]:
        from repair.lint import lint_batch

        results = lint_batch(projects, targets, **self.lint_options)
        return [r.diagnostics if r.ok else LintFailure(r.error) for r in results]

    def close(self) -> None:
        pass


Judge = Callable[[str, Diagnostic, str, str], tuple[bool, str]]
"""(original code, diagnostic, fixed code, file name) -> (is the right fix, why)."""


@dataclass(frozen=True)
class Verdict:
    verdict: str  # ACCEPTED or one of REJECTION_REASONS
    detail: str = ""
    diff: LineDiff | None = None
    fixed_content: str | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED


def diagnostic_counts(
    diagnostics: Sequence[Diagnostic], severity: str | None = None
) -> Counter[tuple[str, str, str]]:
    return Counter(
        (d.source, d.code, d.message) for d in diagnostics if severity is None or d.severity == severity
    )


# Rules of different linters that report the same problem, keyed by the quoted name in the message
# (pyright: `"math" is not defined`; ruff: "Undefined name `math`").
SAME_PROBLEM: dict[tuple[str, str], str] = {
    ("pyright", "reportUndefinedVariable"): "undefined name",
    ("ruff", "F821"): "undefined name",
}
_QUOTED_NAME = re.compile(r"[\"`]([^\"`]+)[\"`]")


def problem_of(diagnostic: Diagnostic) -> tuple[str, ...]:
    """What a diagnostic reports, independent of the linter when another linter reports the same
    problem (`SAME_PROBLEM`): `("undefined name", "math")`; else `(source, rule, message)`."""
    kind = SAME_PROBLEM.get((diagnostic.source, diagnostic.code))
    name = _QUOTED_NAME.search(diagnostic.message) if kind else None
    if kind and name:
        return (kind, name.group(1))
    return (diagnostic.source, diagnostic.code, diagnostic.message)


def problem_counts(diagnostics: Sequence[Diagnostic], severity: str | None = None) -> Counter[tuple[str, ...]]:
    """How often each problem was reported by the linter that reported it most often: two linters
    reporting the same undefined name at the same use count once, not twice."""
    by_source: dict[str, Counter[tuple[str, ...]]] = {}
    for d in diagnostics:
        if severity is None or d.severity == severity:
            by_source.setdefault(d.source, Counter())[problem_of(d)] += 1
    counts: Counter[tuple[str, ...]] = Counter()
    for found in by_source.values():
        counts |= found  # the union of Counters keeps the larger count
    return counts


def judge_lint(
    target: Diagnostic, before: Sequence[Diagnostic], after: Sequence[Diagnostic]
) -> Verdict | None:
    """The re-lint rule: None when the target is gone and no new error appeared, else the rejection."""
    key = (target.source, target.code, target.message)
    # A target the linter did not report before still counts once: it must not be there after.
    still = diagnostic_counts(after)[key]
    if still >= max(diagnostic_counts(before)[key], 1):
        return Verdict("diagnostic_remains", f"{target.describe()} still reported ({still}x)")
    # New problems, whichever linter reported them before (module docstring: masking).
    new = problem_counts(after, "error") - problem_counts(before, "error")
    new.pop(problem_of(target), None)
    if new:
        problem, _ = next(iter(new.items()))
        example = next(d for d in after if d.severity == "error" and problem_of(d) == problem)
        return Verdict(
            "new_error",
            f"new {example.source} {example.code}: {example.message}"
            + (f" (+{len(new) - 1} more)" if len(new) > 1 else ""),
        )
    return None


def parses(code: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pyparse.parse(code)
        except (SyntaxError, ValueError):
            return False
    return True


def prepare(code: str, raw_output: str) -> Verdict:
    """Steps 1-4 (no linter): a rejection, or an `ACCEPTED` verdict holding diff and fixed content
    that still has to pass the re-lint."""
    try:
        diff = parse_diff(raw_output)
    except DiffParseError as error:
        reason = "no_diff_block" if error.reason == "no_diff_block" else "malformed_diff"
        return Verdict(reason, str(error))
    if diff.is_empty:
        return Verdict("empty_diff", "the teacher proposed no fix", diff)
    try:
        fixed = apply_diff(code, diff)
    except DiffApplyError as error:
        return Verdict(error.reason, str(error), diff)
    if not parses(fixed) and parses(code):
        return Verdict("syntax_error", "the fixed file no longer parses", diff, fixed)
    return Verdict(ACCEPTED, "", diff, fixed)


def _state_key(files: Mapping[str, str], target: str) -> str:
    digest = hashlib.sha256(target.encode())
    for path in sorted(files):
        digest.update(b"\0" + path.encode() + b"\0" + files[path].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class Verifier:
    """Verifies candidates with one linter (warm service or CLI) and an optional judge."""

    def __init__(self, linter: Linter, judge: Judge | None = None, cache_size: int = 4096):
        self.linter = linter
        self.judge = judge
        self.cache_size = cache_size
        self._before: dict[str, list[Diagnostic] | LintFailure] = {}
        # A warm linter checks one file at a time; teachers may call from several threads.
        self._lint_lock = threading.Lock()

    def lint(self, files: Mapping[str, str], target: str) -> list[Diagnostic]:
        try:
            with self._lint_lock:
                return self.linter.check(files, target)
        except LintFailure:
            raise
        except Exception as error:  # a crashed or timed-out service is a verdict, not a crash
            raise LintFailure(f"{type(error).__name__}: {error}") from error

    def before(self, files: Mapping[str, str], target: str) -> list[Diagnostic]:
        """The original state's diagnostics, linted once per distinct state."""
        key = _state_key(files, target)
        if key not in self._before:
            if len(self._before) >= self.cache_size:
                self._before.pop(next(iter(self._before)))
            try:
                self._before[key] = self.lint(files, target)
            except LintFailure as failure:
                self._before[key] = failure
        found = self._before[key]
        if isinstance(found, LintFailure):
            raise found
        return found

    def verify(
        self,
        code: str,
        diagnostic: Diagnostic,
        raw_output: str,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> Verdict:
        prepared = prepare(code, raw_output)
        if not prepared.accepted:
            return prepared
        assert prepared.fixed_content is not None
        return self.relint(code, diagnostic, prepared, file_name, context_files)

    def relint(
        self,
        code: str,
        diagnostic: Diagnostic,
        prepared: Verdict,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> Verdict:
        """Step 5 and 6 for a candidate that passed `prepare`."""
        fixed = prepared.fixed_content
        assert fixed is not None
        others = {p: t for p, t in (context_files or {}).items() if p != file_name}
        try:
            before = self.before({**others, file_name: code}, file_name)
            after = self.lint({**others, file_name: fixed}, file_name)
        except LintFailure as failure:
            return Verdict("lint_failed", str(failure), prepared.diff, fixed)
        rejected = judge_lint(diagnostic, before, after)
        if rejected is not None:
            return Verdict(rejected.verdict, rejected.detail, prepared.diff, fixed)
        if self.judge is not None:
            agrees, why = self.judge(code, diagnostic, fixed, file_name)
            if not agrees:
                return Verdict("judge_rejected", why, prepared.diff, fixed)
        return Verdict(ACCEPTED, "", prepared.diff, fixed)
