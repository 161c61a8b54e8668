"""`repair lsp` over stdio, driven by a pygls client: diagnostics from the linting service, the
served model's verified fix as a code action, the latency budget, and the feedback events."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from repair.lsp.server import ACTION_TITLE, Settings
from tests.ide.lsp_session import BROKEN, FIXED, lsp_session, run

RULE = "reportAttributeAccessIssue"


def _has_error(rule: str = RULE):
    return lambda ds: any(d.code == rule and d.severity == 1 for d in ds)


def _lacks_error(rule: str = RULE):
    return lambda ds: not any(d.code == rule for d in ds)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _events(store: Path) -> list[dict]:
    return [
        json.loads(line)
        for shard in sorted(store.glob("sessions/date=*/*.jsonl"))
        for line in shard.read_text().splitlines()
    ]


async def _wait_events(store: Path, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _events(store)
        if len(events) >= count:
            return events
        await asyncio.sleep(0.1)
    return _events(store)


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_settings_from_options_over_environment():
    settings = Settings.from_environment({"REPAIR_TRITON_URL": "h:1", "REPAIR_LSP_TIMEOUT_MS": "700"})
    assert (settings.triton_url, settings.timeout_ms) == ("h:1", 700)
    settings = settings.with_options({"tritonUrl": "h:2", "timeoutMs": 250})
    assert (settings.triton_url, settings.timeout_ms) == ("h:2", 250)
    with pytest.raises(ValueError, match="unknown initialization option 'tritonURL'"):
        settings.with_options({"tritonURL": "x"})
    with pytest.raises(ValueError, match="'timeoutMs' must be a int"):
        settings.with_options({"timeoutMs": "soon"})


def test_triton_down_diagnostics_flow_and_no_action(project, tmp_path):
    store = tmp_path / "store"

    async def scenario():
        options = {"tritonUrl": f"127.0.0.1:{_closed_port()}", "feedbackStore": str(store)}
        async with lsp_session(project, options) as lsp:
            lsp.open("main.py", BROKEN)
            diagnostics = await lsp.wait_diagnostics("main.py", _has_error())
            assert any(d.source == "pyright" and d.range.start.line == 2 for d in diagnostics)
            assert await lsp.code_actions("main.py", 2) == []
            lsp.change("main.py", FIXED)  # diagnostics keep flowing with Triton away
            await lsp.wait_diagnostics("main.py", _lacks_error())

    run(scenario())
    assert _events(store) == []


def test_slow_triton_gets_no_action_within_the_budget(project):
    # A listener that never answers: the gRPC call hangs until the budget runs out.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)
        options = {"tritonUrl": f"127.0.0.1:{blackhole.getsockname()[1]}", "timeoutMs": 500, "feedbackStore": ""}

        async def scenario():
            async with lsp_session(project, options) as lsp:
                lsp.open("main.py", BROKEN)
                await lsp.wait_diagnostics("main.py", _has_error())
                started = time.monotonic()
                assert await lsp.code_actions("main.py", 2) == []
                return time.monotonic() - started

        waited = run(scenario())
    assert waited < 5, f"the code action request took {waited:.1f} s with a 0.5 s budget"


def test_served_fix_offered_accepted_undone_and_recorded(served, project, tmp_path):
    server, _ = served
    store = tmp_path / "store"
    options = {"tritonUrl": server.grpc_url, "feedbackStore": str(store), "repl": "demo", "timeoutMs": 30000}

    async def scenario():
        async with lsp_session(project, options) as lsp:
            lsp.open("main.py", BROKEN)
            await lsp.wait_diagnostics("main.py", _has_error())
            assert await lsp.code_actions("main.py", 0) == []  # no error on that line
            (action,) = await lsp.code_actions("main.py", 2)
            assert action.title == ACTION_TITLE and action.kind == "quickfix"
            assert await lsp.code_actions("main.py", 2) == [action]  # asked again: the same offer
            assert await lsp.apply("main.py", action) == FIXED
            await lsp.wait_diagnostics("main.py", _lacks_error())
            lsp.change("main.py", BROKEN)  # the user undoes the fix
            await lsp.wait_diagnostics("main.py", _has_error())
            events = await _wait_events(store, 3)
            assert [e["action"] for e in events] == ["offered", "accepted", "undone"]

            # Offered again; the user fixes it another way: refused, with the user's own fix.
            (action,) = await lsp.code_actions("main.py", 2)
            lsp.change("main.py", BROKEN.replace("turtle.screen", "turtle.getscreen()"))
            await lsp.wait_diagnostics("main.py", _lacks_error())
            events = await _wait_events(store, 5)
            # Offered on a file then closed with the offer open: refused.
            lsp.open("other.py", BROKEN)
            await lsp.wait_diagnostics("other.py", _has_error())
            (action,) = await lsp.code_actions("other.py", 2)
            lsp.close("other.py")
            return await _wait_events(store, 7)

    events = run(scenario())
    assert [(e["file"], e["action"]) for e in events] == [
        ("main.py", "offered"), ("main.py", "accepted"), ("main.py", "undone"),
        ("main.py", "offered"), ("main.py", "rejected"),
        ("other.py", "offered"), ("other.py", "rejected"),
    ]  # fmt: skip
    for event in events:
        assert event["kind"] == "repair_feedback" and event["repl"] == "demo"
        assert event["model_version"] == "1" and event["rule"] == f"pyright:{RULE}"
        assert event["diff"] == "<diff>\n-3 screen = turtle.screen\n+3 screen = turtle.Screen()\n</diff>"
        assert event["prompt"].startswith("<code>\n#") and "<error_line>3 screen = turtle.screen" in event["prompt"]
        assert event["latency_ms"] >= 0
    assert events[4]["user_diff"] == "<diff>\n-3 screen = turtle.screen\n+3 screen = turtle.getscreen()\n</diff>"
    assert "user_diff" not in events[6]
    assert len({e["diagnostic_id"] for e in events[:5]}) == 1  # one diagnostic instance on main.py
