"""`repair serve` in the foreground: it serves a checkpoint on the ports asked for, and Ctrl-C
(SIGINT) stops it and its server cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from repair.serving.client import RepairClient
from repair.serving.server import free_ports

from ..conftest import LEARNED_CASE

pytestmark = pytest.mark.slow


def test_serve_command_serves_and_stops_on_ctrl_c(tmp_path, learned_checkpoint):
    http, grpc, metrics = free_ports(3)
    command = [
        sys.executable, "-m", "repair.cli", "serve", "--store", str(tmp_path / "store"),
        "--checkpoint", str(learned_checkpoint),
        "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        with RepairClient(f"127.0.0.1:{grpc}", retries=0) as client:
            while not client.is_ready():
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "repair serve did not become ready"
                time.sleep(1)
            assert client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic).fixed
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert f"gRPC 127.0.0.1:{grpc}" in output and "stopping" in output
    with RepairClient(f"127.0.0.1:{grpc}", retries=0) as client:
        assert not client.is_ready()
