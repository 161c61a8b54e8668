"""Each limit of the sandbox, proven on code that would break it: the adversarial cases are what a
hostile candidate would try (issue 18), each must fail to do harm."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals import sandbox
from evals.sandbox import Limits, SandboxUnavailable, run_python

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_passing_script_and_its_own_directory():
    result = run_python(
        {
            "main.py": "import helper, os\nprint(helper.VALUE, sorted(os.listdir('.')))",
            "helper.py": "VALUE = 42",
        },
        ["main.py"],
    )
    assert result.ok, result.stderr
    assert result.stdout.startswith("42 ")
    assert "helper.py" in result.stdout


def test_cpu_time_limit_kills_an_infinite_loop():
    result = run_python({"main.py": "while True:\n    pass\n"}, ["main.py"], Limits(cpu_s=1, wall_s=20))
    assert not result.ok and not result.timed_out
    assert result.outcome in ("killed (SIGXCPU)", "killed (SIGKILL)")


def test_wall_clock_limit_kills_a_sleeper():
    result = run_python({"main.py": "import time\ntime.sleep(60)\n"}, ["main.py"], Limits(wall_s=1))
    assert result.timed_out and result.outcome == "timed out"
    assert result.wall_s < 10


def test_memory_limit_stops_a_memory_bomb():
    result = run_python({"main.py": "blob = bytearray(8 * 1024 ** 3)\n"}, ["main.py"], Limits(memory_mb=512))
    assert not result.ok
    assert "MemoryError" in result.stderr


def test_no_network():
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=2)\n"
        "except OSError as exc:\n"
        "    print('blocked', type(exc).__name__, exc)\n"
        "else:\n"
        "    print('connected')\n"
    )
    result = run_python({"main.py": code}, ["main.py"])
    assert result.ok, result.stderr
    assert result.stdout.startswith("blocked"), result.stdout
    assert result.isolation == "bubblewrap"


@pytest.mark.parametrize("parent_waits", [False, True], ids=["parent exits", "parent times out"])
def test_forked_children_die_with_the_run(parent_waits):
    """The child holds a passed pipe open: EOF on the read end proves it is gone (pids inside the
    sandbox's PID namespace mean nothing out here)."""
    read_end, write_end = os.pipe()
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n" + (
        "time.sleep(60)\n" if parent_waits else ""
    )
    try:
        result = run_python({"main.py": code}, ["main.py"], Limits(wall_s=1.5), pass_fds=[write_end])
        os.close(write_end)
        assert result.timed_out == parent_waits and (parent_waits or result.ok), result.stderr
        assert _read_until_eof(read_end, 3) == (b"", True)
    finally:
        os.close(read_end)


def test_output_is_capped():
    result = run_python({"main.py": "print('x' * 100000)"}, ["main.py"], Limits(max_output_bytes=1000))
    assert result.ok and result.stdout.endswith("[output cut]") and len(result.stdout) < 1100


def test_paths_must_stay_inside():
    with pytest.raises(ValueError, match="inside the sandbox"):
        run_python({"../escape.py": "", "main.py": ""}, ["main.py"])


# -- adversarial candidates ---------------------------------------------------------------------


def _read_until_eof(fd: int, within_s: float) -> tuple[bytes, bool]:
    """What arrives on the pipe `fd` and whether every writer closed it within `within_s`."""
    data, deadline = b"", time.monotonic() + within_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_passed_fd_reaches_the_candidate():
    read_end, write_end = os.pipe()
    try:
        code = f"import os\nos.write({write_end}, b'report')\n"
        result = run_python({"main.py": code}, ["main.py"], pass_fds=[write_end])
        os.close(write_end)
        assert result.ok, result.stderr
        assert _read_until_eof(read_end, 5) == (b"report", True)
    finally:
        os.close(read_end)


def test_double_forked_setsid_survivor_dies_with_the_run():
    """The grandchild holds the passed pipe: EOF on the read end proves no process of the run is left,
    and its late write never arrives."""
    read_end, write_end = os.pipe()
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(2)\n"
        f"        os.write({write_end}, b'survived')\n"
        "        open('/tmp/late', 'w').write('x')\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    try:
        result = run_python({"main.py": code}, ["main.py"], Limits(wall_s=10), pass_fds=[write_end])
        os.close(write_end)
        assert result.ok, result.stderr
        data, closed = _read_until_eof(read_end, 5)
        assert closed and b"survived" not in data
    finally:
        os.close(read_end)


def test_parents_environment_is_unreadable(monkeypatch):
    """The caller's secrets: in this process's environment and in a process started with them."""
    secret = "sk-sandbox-test-9f8e7d"
    monkeypatch.setenv("REPAIR_TEST_API_KEY", secret)
    holder = subprocess.Popen(["sleep", "30"], env={"REPAIR_TEST_API_KEY": secret})
    code = (
        "import os, sys, glob\n"
        "seen = [repr(dict(os.environ))]\n"
        "paths = ['/proc/%d/environ' % os.getppid(), '/proc/1/environ', '/proc/%s/environ' % sys.argv[1]]\n"
        "for path in paths + glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        seen.append(open(path, 'rb').read().decode(errors='replace'))\n"
        "    except OSError as exc:\n"
        "        seen.append(type(exc).__name__)\n"
        "print('\\n'.join(seen))\n"
    )
    try:
        result = run_python({"main.py": code}, ["main.py", str(holder.pid)])
    finally:
        holder.kill()
        holder.wait()
    assert result.ok, result.stderr
    assert secret not in result.stdout and "REPAIR_TEST_API_KEY" not in result.stdout
    assert "PermissionError" in result.stdout  # the parent (bwrap, as PID 1) exists but is closed


@pytest.mark.parametrize(
    "target",
    [
        Path(sys.prefix) / "lib" / "sandbox_evil.pth",
        PROJECT_ROOT / "sandbox_evil.py",
        PROJECT_ROOT / "evals" / "__init__.py",
    ],
    ids=["virtualenv .pth", "repository new file", "repository existing file"],
)
def test_cannot_write_into_the_virtualenv_or_the_repository(target):
    before = target.read_bytes() if target.exists() else None
    code = (
        "import sys\n"
        "try:\n"
        "    with open(sys.argv[1], 'a') as handle:\n"
        "        handle.write('import os; os.system(\"curl evil\")\\n')\n"
        "except OSError as exc:\n"
        "    print('refused', type(exc).__name__)\n"
        "else:\n"
        "    print('written')\n"
    )
    result = run_python({"main.py": code}, ["main.py", str(target)])
    assert result.ok, result.stderr
    assert result.stdout.startswith("refused"), result.stdout
    assert (target.read_bytes() if target.exists() else None) == before


def test_fork_bomb_hits_the_process_limit():
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print(children, type(exc).__name__)\n"
    )
    result = run_python({"main.py": code}, ["main.py"], Limits(wall_s=15, processes=32))
    assert result.ok and not result.timed_out, result.stderr
    children, error = result.stdout.split()
    assert int(children) < 32 and error == "BlockingIOError"


@pytest.mark.parametrize("how", ["socket", "raw _socket"])
def test_loopback_listener_is_unreachable(how):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    connect = (
        "import socket\ns = socket.socket()\n"
        if how == "socket"
        else "import _socket\ns = _socket.socket(2, 1)\n"
    )
    code = (
        connect
        + "s.settimeout(2)\n"
        + "try:\n"
        + f"    s.connect(('127.0.0.1', {port}))\n"
        + "except OSError as exc:\n"
        + "    print('blocked', type(exc).__name__)\n"
        + "else:\n"
        + "    print('connected')\n"
    )
    try:
        result = run_python({"main.py": code}, ["main.py"])
        assert result.ok, result.stderr
        assert result.stdout.startswith("blocked"), result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_home_ssh_and_host_files_are_invisible(tmp_path):
    host_secret = tmp_path / "id_ed25519"
    host_secret.write_text("PRIVATE KEY")
    code = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        print(path, open(path).read()[:20] if os.path.isfile(path) else os.listdir(path))\n"
        "    except OSError as exc:\n"
        "        print(path, type(exc).__name__)\n"
    )
    paths = [
        str(host_secret),
        str(Path.home() / ".ssh"),
        os.path.expanduser("~/.ssh/id_rsa"),
        "/root/.ssh",
        "/etc/shadow",
    ]
    result = run_python({"main.py": code}, ["main.py", *paths])
    assert result.ok, result.stderr
    assert "PRIVATE KEY" not in result.stdout
    for line in result.stdout.splitlines():
        assert line.endswith(("FileNotFoundError", "PermissionError")), line


def test_filling_the_disk_stops_at_the_cap():
    code = (
        "import os\n"
        "written = 0\n"
        "try:\n"
        "    for folder in ('.', '/tmp', '/dev/shm'):\n"
        "        for n in range(1000):\n"
        "            with open(os.path.join(folder, f'fill{n}'), 'wb') as handle:\n"
        "                for _ in range(4):\n"
        "                    handle.write(b'x' * 2**20)\n"
        "                    written += 1\n"
        "except OSError as exc:\n"
        "    print(written, type(exc).__name__)\n"
        "else:\n"
        "    print(written, 'no limit')\n"
    )
    result = run_python({"main.py": code}, ["main.py"], Limits(disk_mb=16, file_mb=8))
    assert result.ok, result.stderr
    written_mb, error = result.stdout.split()
    assert int(written_mb) <= 16 and error == "OSError"


def test_fails_closed_without_isolation(monkeypatch):
    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "bubblewrap not found")
    monkeypatch.delenv(sandbox.ALLOW_UNISOLATED_ENV, raising=False)
    with pytest.raises(SandboxUnavailable, match=sandbox.ALLOW_UNISOLATED_ENV):
        run_python({"main.py": "print('ran')"}, ["main.py"])
    monkeypatch.setenv(sandbox.ALLOW_UNISOLATED_ENV, "1")
    result = run_python({"main.py": "print('ran')"}, ["main.py"])
    assert result.ok and result.stdout == "ran\n" and result.isolation == "none"


# -- the adversarial tests can fail ------------------------------------------------------------


@pytest.mark.parametrize(
    ("attack", "harm"),
    [
        (
            lambda monkeypatch, tmp_path: test_parents_environment_is_unreadable(monkeypatch),
            "sk-sandbox-test",
        ),
        (lambda monkeypatch, tmp_path: test_loopback_listener_is_unreachable("raw _socket"), "'connected"),
        (lambda monkeypatch, tmp_path: test_home_ssh_and_host_files_are_invisible(tmp_path), "PRIVATE KEY"),
    ],
    ids=["parent environ", "raw _socket loopback", "host files"],
)
def test_without_isolation_the_attacks_succeed_and_their_tests_fail(monkeypatch, tmp_path, attack, harm):
    """Run with isolation switched off (the operator's opt-out: rlimits and a socket guard only),
    each attack succeeds (`harm` is what its test then finds) and its test fails. Left out: the fork
    bomb, the virtualenv and repository writes, the disk fill and the double fork, which would harm
    this machine unisolated (shown by hand once, docs/security.md)."""
    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "isolation switched off by the test")
    monkeypatch.setenv(sandbox.ALLOW_UNISOLATED_ENV, "1")
    with pytest.raises(AssertionError, match=harm):
        attack(monkeypatch, tmp_path)
