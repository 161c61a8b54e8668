"""`repair_feedback` events: their shape, ingest keeping them (not quarantining them), bad ones
quarantined with the reason."""

from __future__ import annotations

import json

import pytest

from repair.feedback import feedback_event
from repair.sessionlog import LogEvent, Rejected, read_shard


def _event(**changes):
    event = feedback_event(
        session="lsp-1", repl="demo", ts=1_764_633_600_000, diagnostic_id="d1", model_version="3",
        diff="<diff>\n-1 a\n+1 b\n</diff>", action="offered", latency_ms=84, file="main.py", rule="ruff:F821",
    )  # fmt: skip
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def _read(*events) -> list:
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    return list(read_shard(data, "lsp-1.jsonl"))


def test_ingest_keeps_feedback_events():
    records = _read(_event(), _event(action="accepted"), _event(action="rejected", user_diff="<diff>\n</diff>"))
    assert all(isinstance(r, LogEvent) for r in records), records


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"action": "maybe"}, "field 'action' must be one of offered, accepted, rejected, undone"),
        ({"diagnostic_id": None}, "missing field 'diagnostic_id'"),
        ({"latency_ms": -1}, "field 'latency_ms' must be"),
        ({"diff": 3}, "field 'diff' must be a string"),
        ({"model_version": 3}, "field 'model_version' must be a string"),
    ],
)
def test_bad_feedback_events_are_quarantined_with_the_reason(changes, reason):
    (record,) = _read(_event(**changes))
    assert isinstance(record, Rejected) and record.reason.startswith(reason), record


def test_feedback_event_refuses_unknown_actions_and_fields():
    with pytest.raises(ValueError, match="action 'maybe'"):
        feedback_event(session="s", repl="r", ts=0, diagnostic_id="d", model_version="1", diff="", action="maybe", latency_ms=0)
    with pytest.raises(ValueError, match="unknown repair_feedback field"):
        _event() and feedback_event(
            session="s", repl="r", ts=0, diagnostic_id="d", model_version="1", diff="", action="offered",
            latency_ms=0, colour="red",
        )  # fmt: skip
