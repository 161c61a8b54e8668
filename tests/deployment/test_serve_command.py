"""`repair serve` in the foreground: it serves a checkpoint on the ports asked for, and Ctrl-C
(SIGINT) stops it and its server cleanly."""

from __future__ import annotations

import signal

import pytest

from repair.serving.client import RepairClient

from ..conftest import LEARNED_CASE, start_repair_serve

pytestmark = pytest.mark.slow


def test_serve_command_serves_and_stops_on_ctrl_c(tmp_path, learned_checkpoint):
    process, (_, grpc, _) = start_repair_serve(tmp_path / "store", learned_checkpoint)
    try:
        with RepairClient(f"127.0.0.1:{grpc}", retries=0) as client:
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
