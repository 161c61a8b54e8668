"""Run candidate code sandboxed.

Every run gets:

- a throwaway directory (created under the system temp dir, removed afterwards) holding only the
  files given, which is also the working directory and the first entry of `sys.path`;
- its own process group (`start_new_session`), and the WHOLE group is killed with SIGKILL when the
  run ends, whether it timed out or not, so that children it forked never outlive it;
- resource limits the bootstrap sets before the candidate's first line runs (inherited by anything it
  forks or execs): CPU seconds (`RLIMIT_CPU`, the kernel sends
  SIGXCPU then SIGKILL), address space (`RLIMIT_AS`, so a memory bomb gets `MemoryError`), largest
  file written (`RLIMIT_FSIZE`) and no core dumps;
- a wall-clock limit enforced from outside (`wall_s`);
- no network: the run is wrapped in `unshare --net` (a fresh network namespace with only a downed
  loopback) when the kernel allows it here, probed once per process; otherwise (containers without
  namespace rights) a guard imported before the candidate's code replaces `socket.socket` and
  `socket.create_connection` with functions raising `PermissionError`. The guard is in-process and
  weaker (C extensions can bypass it): `network_isolation()` says which one is in force;
- Python in isolated mode (`-I`: no user site, no `PYTHON*` environment variables, no current
  directory on the path except the one the bootstrap puts there) and without writing bytecode (`-B`),
  with a minimal environment.

Output beyond `max_output_bytes` per stream is cut (the rest is discarded, not buffered).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

BOOTSTRAP_NAME = "_sandbox_boot.py"

# Imported before the candidate when no network namespace is available; then runs the script.
_BOOTSTRAP = """\
import os, resource, runpy, sys
cpu_s, memory, file_size = (int(v) for v in os.environ.pop("SANDBOX_LIMITS").split(","))
resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
sys.path.insert(0, os.getcwd())
if os.environ.get("SANDBOX_BLOCK_SOCKETS") == "1":
    import socket
    def _no_network(*args, **kwargs):
        raise PermissionError("network access is disabled in the sandbox")
    class _NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            _no_network()
    socket.socket = _NoSocket
    socket.create_connection = _no_network
    socket.socketpair = _no_network
del os, resource
script, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 20
    memory_mb: int = 2048
    wall_s: float = 30.0
    file_mb: int = 64
    max_output_bytes: int = 64_000


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None  # None when killed for the wall-clock limit; negative: killed by a signal
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    network: str  # the isolation that was in force: `namespace` or `socket-guard`

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def outcome(self) -> str:
        """`passed`, `failed (exit N)`, `killed (SIGNAME)` or `timed out`, for reports."""
        if self.timed_out:
            return "timed out"
        if self.returncode == 0:
            return "passed"
        if self.returncode is not None and self.returncode < 0:
            return f"killed ({signal.Signals(-self.returncode).name})"
        return f"failed (exit {self.returncode})"


@functools.cache
def network_isolation() -> str:
    """`namespace` when `unshare --net` works here, else `socket-guard` (see the module docstring)."""
    unshare = shutil.which("unshare")
    if unshare:
        for flags in (["--net"], ["--user", "--map-root-user", "--net"]):
            try:
                probe = subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if probe.returncode == 0:
                _UNSHARE_FLAGS[:] = flags
                return "namespace"
    return "socket-guard"


_UNSHARE_FLAGS: list[str] = []


def _check_path(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"sandbox file path must be relative and stay inside the sandbox: {path!r}")
    return path


def _read_capped(path: Path, cap: int) -> str:
    with open(path, "rb") as handle:
        data = handle.read(cap + 1)
    text = data[:cap].decode("utf-8", errors="replace")
    return text + "\n[output cut]" if len(data) > cap else text


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_python(
    files: Mapping[str, str],
    argv: Sequence[str],
    limits: Limits = Limits(),
    python: str = sys.executable,
    *,
    pass_fds: Sequence[int] = (),
) -> SandboxResult:
    """Writes `files` ({relative path: text}) into a fresh directory and runs the Python script
    `argv[0]` (a path among `files`) with arguments `argv[1:]` under the limits; `pass_fds` stay open
    in the candidate."""
    if not argv:
        raise ValueError("argv needs at least the script to run")
    if argv[0] not in files:
        raise ValueError(f"the script {argv[0]!r} is not among the sandbox files")
    isolation = network_isolation()
    base = Path(tempfile.mkdtemp(prefix="repair-sandbox-"))
    workdir = base / "run"
    workdir.mkdir()
    try:
        for path, text in files.items():
            target = workdir / _check_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (workdir / BOOTSTRAP_NAME).write_text(_BOOTSTRAP, encoding="utf-8")
        command = [python, "-I", "-B", BOOTSTRAP_NAME, *argv]
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
            "SANDBOX_LIMITS": f"{limits.cpu_s},{limits.memory_mb * 2**20},{limits.file_mb * 2**20}",
        }
        if isolation == "namespace":
            command = [shutil.which("unshare") or "unshare", *_UNSHARE_FLAGS, *command]
        else:
            env["SANDBOX_BLOCK_SOCKETS"] = "1"
        started = time.monotonic()
        # Output goes to files outside the candidate's directory, read back capped.
        with open(base / "stdout", "wb") as out, open(base / "stderr", "wb") as err:
            process = subprocess.Popen(
                command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, pass_fds=tuple(pass_fds),
            )
            timed_out = False
            try:
                returncode: int | None = process.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out, returncode = True, None
            finally:
                _kill_group(process.pid)  # the session leader's pid is the group id
                process.wait()
        return SandboxResult(
            returncode=returncode,
            stdout=_read_capped(base / "stdout", limits.max_output_bytes),
            stderr=_read_capped(base / "stderr", limits.max_output_bytes),
            timed_out=timed_out,
            wall_s=time.monotonic() - started,
            network=isolation,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
