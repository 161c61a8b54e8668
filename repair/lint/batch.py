"""Linting many file states at once: each batch becomes one temporary tree with one folder per
project (so that imports between a project's files resolve), checked by ONE ruff process and ONE
basedpyright process.

A linter process that crashes or outlives its timeout fails the batch it was given; the batch is
then split in halves and retried, down to the single state that fails, which gets the reason as its
`error` while every other state still gets its diagnostics.

Time is bounded twice (`LintBudget`): each linter call's timeout scales with the states it checks
(`min_timeout_s + per_state_s * n`, at most `timeout_s`), so a file that hangs the linter is found by
halving in about twice the first call's timeout instead of `log2(n)` full timeouts; and the whole
batch has a deadline (`deadline_s`), past which the states not yet linted get an `error` saying so
(nothing is dropped).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repair.diagnostic import Diagnostic
from repair.lint.config import DEFAULT_CONFIG, LintConfig
from repair.lint.files import DEFAULT_MAX_FILE_BYTES, BadInput, check_target, write_project
from repair.lint.normalize import from_ruff, pyright_diagnostics, sort_diagnostics
from repair.lint.tools import ToolFailure, basedpyright_command, run_ruff_json, run_tool, tail

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_DEADLINE_S = 900.0
TOOLS = ("ruff", "pyright")


@dataclass(frozen=True)
class LintBudget:
    """The time a batch may take (see the module doc)."""

    timeout_s: float = DEFAULT_TIMEOUT_S  # the longest one linter call may take
    deadline_s: float = DEFAULT_DEADLINE_S  # the whole batch, every tool and retry included
    min_timeout_s: float = 30.0  # a call on one state (linter start-up on a loaded machine)
    per_state_s: float = 0.5
    clock: Callable[[], float] = time.monotonic

    def start(self) -> float:
        return self.clock() + self.deadline_s

    def call_timeout(self, states: int, deadline: float) -> float:
        """The timeout of a call on `states` states; <= 0 once the deadline has passed."""
        scaled = min(self.timeout_s, self.min_timeout_s + self.per_state_s * states)
        return min(scaled, deadline - self.clock())


@dataclass
class LintResult:
    """The diagnostics of one target file, or why it could not be (fully) linted."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class TreeState:
    index: int
    folder: str  # relative to the batch root
    target: str  # relative to the project folder
    text: str

    @property
    def rel_target(self) -> str:
        return f"{self.folder}/{self.target}"


def _run_ruff(
    root: Path, states: list[TreeState], config: LintConfig, timeout_s: float
) -> dict[int, list[Diagnostic]]:
    items = run_ruff_json(
        ["--config", str(root / "ruff.toml"), *[s.rel_target for s in states]], cwd=root, timeout_s=timeout_s
    )
    by_path = {str(root / s.rel_target): s.index for s in states}
    found: dict[int, list[Diagnostic]] = {s.index: [] for s in states}
    for item in items:
        index = by_path.get(item["filename"])
        if index is not None:
            found[index].append(from_ruff(item))
    return found


def _run_pyright(
    root: Path, states: list[TreeState], config: LintConfig, timeout_s: float
) -> dict[int, list[Diagnostic]]:
    config.write_pyright_config(
        root, include=[s.rel_target for s in states], roots=sorted({s.folder for s in states})
    )
    cmd = [*basedpyright_command(), "--outputjson", "--project", str(root / "pyrightconfig.json")]
    done = run_tool("pyright", cmd, cwd=root, timeout_s=timeout_s)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise ToolFailure(
            f"pyright exited with {done.returncode} without a JSON report: {tail(done.stderr or done.stdout)}"
        ) from None
    by_path = {str(root / s.rel_target): s for s in states}
    raw: dict[int, list[dict]] = {s.index: [] for s in states}
    for item in report.get("generalDiagnostics", []):
        state = by_path.get(item.get("file", ""))
        if state is not None:
            raw[state.index].append(item)
    return {s.index: pyright_diagnostics(raw[s.index], s.text, config) for s in states}


_RUNNERS: dict[str, Callable[..., dict[int, list[Diagnostic]]]] = {"ruff": _run_ruff, "pyright": _run_pyright}


def _run_bisecting(
    tool: str,
    root: Path,
    states: list[TreeState],
    config: LintConfig,
    budget: LintBudget,
    deadline: float,
    errors: dict[int, str],
) -> dict[int, list[Diagnostic]]:
    timeout_s = budget.call_timeout(len(states), deadline)
    if timeout_s <= 0:
        for state in states:
            errors.setdefault(
                state.index, f"{tool}: not linted, the batch's deadline of {budget.deadline_s:g} s passed"
            )
        return {}
    try:
        return _RUNNERS[tool](root, states, config, timeout_s)
    except ToolFailure as failure:
        if len(states) == 1:
            errors[states[0].index] = str(failure)
            return {}
    half = len(states) // 2
    found = _run_bisecting(tool, root, states[:half], config, budget, deadline, errors)
    found.update(_run_bisecting(tool, root, states[half:], config, budget, deadline, errors))
    return found


def write_tree(
    root: Path,
    jobs: Sequence[tuple[str, Mapping[str, str | bytes], str]],
    config: LintConfig,
    max_file_bytes: int,
    results: list[LintResult],
) -> list[TreeState]:
    """Writes the batch's tree under `root`: `jobs` are (folder, project files, target), a folder is
    written once however many of its files are targets, and each folder is its own execution root
    in the `pyrightconfig.json` (and first-party in the `ruff.toml`). A target that cannot be
    linted gets its reason in `results[i].error`. Returns the states written."""
    states, written = [], set()
    for index, (folder, files, target) in enumerate(jobs):
        try:
            data = check_target(files, target, max_file_bytes)
        except BadInput as bad:
            results[index].error = str(bad)
            continue
        if folder not in written:
            write_project(root / folder, files, target, data, max_file_bytes)
            written.add(folder)
        states.append(TreeState(index, folder, target, data.decode("utf-8")))
    if states:
        config.write_ruff_config(root, src=sorted(written))
        config.write_pyright_config(root, include=[s.rel_target for s in states], roots=sorted(written))
    return states


def _lint(
    jobs: Sequence[tuple[str, Mapping[str, str | bytes], str]],
    budget: LintBudget,
    config: LintConfig,
    max_file_bytes: int,
    tools: Sequence[str],
) -> list[LintResult]:
    """`jobs`: (folder, project files, target), see `write_tree`."""
    results = [LintResult() for _ in jobs]
    if not jobs:
        return results
    deadline = budget.start()
    root = Path(tempfile.mkdtemp(prefix="repair-lint-")).resolve()
    try:
        states = write_tree(root, jobs, config, max_file_bytes, results)
        if states:
            errors: dict[int, str] = {}
            for tool in tools:
                found = _run_bisecting(tool, root, states, config, budget, deadline, errors)
                for index, diagnostics in found.items():
                    results[index].diagnostics.extend(diagnostics)
            for index, reason in errors.items():
                results[index].error = reason
        for result in results:
            result.diagnostics = sort_diagnostics(result.diagnostics)
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lint_batch(
    projects: Sequence[Mapping[str, str | bytes]],
    targets: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    deadline_s: float = DEFAULT_DEADLINE_S,
    config: LintConfig = DEFAULT_CONFIG,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    tools: Sequence[str] = TOOLS,
    budget: LintBudget | None = None,
) -> list[LintResult]:
    """The diagnostics of `targets[i]` inside `projects[i]` ({relative path: text}), one result per
    project in order. `timeout_s` bounds each linter process, `deadline_s` the whole batch (or pass
    a whole `budget`)."""
    if len(projects) != len(targets):
        raise ValueError(f"{len(projects)} projects but {len(targets)} targets")
    jobs = [(f"p{index:06d}", files, target) for index, (files, target) in enumerate(zip(projects, targets))]
    budget = budget or LintBudget(timeout_s=timeout_s, deadline_s=deadline_s)
    return _lint(jobs, budget, config, max_file_bytes, tools)


def lint_project(files: Mapping[str, str | bytes], targets: Sequence[str], **options) -> list[LintResult]:
    """Several files of ONE project (e.g. files on disk), written once and checked together;
    `options` as for `lint_batch`."""
    budget = options.pop("budget", None) or LintBudget(
        timeout_s=options.pop("timeout_s", DEFAULT_TIMEOUT_S),
        deadline_s=options.pop("deadline_s", DEFAULT_DEADLINE_S),
    )
    settings = {"config": DEFAULT_CONFIG, "max_file_bytes": DEFAULT_MAX_FILE_BYTES, "tools": TOOLS} | options
    return _lint([("project", files, target) for target in targets], budget=budget, **settings)
