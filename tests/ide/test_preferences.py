"""Preference pairs from feedback events: which side is chosen, which rejected, what is dropped or
quarantined, and that the counts reconcile."""

from __future__ import annotations

from repair.diagnostic import Diagnostic
from repair.feedback import feedback_event
from repair.preferences import acceptance_rate, build_preference_pairs
from repair.prompt import render_prompt

CODE = "value = 3\nprint(valeu)\n"
PROMPT = render_prompt(CODE, Diagnostic("ruff", "F821", "error", "Undefined name `valeu`", 1, 6, 1, 11), "main.py", 4)
RIGHT = "<diff>\n-2 print(valeu)\n+2 print(value)\n</diff>"
WRONG = "<diff>\n-2 print(valeu)\n</diff>"
OTHER = "<diff>\n-2 print(valeu)\n+2 print(3)\n</diff>"
T0 = 1_795_996_800_000  # 2026-11-30T00:00Z


def ev(action, diff, diagnostic="d1", ts=0, **extra):
    fields = {"file": "main.py", "rule": "ruff:F821", "prompt": PROMPT} | extra
    return feedback_event(
        session="s", repl="r", ts=T0 + ts, diagnostic_id=diagnostic, model_version="2", diff=diff,
        action=action, latency_ms=50, **{k: v for k, v in fields.items() if v is not None},
    )  # fmt: skip


def test_refused_fix_against_the_users_own_fix():
    result = build_preference_pairs([ev("offered", WRONG), ev("rejected", WRONG, ts=1, user_diff=RIGHT)])
    assert [(p["chosen"], p["rejected"], p["chosen_from"]) for p in result.pairs] == [(RIGHT, WRONG, "user_fix")]
    assert result.pairs[0]["prompt"] == PROMPT


def test_accepted_fix_against_refused_and_undone_fixes_of_the_same_diagnostic():
    events = [
        ev("offered", WRONG), ev("accepted", WRONG, ts=1), ev("undone", WRONG, ts=2),
        ev("offered", OTHER, ts=3), ev("rejected", OTHER, ts=4),
        ev("offered", RIGHT, ts=5), ev("accepted", RIGHT, ts=6),
        ev("offered", RIGHT, "d2", ts=7), ev("accepted", RIGHT, "d2", ts=8),  # nothing refused: no pair
    ]  # fmt: skip
    result = build_preference_pairs(events)
    assert sorted((p["chosen"], p["rejected"]) for p in result.pairs) == sorted([(RIGHT, WRONG), (RIGHT, OTHER)])
    assert result.counts["offers"] == 4 and result.counts["offers_paired"] == 3 and result.counts["offers_unpaired"] == 1


def test_equal_sides_are_dropped_and_bad_events_quarantined():
    events = [
        ev("offered", WRONG), ev("rejected", WRONG, ts=1, user_diff=WRONG),  # the user retyped it
        ev("offered", RIGHT, "d3", ts=2, prompt=None),
        ev("offered", RIGHT, "d4", ts=3, prompt="fix this please"),
        ev("offered", "<diff>\nnonsense\n</diff>", "d5", ts=4),
    ]  # fmt: skip
    result = build_preference_pairs(events)
    assert result.pairs == []
    assert result.counts["pairs_dropped_equal_sides"] == 1
    reasons = [q["reason"].split(":")[0] for q in result.quarantined]
    assert reasons == ["no prompt", "prompt not in the model's input format", "diff does not parse"]
    assert result.counts["feedback_events"] == result.counts["events_used"] + result.counts["events_quarantined"]
    assert result.counts["offers"] == result.counts["offers_paired"] + result.counts["offers_unpaired"]


def test_acceptance_per_version_and_rule():
    events = [ev("offered", WRONG), ev("rejected", WRONG, ts=1), ev("offered", RIGHT, "d2"), ev("accepted", RIGHT, "d2", ts=1),
              ev("offered", OTHER, "d3")]  # fmt: skip
    rows = build_preference_pairs(events).acceptance()
    assert acceptance_rate(rows, "model_version") == {("2",): (0.5, 2)}
    assert acceptance_rate(rows, "rule") == {("ruff:F821",): (0.5, 2)}
    assert sum(r["offers"] for r in rows) == 3
