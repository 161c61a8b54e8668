"""Each limit of the sandbox, proven on code that would break it."""

from __future__ import annotations

import os
import time

import pytest

from evals.sandbox import Limits, network_isolation, run_python


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its reaper is dead too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_soon(pid: int, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_passing_script_and_its_own_directory():
    result = run_python(
        {"main.py": "import helper, os\nprint(helper.VALUE, sorted(os.listdir('.')))", "helper.py": "VALUE = 42"},
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
    assert result.network == network_isolation()


@pytest.mark.parametrize("parent_waits", [False, True], ids=["parent exits", "parent times out"])
def test_forked_children_die_with_the_run(parent_waits):
    code = (
        "import os, time\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(child, flush=True)\n"
        + ("time.sleep(60)\n" if parent_waits else "")
    )
    result = run_python({"main.py": code}, ["main.py"], Limits(wall_s=1.5))
    assert result.timed_out == parent_waits and (parent_waits or result.ok), result.stderr
    assert _gone_soon(int(result.stdout.split()[0]))


def test_output_is_capped():
    result = run_python({"main.py": "print('x' * 100000)"}, ["main.py"], Limits(max_output_bytes=1000))
    assert result.ok and result.stdout.endswith("[output cut]") and len(result.stdout) < 1100


def test_paths_must_stay_inside():
    with pytest.raises(ValueError, match="inside the sandbox"):
        run_python({"../escape.py": "", "main.py": ""}, ["main.py"])
