"""Linting many file states through ONE warm language server, keeping its type cache: every state
is written, with its project's other files, to a folder of its own (the tree `lint_batch` writes, with
the same `pyrightconfig.json`: one execution root per folder), and the server checks the states one
by one as newly opened documents, their diagnostics pulled in turn. ruff, which costs a few
milliseconds a state, stays batched: one `ruff check` over all the states given
(`repair.lint.lint_batch`). So the diagnostics are the batched path's by construction.

Why documents, not edits: sent as edits of one open document (`textDocument/didChange`, the way the
IDE saw them), every state makes basedpyright build a new type evaluator (`markFilesDirty` ->
`_createNewEvaluator`), discarding every type it had evaluated (typeshed's included), so each state
paid for it again: 2.2x the CPU of the batched CLI on the demo day's states. A newly opened document
leaves the evaluator alone, so the server's cache grows across all the states of the call, as the
batched CLI's does within one batch, without a process start per batch.

`lint_file_states` is a plain function of plain values (`FileState`s in, `LintResult`s out, in the
same order), so that a process pool or a Spark executor can call it on its share of the states. It
starts its own server and closes it before returning.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from repair.lint.batch import DEFAULT_TIMEOUT_S, LintResult, lint_batch, write_tree
from repair.lint.config import DEFAULT_CONFIG, LintConfig
from repair.lint.files import DEFAULT_MAX_FILE_BYTES
from repair.lint.lsp import LspClient
from repair.lint.normalize import pyright_diagnostics, sort_diagnostics
from repair.lint.tools import ToolFailure
from repair.lint.warm import pull_diagnostics, start_server

START_TIMEOUT_S = 60.0


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


class _Server:
    """The language server on the states' tree, restarted after a failure (a crash, a check past
    its timeout): the next state is checked by a fresh one."""

    def __init__(self, root: Path, timeout_s: float):
        self.root, self.timeout_s = root, timeout_s
        self._client: LspClient | None = None

    def check(self, path: str, text: str) -> list[dict]:
        if self._client is None:
            self._client = start_server(self.root, START_TIMEOUT_S)
        uri = (self.root / path).as_uri()
        try:
            self._client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
            )
            return pull_diagnostics(self._client, uri, self.timeout_s)
        except ToolFailure:
            self.close()
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def lint_file_states(
    states: Sequence[FileState],
    *,
    config: LintConfig = DEFAULT_CONFIG,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> list[LintResult]:
    """The diagnostics of each state's target, one result per state in input order, equal to what
    `lint_batch` reports for the same states. A state that cannot be linted (bad input, a server
    that crashes or times out on it twice) gets its `error`; the others go on. `timeout_s` bounds
    the ruff call and each check; `progress(done, total)` is called as states are checked (each
    file's states in version order)."""
    results = lint_batch(
        [s.files for s in states], [s.target for s in states],
        tools=("ruff",), timeout_s=timeout_s, config=config, max_file_bytes=max_file_bytes,
    )  # fmt: skip
    if not states:
        return results
    root = Path(tempfile.mkdtemp(prefix="repair-warm-states-")).resolve()
    server = _Server(root, timeout_s)
    try:
        # Bad input is refused by both tools alike: ruff said why.
        indexes = [i for i, result in enumerate(results) if result.error is None]
        jobs = [(f"s{i:06d}", states[i].files, states[i].target) for i in indexes]
        written = write_tree(root, jobs, config, max_file_bytes, [LintResult() for _ in jobs])
        texts = {indexes[state.index]: state for state in written}
        for done, index in enumerate(version_order(states), 1):
            if index in texts:
                _check(server, texts[index].rel_target, texts[index].text, results[index], config)
            if progress:
                progress(done, len(states))
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)
    return results


def _check(server: _Server, path: str, text: str, result: LintResult, config: LintConfig) -> None:
    """basedpyright's diagnostics of one state into `result` (its error after two failures)."""
    for attempt in (1, 2):
        try:
            raw = server.check(path, text)
        except ToolFailure as failure:
            if attempt == 2:
                result.error = str(failure)
            continue
        result.diagnostics = sort_diagnostics([*result.diagnostics, *pyright_diagnostics(raw, text, config)])
        return
