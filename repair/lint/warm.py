"""Warm mode: one long-lived `basedpyright-langserver --stdio` plus ruff on stdin, for re-checking
one edited file in milliseconds (verification applies thousands of candidate edits).

The project lives in a private workspace folder with the same `pyrightconfig.json`/`ruff.toml` as
batch mode. The target file is an open document only (`didOpen`, then `didChange` with a new
version per check); the project's other files are kept on disk and, when they change between
checks, announced with `workspace/didChangeWatchedFiles` so that imports see them. A check pulls
the document's diagnostics (`textDocument/diagnostic`), which the server answers once it has
checked the new text. Recently checked documents stay open (see `_open`). A server that crashes or
stops answering is restarted once per check; `close()` (or leaving the `with` block) shuts it down.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from repair.diagnostic import Diagnostic
from repair.lint.config import DEFAULT_CONFIG, LintConfig
from repair.lint.files import (
    DEFAULT_MAX_FILE_BYTES,
    BadInput,
    check_path,
    check_target,
    encode_text,
    is_python_path,
)
from repair.lint.lsp import LspClient
from repair.lint.normalize import from_ruff, pyright_diagnostics, sort_diagnostics
from repair.lint.tools import ToolFailure, langserver_command, ruff_command, run_tool, tail

_FILE_CREATED, _FILE_CHANGED, _FILE_DELETED = 1, 2, 3


def _answer_request(method: str, params: Any) -> Any:
    if method == "workspace/configuration":
        return [
            {"diagnosticMode": "openFilesOnly"} if item.get("section", "").endswith("analysis") else {}
            for item in params.get("items", [])
        ]
    return None


def start_server(root: Path, start_timeout_s: float) -> LspClient:
    """A `basedpyright-langserver` on the workspace `root` (its `pyrightconfig.json`), initialized:
    open documents only are checked, and their diagnostics are pulled."""
    client = LspClient(langserver_command(), root, answer_request=_answer_request)
    root_uri = root.as_uri()
    try:
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root_uri,
                "workspaceFolders": [{"uri": root_uri, "name": "project"}],
                "capabilities": {
                    # Pull diagnostics: a `textDocument/diagnostic` request is answered as soon as
                    # the file is checked, where pushed ones wait out a 250 ms typing back-off.
                    "textDocument": {"diagnostic": {"dynamicRegistration": True}},
                    "workspace": {
                        "configuration": True,
                        "workspaceFolders": True,
                        "didChangeWatchedFiles": {"dynamicRegistration": True},
                    },
                },
            },
            start_timeout_s,
        )
    except ToolFailure:
        client.close()
        raise
    client.notify("initialized", {})
    return client


def pull_diagnostics(client: LspClient, uri: str, timeout_s: float) -> list[dict[str, Any]]:
    """The server's diagnostics of the open document `uri`, once it has checked its last text."""
    report = client.request("textDocument/diagnostic", {"textDocument": {"uri": uri}}, timeout_s)
    return report.get("items", []) if report else []


class WarmLinter:
    """`with WarmLinter() as linter: linter.check(files, "main.py")`. Not thread-safe: one check
    at a time (use one WarmLinter per worker)."""

    def __init__(
        self,
        *,
        config: LintConfig = DEFAULT_CONFIG,
        timeout_s: float = 30.0,
        start_timeout_s: float = 60.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_open_documents: int = 32,
    ):
        self.config = config
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.max_file_bytes = max_file_bytes
        self.max_open_documents = max_open_documents
        self.restarts = 0
        self._client: LspClient | None = None
        self._root: Path | None = None
        self._disk: dict[str, bytes] = {}
        # Open documents, least recently checked first. Closing a document lets the server drop
        # the modules only it imported (typeshed stubs included), which it would then parse and
        # bind again for the next file: keeping recent ones open makes new files ~5x cheaper.
        self._open: OrderedDict[str, str] = OrderedDict()
        self._version = 0

    # -- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="repair-warm-")).resolve()
            self.config.write_pyright_config(self._root)
            self.config.write_ruff_config(self._root)
        self._client = start_server(self._root, self.start_timeout_s)
        self._open.clear()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self._disk = {}
        self._open.clear()

    @property
    def server_pid(self) -> int | None:
        """The language server's process id (for monitoring its CPU and memory)."""
        return self._client.pid if self._client is not None else None

    def restart(self) -> None:
        """A fresh server on the same workspace (the files on disk are kept)."""
        if self._client is not None:
            self._client.close()
        self.restarts += 1
        self.start()

    # -- checking

    def check(self, files: Mapping[str, str | bytes], target: str) -> list[Diagnostic]:
        """The diagnostics of `target` in the project `files`. Raises `BadInput` for a target that
        cannot be linted and `ToolFailure` when the server fails twice in a row."""
        if self._client is None:
            self.start()
        target_bytes = check_target(files, target, self.max_file_bytes)
        ruff = _RuffThread(self._root, target, target_bytes, self.timeout_s)
        ruff.start()
        try:
            pyright = self._checked_pyright(files, target, target_bytes)
        finally:
            ruff.join()
        if ruff.failure is not None:
            raise ruff.failure
        return sort_diagnostics([*ruff.diagnostics, *pyright])

    def check_pyright(self, files: Mapping[str, str | bytes], target: str) -> list[Diagnostic]:
        """Only basedpyright's diagnostics of `target` (for callers that run ruff batched over
        many states, `repair.lint.incremental`); raises as `check` does."""
        if self._client is None:
            self.start()
        return sort_diagnostics(self._checked_pyright(files, target, check_target(files, target, self.max_file_bytes)))

    def _checked_pyright(self, files: Mapping[str, str | bytes], target: str, target_bytes: bytes) -> list[Diagnostic]:
        """The server's diagnostics; a server that fails is restarted and asked once more."""
        try:
            raw = self._pyright(files, target, target_bytes)
        except ToolFailure:
            self.restart()
            try:
                raw = self._pyright(files, target, target_bytes)
            except ToolFailure:
                self.restart()  # leave a working server for the next check
                raise
        return pyright_diagnostics(raw, target_bytes.decode("utf-8"), self.config)

    def _pyright(self, files: Mapping[str, str | bytes], target: str, target_bytes: bytes) -> list[dict[str, Any]]:
        assert self._client is not None and self._root is not None
        self._sync_disk(files, target)
        text = target_bytes.decode("utf-8")
        uri = (self._root / target).as_uri()
        self._version += 1
        if target in self._open:
            self._open.move_to_end(target)
            self._client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": self._version}, "contentChanges": [{"text": text}]},
            )
        else:
            self._client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": self._version, "text": text}},
            )
            self._open[target] = uri
            while len(self._open) > self.max_open_documents:
                self._close(next(iter(self._open)))
        return pull_diagnostics(self._client, uri, self.timeout_s)

    def _close(self, path: str) -> None:
        assert self._client is not None
        self._client.notify("textDocument/didClose", {"textDocument": {"uri": self._open.pop(path)}})

    def _sync_disk(self, files: Mapping[str, str | bytes], target: str) -> None:
        """Makes the workspace hold the project's other Python files and tells the server which
        changed. The target itself lives only as the open document: re-checking an edit then
        touches no file on disk, so the server's import caches stay warm. (A stale copy of it from
        an earlier check may stay on disk; the open document overrides it.)"""
        assert self._root is not None
        wanted = {}
        for path, value in files.items():
            if path != target and is_python_path(path):
                try:
                    wanted[check_path(path)] = encode_text(path, value, self.max_file_bytes)
                except BadInput:
                    continue
        # An open document shadows the file on disk: close those the project now has as files.
        for path in wanted.keys() & self._open.keys():
            self._close(path)
        events = []
        for path in self._disk.keys() - wanted.keys() - {target}:
            (self._root / path).unlink(missing_ok=True)
            events.append({"uri": (self._root / path).as_uri(), "type": _FILE_DELETED})
        for path, data in wanted.items():
            before = self._disk.get(path)
            if before == data:
                continue
            dest = self._root / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            events.append({"uri": dest.as_uri(), "type": _FILE_CREATED if before is None else _FILE_CHANGED})
        if target in self._disk:
            wanted[target] = self._disk[target]
        self._disk = wanted
        if events and self._client is not None:
            self._client.notify("workspace/didChangeWatchedFiles", {"changes": events})


class _RuffThread(threading.Thread):
    """ruff on the edited text (stdin), run while pyright checks."""

    def __init__(self, root: Path | None, target: str, data: bytes, timeout_s: float):
        super().__init__(name="ruff-stdin", daemon=True)
        self.root, self.target, self.data, self.timeout_s = root, target, data, timeout_s
        self.diagnostics: list[Diagnostic] = []
        self.failure: ToolFailure | None = None

    def run(self) -> None:
        assert self.root is not None
        cmd = [
            *ruff_command(), "check", "--config", str(self.root / "ruff.toml"), "--no-cache",
            "--output-format", "json", "--exit-zero", "--stdin-filename", self.target, "-",
        ]
        try:
            done = run_tool("ruff", cmd, cwd=self.root, timeout_s=self.timeout_s, stdin=self.data)
            if done.returncode != 0:
                raise ToolFailure(f"ruff exited with {done.returncode}: {tail(done.stderr)}")
            self.diagnostics = [from_ruff(item) for item in json.loads(done.stdout)]
        except ToolFailure as failure:
            self.failure = failure
        except ValueError:
            self.failure = ToolFailure("ruff wrote output that is not JSON")
