"""A small JSON-RPC client for a language server on stdio (LSP base protocol: `Content-Length`
framed JSON). One reader thread parses messages: responses complete their request's future,
server requests (`workspace/configuration`, `client/registerCapability`, ...) are answered so the
server never blocks on us, and other notifications (logs, progress, pushed diagnostics) are
dropped.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from repair.lint.tools import ToolFailure, kill_group


class LspClient:
    def __init__(
        self,
        cmd: list[str],
        cwd: Path,
        answer_request: Callable[[str, Any], Any] | None = None,
    ):
        self._proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._answer_request = answer_request or (lambda method, params: None)
        self._next_id = 0
        self._pending: dict[int, Future] = {}
        self._write_lock = threading.Lock()
        self._id_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None and self._reader.is_alive()

    # -- sending

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
        with self._write_lock:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(frame)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise ToolFailure(f"pyright language server is gone: {exc}") from None

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any, timeout_s: float) -> Any:
        with self._id_lock:
            self._next_id += 1
            request_id = self._next_id
            future: Future = Future()
            self._pending[request_id] = future
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            raise ToolFailure(f"pyright language server timed out after {timeout_s:g} s on {method}") from None
        finally:
            self._pending.pop(request_id, None)

    # -- receiving

    def _read_message(self) -> dict[str, Any] | None:
        stream = self._proc.stdout
        assert stream is not None
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length is None:
            return None
        return json.loads(stream.read(length))

    def _read_loop(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                self._dispatch(message)
        except (ValueError, OSError):
            pass
        finally:
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(ToolFailure("pyright language server exited"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            future = self._pending.get(message.get("id"))
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(ToolFailure(f"language server error: {message['error']}"))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer_request(method, message.get("params"))})

    # -- lifecycle

    def close(self, timeout_s: float = 2.0) -> None:
        """`shutdown` + `exit`, then the process group is killed if it is still there."""
        try:
            if self.alive:
                self.request("shutdown", None, timeout_s)
                self.notify("exit", None)
                self._proc.wait(timeout=timeout_s)
        except (ToolFailure, subprocess.TimeoutExpired):
            pass
        finally:
            kill_group(self._proc)
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:  # unflushed bytes to a server that is gone
                    pass
