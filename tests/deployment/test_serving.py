"""The served model against a REAL Triton server: section 4 answers on broken files, malformed
requests answered with clear errors while serving continues, metrics, health."""

from __future__ import annotations

import json
import re
import selectors
import socket
import struct
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from repair.linediff import apply_diff, parse_diff
from repair.serving.client import (
    DEFAULT_RETRIES,
    KEEPALIVE_TIME_MS,
    KEEPALIVE_TIMEOUT_MS,
    RepairClient,
    RepairRequestError,
    ServerUnavailable,
)
from repair.serving.metrics import fetch_metrics
from repair.serving.rollout import SMOKE_CASES, ModelControl, RolloutError
from repair.serving.traffic import Traffic

from ..conftest import LEARNED_CASE, LEARNED_DIFF

STATUS_KINDS = ("fixed", "no_fix", "rejected")


def _raw_input(name: str, value: bytes):
    tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value]], dtype=np.object_))
    return tensor


def test_learned_fix_round_trips(served):
    server, _ = served
    with RepairClient(server.grpc_url) as client:
        result = client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic)  # file_name left out
    assert result.status == "fixed", result
    assert result.diff == LEARNED_DIFF
    assert result.fixed_code == LEARNED_CASE.code.replace("turtle.screen", "turtle.Screen()")
    assert result.model_version == "1"


@pytest.mark.parametrize("case", SMOKE_CASES, ids=lambda c: c.name)
def test_every_broken_file_gets_a_consistent_answer(served, case):
    server, _ = served
    with RepairClient(server.grpc_url) as client:
        result = client.repair(case.code, case.diagnostic, case.file_name)
    assert result.status.split(":", 1)[0] in STATUS_KINDS, result.status
    if result.fixed:
        assert result.fixed_code == apply_diff(case.code, parse_diff(result.diff))
    else:
        assert result.fixed_code == ""
    if result.rejected:
        assert result.reason  # says why


def test_diagnostic_as_plain_json_dict(served):
    server, _ = served
    diagnostic = {"message": "Undefined name `reslt`", "code": "F821", "source": "ruff", "line": 5}
    with RepairClient(server.grpc_url) as client:
        result = client.repair(SMOKE_CASES[1].code, diagnostic, "total.py")
    assert result.status.split(":", 1)[0] in STATUS_KINDS


@pytest.mark.parametrize(
    ("code", "diagnostic", "expected"),
    [
        ("x = 1\n", "{not json", "'diagnostic' is not JSON"),
        ("x = 1\n", json.dumps({"message": "m", "code": "F821", "source": "ruff"}), "lacks 'line'"),
        (
            "x = 1\n",
            json.dumps({"message": "m", "code": "F821", "source": "ruff", "line": 0}),
            "integer >= 1",
        ),
        (
            "x = 1\n",
            json.dumps({"message": "m", "code": "F821", "source": "ruff", "line": 40}),
            "outside main.py",
        ),
        (
            "x = 1\n" * 50_000,
            json.dumps({"message": "m", "code": "F821", "source": "ruff", "line": 1}),
            "the limit is",
        ),
        ("x = 1\n", "[" * 8000, "nested too deeply"),
        ("x = 1\n", "[" * 100_000, "the limit is 8192"),
    ],
    ids=[
        "bad_json",
        "missing_field",
        "line_zero",
        "line_outside_file",
        "huge_input",
        "deep_nesting",
        "huge_diagnostic",
    ],
)
def test_malformed_requests_get_clear_errors_and_serving_continues(served, code, diagnostic, expected):
    server, _ = served
    with RepairClient(server.grpc_url) as client:
        with pytest.raises(RepairRequestError, match=expected):
            client.repair(code, diagnostic)
        assert client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic).fixed


def test_missing_tensor_and_bad_utf8_are_refused(served):
    server, _ = served
    raw = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        with pytest.raises(grpcclient.InferenceServerException, match="diagnostic"):
            raw.infer("code_repair", [_raw_input("code", b"x = 1\n")])
        diagnostic = json.dumps({"message": "m", "code": "F821", "source": "ruff", "line": 1}).encode()
        with pytest.raises(grpcclient.InferenceServerException, match="not UTF-8"):
            raw.infer(
                "code_repair", [_raw_input("code", b"\xff\xfe = 1\n"), _raw_input("diagnostic", diagnostic)]
            )
    finally:
        raw.close()
    assert RepairClient(server.grpc_url).repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic).fixed


def test_bad_request_batched_with_good_ones_fails_alone(served):
    """Concurrent requests share dynamic batches: a bad one must not fail its batch-mates."""
    server, _ = served
    outcomes: dict[int, object] = {}

    def send(i: int) -> None:
        with RepairClient(server.grpc_url, timeout_s=120) as client:  # 6 generations on 2 loaded cores
            try:
                if i % 3 == 0:  # a RecursionError in the model's JSON parse, batched with good ones
                    outcomes[i] = client.repair("x = 1\n", "[" * 8000 if i % 2 else "{bad json")
                else:
                    outcomes[i] = client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
            except Exception as exc:  # noqa: BLE001 - recorded, checked below
                outcomes[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, outcome in outcomes.items():
        if i % 3 == 0:
            expected = "nested too deeply" if i % 2 else "not JSON"
            assert isinstance(outcome, RepairRequestError) and expected in str(outcome)
        else:
            assert getattr(outcome, "fixed", False), outcome
    assert len(outcomes) == 9


def test_metrics_count_successes_and_failures(served):
    server, _ = served
    with RepairClient(server.grpc_url) as client:
        client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
        with pytest.raises(RepairRequestError):
            client.repair("x = 1\n", "{bad json")
    metrics = fetch_metrics(server.metrics_url, "code_repair")
    assert metrics["nv_inference_request_success"] >= 1
    assert metrics['code_repair_outcomes_total{outcome="bad_request"}'] >= 1
    assert metrics['code_repair_outcomes_total{outcome="fixed"}'] >= 1
    assert metrics["nv_inference_exec_count"] >= 1


def test_health_and_readiness(served):
    server, repository = served
    assert server.is_live() and server.is_ready()
    assert repository.served_versions() == [1]
    with RepairClient(server.grpc_url) as client:
        assert client.is_ready()
    with RepairClient(server.grpc_url, model="no_such_model", retries=0) as client:
        assert not client.is_ready()
        with pytest.raises(RepairRequestError, match="no_such_model"):
            client.repair("x = 1\n", {"message": "m", "code": "c", "source": "ruff", "line": 1})


def test_repair_fix_command_lints_asks_and_writes(served, tmp_path):
    from click.testing import CliRunner

    from repair.cli import main

    server, _ = served
    target = tmp_path / "main.py"
    target.write_text(LEARNED_CASE.code)
    result = CliRunner().invoke(
        main, ["fix", str(target), "--line", "3", "--url", server.grpc_url, "--write"]
    )
    assert result.exit_code == 0, result.output
    assert "reportAttributeAccessIssue" in result.output and LEARNED_DIFF in result.output
    assert "status: fixed" in result.output
    assert target.read_text() == LEARNED_CASE.code.replace("turtle.screen", "turtle.Screen()")

    clean = CliRunner().invoke(main, ["fix", str(target), "--url", server.grpc_url])
    assert clean.exit_code == 0 and "no diagnostics" in clean.output


class ConnectionCutter:
    """A TCP proxy in front of the server that, once `arm()`ed, cuts the next connection right after
    forwarding a request whose bytes hold `marker`, before any answer comes back: a connection lost
    mid-request. `how`:
    - "close": a plain close, read by gRPC as UNAVAILABLE "Socket closed", or "Connection reset by
      peer" when request bytes were still unread (CI's machine saw this);
    - "reset": always a reset (SO_LINGER 0), as a crashed host or a middlebox sends;
    - "silence": nothing more is forwarded either way and nothing is closed, as when the peer's host
      or the network between goes away without a word.

    One thread serves every connection through a selector, so no socket is closed while another
    thread reads it."""

    def __init__(self, target: str, marker: bytes, how: str = "close"):
        self.how = how
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.marker = marker
        self.cuts = 0
        self._armed = threading.Event()
        self._closing = threading.Event()
        self._silenced: list[socket.socket] = []
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self.url = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def arm(self) -> None:
        self._armed.set()

    def _serve(self) -> None:
        # Each connection's two sockets are registered with [the other end, from the client?, the
        # tail of the client's bytes (a marker split across two reads is still found)].
        while not self._closing.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                if key.fileobj is self._listener:
                    client, _ = self._listener.accept()
                    client.setblocking(True)  # sendall() of a few kB; only recv() waits on select
                    upstream = socket.create_connection(self.target)
                    self._selector.register(client, selectors.EVENT_READ, [upstream, True, b""])
                    self._selector.register(upstream, selectors.EVENT_READ, [client, False, b""])
                elif key.fileobj.fileno() != -1:  # not closed by its peer's event this round
                    self._forward(key.fileobj, key.data)
        for end in [key.fileobj for key in self._selector.get_map().values()] + self._silenced:
            end.close()
        self._selector.close()

    def _forward(self, source: socket.socket, state: list) -> None:
        sink, from_client, tail = state
        try:
            data = source.recv(65536)
            if data:
                sink.sendall(data)
        except OSError:
            data = b""
        window = tail + data
        state[2] = window[-len(self.marker) :]
        cut = from_client and self.marker in window and self._armed.is_set()
        if data and not cut:
            return
        for end in (source, sink):
            self._selector.unregister(end)
        if cut:
            self._armed.clear()
            self.cuts += 1
            if self.how == "silence":
                self._silenced += [source, sink]
                return
            if self.how == "reset":
                for end in (source, sink):
                    end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for end in (source, sink):
            end.close()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)


# What gRPC reports when the connection goes: closed or reset, read on the socket ("recvmsg") or found
# by a keepalive ping ("sendmsg"); a silent peer never answers the ping.
CUT_CONNECTION = {
    "close": "Socket closed|Connection reset by peer",
    "reset": "Connection reset by peer",
    "silence": "ping timeout",
}
# A cut connection must fail a call within one keepalive ping and its deadline (and some slack).
NOTICED_WITHIN_S = (KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS) / 1000 + 5


@pytest.mark.parametrize("how", ["close", "reset", "silence"], ids=["closed", "reset", "silent"])
def test_a_connection_cut_mid_request_fails_fast_and_is_retried_and_answered(served, how):
    """The rollout fault injection once saw one request fail with UNAVAILABLE "Socket closed" (its
    load client retried nothing). A repair request is idempotent: the production client resends it,
    and the load records the retry instead of hiding it. The cut must fail the request within the
    keepalive's seconds, not the deadline: a reset gRPC missed (1 in 30 under load) and a silent
    peer both used to wait out the whole 30 s and then were not retried."""
    server, _ = served
    cutter = ConnectionCutter(server.grpc_url, LEARNED_CASE.code.encode(), how=how)
    try:
        cutter.arm()
        started = time.monotonic()
        with (
            RepairClient(cutter.url, retries=0, timeout_s=30) as client,
            pytest.raises(ServerUnavailable, match=CUT_CONNECTION[how]),
        ):
            client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
        assert cutter.cuts == 1 and time.monotonic() - started < NOTICED_WITHIN_S

        cutter.arm()
        with Traffic([cutter.url], case=LEARNED_CASE, retries=DEFAULT_RETRIES) as load:
            deadline = time.monotonic() + 120
            while len(load.versions) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
        assert cutter.cuts == 2
        assert load.errors == [] and load.versions[:3] == ["1", "1", "1"]
        retried = [o.retried for o in load.outcomes if o.retried]
        assert len(retried) == 1 and "UNAVAILABLE" in retried[0][0], retried
        assert re.search(CUT_CONNECTION[how], retried[0][0]), retried
    finally:
        cutter.close()


def test_a_model_control_call_to_a_silent_server_fails_within_the_keepalive_not_its_deadline(served):
    """Loading a model may take minutes, so the rollout's model-control calls have a 600 s deadline:
    a server that went silent mid-call (its host or the network gone) must fail the call as soon as
    the keepalive's ping goes unanswered. The request itself is harmless: a model that is not in the
    repository."""
    server, _ = served
    cutter = ConnectionCutter(server.grpc_url, b"no_such_model", how="silence")
    try:
        cutter.arm()
        started = time.monotonic()
        with pytest.raises(RolloutError, match="could not load 'no_such_model'.*ping timeout"):
            ModelControl(cutter.url, timeout_s=600).load("no_such_model")
        assert cutter.cuts == 1
        assert time.monotonic() - started < NOTICED_WITHIN_S
    finally:
        cutter.close()
