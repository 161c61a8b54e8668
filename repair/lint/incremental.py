"""Linting a file's history the way the IDE saw it: the states of one file, in version order, go
to ONE warm language server (`WarmLinter`) as edits of one open document (`textDocument/didChange`),
so that the server keeps the stubs and the project's other files parsed and bound between states
instead of starting, parsing and binding everything again as a batch call does. ruff, which costs a
few milliseconds a state, stays batched: one `ruff check` over all the states given
(`repair.lint.lint_batch`), so that its diagnostics are the batched path's by construction.

`lint_file_states` is a plain function of plain values (`FileState`s in, `LintResult`s out, in the
same order), so that a process pool or a Spark executor can call it on its share of the files;
hand all the states of one file to the same call, or the edits lose their warm server. It starts
its own server and closes it before returning, unless the caller passes a long-lived `linter`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from repair.lint.batch import DEFAULT_TIMEOUT_S, LintResult, lint_batch
from repair.lint.config import DEFAULT_CONFIG, LintConfig
from repair.lint.files import DEFAULT_MAX_FILE_BYTES, BadInput
from repair.lint.normalize import sort_diagnostics
from repair.lint.tools import ToolFailure
from repair.lint.warm import WarmLinter


@dataclass(frozen=True)
class FileState:
    """One version of one file: `files` is the whole project at that moment (the target included,
    {relative path: text}); `file_id` names the file whose history this is (e.g. "repl/path"; empty:
    the target's path) and `order` the state's place in it (a version or a timestamp)."""

    files: Mapping[str, str | bytes]
    target: str
    file_id: str = ""
    order: int = 0

    @property
    def history(self) -> str:
        return self.file_id or self.target


def version_order(states: Sequence[FileState]) -> list[int]:
    """The indexes of `states`, file by file, each file's states in version order."""
    return sorted(range(len(states)), key=lambda i: (states[i].history, states[i].order, i))


def lint_file_states(
    states: Sequence[FileState],
    *,
    config: LintConfig = DEFAULT_CONFIG,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    linter: WarmLinter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LintResult]:
    """The diagnostics of each state's target, one result per state in input order, equal to what
    `lint_batch` reports for the same states. A state that cannot be linted (bad input, a linter
    that crashes or times out twice) gets its `error`; the others go on. `timeout_s` bounds the ruff
    call and each re-check; `progress(done, total)` is called as states are checked."""
    if linter is not None and linter.config != config:
        raise ValueError("the warm linter passed was started with another LintConfig")
    results = lint_batch(
        [s.files for s in states], [s.target for s in states],
        tools=("ruff",), timeout_s=timeout_s, config=config, max_file_bytes=max_file_bytes,
    )  # fmt: skip
    if not states:
        return results
    owned = linter is None
    if linter is None:
        linter = WarmLinter(config=config, timeout_s=timeout_s, max_file_bytes=max_file_bytes)
    try:
        for done, index in enumerate(version_order(states), 1):
            result, state = results[index], states[index]
            if result.error is None:  # bad input is refused by both tools alike: ruff said why
                try:
                    pyright = linter.check_pyright(state.files, state.target)
                    result.diagnostics = sort_diagnostics([*result.diagnostics, *pyright])
                except (BadInput, ToolFailure) as failure:
                    result.error = str(failure)
            if progress:
                progress(done, len(states))
    finally:
        if owned:
            linter.close()
    return results
