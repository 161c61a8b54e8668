"""`repair serve` under an orchestrator: SIGTERM (what systemd and Kubernetes send) and SIGINT stop
Triton with it, free its ports and leave no process behind."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from ..conftest import start_repair_serve

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_free(port: int) -> bool:
    """Whether a new server could listen on `port` (connections in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_triton_and_frees_its_ports(tmp_path, tiny_checkpoint, signum):
    process, ports = start_repair_serve(tmp_path / "store", tiny_checkpoint)
    try:
        servers = _children(process.pid)
        assert servers, "no tritonserver under repair serve"
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopping" in output
    assert not [pid for pid in servers if _alive(pid)], "processes left behind"
    assert all(_port_free(port) for port in ports)
