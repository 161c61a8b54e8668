"""Error states without Dagster: what each diagnostic sees, and every reason a state is quarantined."""

from __future__ import annotations

import json

import polars as pl
import pytest

from repair.ingest.logs import EVENTS_SCHEMA, event_row
from repair.ingest.states import build_error_states
from repair.ingest.timelines import build_timelines
from repair.sessionlog import LogEvent
from tests.ingest.sessions import T0, SessionWriter


def timelines(events) -> pl.DataFrame:
    rows = [event_row(LogEvent("s.jsonl", n, e, json.dumps(e))) for n, e in enumerate(events, start=1)]
    return build_timelines(pl.DataFrame(rows, schema=EVENTS_SCHEMA, orient="row"))


def reasons(result) -> list[str]:
    return result.quarantine["reason"].to_list()


def test_context_is_each_other_file_at_the_diagnostics_millisecond():
    w = SessionWriter()
    w.edit("r", "s", T0, "a.py", "A1\n")
    w.edit("r", "s", T0 + 10, "b.py", "B1\n")
    w.diagnose("r", "s", T0 + 10, "a.py", 0, "F821", "x")  # same ms as b.py's edit: sees it
    w.edit("r", "s", T0 + 20, "b.py", "B2\n")
    w.edit("r", "s", T0 + 30, "c.py", "C1\n")  # created after the diagnostic: not in its context
    result = build_error_states(timelines(w.events))
    (row,) = result.states.to_dicts()
    assert row["content"] == "A1\n"
    blobs = dict(result.blobs.iter_rows())
    assert [(c["path"], blobs[c["blob"]]) for c in row["context"]] == [("b.py", "B1\n")]


def test_duplicates_and_same_position_diagnostics():
    w = SessionWriter()
    w.edit("r", "s", T0, "a.py", "def f(:\n")
    first = w.diagnose("r", "s", T0, "a.py", 0, "syntax", "Expected parameter name")
    w.diagnose("r", "s", T0, "a.py", 0, "syntax", "Expected ')'")  # same place and code, other message
    w.events.append(dict(first))  # the same event logged twice
    result = build_error_states(timelines(w.events))
    assert result.states["message"].to_list() == ["Expected parameter name", "Expected ')'"]
    assert result.states["diagnostic_id"].n_unique() == 2
    assert reasons(result) == ["duplicate: the same lsp_diagnostic event was logged before"]


def test_states_that_cannot_be_rebuilt_are_quarantined_with_the_reason():
    w = SessionWriter()
    w.edit("r", "s", T0, "a.py", "x = 1\n")
    w.diagnose("r", "s", T0 + 1, "a.py", 0, "E1", "beyond").update(version=7)
    w.diagnose("r", "s", T0 + 2, "a.py", 0, "E1", "never edited").update(file="ghost.py", version=1)
    # A file whose history began on another day: its first packet here is version 5.
    later = w.edit("r2", "s2", T0, "old.py", "y = 2\n")
    later["version"] = 5
    w.diagnose("r2", "s2", T0 + 1, "old.py", 0, "E2", "continued").update(version=5)
    result = build_error_states(timelines(w.events))
    assert result.states.is_empty()
    got = dict(zip(result.quarantine["file"], reasons(result), strict=True))
    assert got["a.py"] == "version 7 never logged (last is 1)"
    assert got["ghost.py"] == "no edits of ghost.py logged for repl r in this partition or earlier"
    assert got["old.py"].startswith(
        "depends on an invalid packet: version 5: version gap: expected 1, got 5 (no earlier"
    )
    assert result.invalid_packets.select("repl", "file", "version").row(0) == ("r2", "old.py", 5)


def test_replay_starts_from_the_previous_days_states():
    from repair.ingest.states import FileStart

    w = SessionWriter()
    w.edit("r", "s", T0, "a.py", "x = 1\n")
    w.edit("r", "s", T0 + 1, "a.py", "x = 2\n")  # version 2: continues yesterday's version 1
    w.versions[("r", "a.py")] = 2
    w.events[-1]["version"] = 2
    del w.events[0]
    w.diagnose("r", "s", T0 + 2, "a.py", 0, "E1", "today")
    starts = {("r", "a.py"): FileStart(1, "x = 1\n"), ("r", "b.py"): FileStart(4, "b = 4\n")}
    result = build_error_states(timelines(w.events), starts=starts)
    (row,) = result.states.to_dicts()
    assert row["content"] == "x = 2\n" and row["version"] == 2
    blobs = dict(result.blobs.iter_rows())
    assert [(c["path"], blobs[c["blob"]]) for c in row["context"]] == [
        ("b.py", "b = 4\n")
    ]  # an earlier day's file
    # A file whose earlier day ended on an invalid packet poisons every state that depends on it.
    starts[("r", "bad.py")] = FileStart(2, None, "version 3: crc32 mismatch")
    result = build_error_states(timelines(w.events), starts=starts)
    assert reasons(result) == [
        "context file bad.py: depends on an invalid packet of an earlier day: version 3: crc32 mismatch"
    ]


def test_a_days_file_states_know_where_the_day_started_each_file():
    """`error_states` of a day replay from that day's own `file_states` (so that a backfill of a range
    never reaches the day after it): its start of the day must be the previous day's end."""
    from repair.ingest.states import end_of_day, starts_from

    first, second = SessionWriter(), SessionWriter()
    first.edit("r", "s", T0, "a.py", "x = 1\n")
    first.edit("r", "s", T0, "b.py", "b = 1\n")
    monday = end_of_day(timelines(first.events), None, "2026-11-16").states
    second.versions[("r", "a.py")] = 1
    second.texts[("r", "a.py")] = "x = 1\n"
    second.edit("r", "s2", T0 + 86_400_000, "a.py", "x = 2\n")  # version 2, continuing Monday's
    second.edit("r", "s2", T0 + 86_400_000, "c.py", "c = 1\n")  # first seen on Tuesday
    tuesday = end_of_day(timelines(second.events), monday, "2026-11-17").states
    assert starts_from(tuesday, "2026-11-17") == starts_from(monday)
    assert set(starts_from(tuesday)) == {("r", "a.py"), ("r", "b.py"), ("r", "c.py")}  # the day's end
    assert starts_from(tuesday)[("r", "a.py")].text == "x = 2\n"
    # A day's file_states written before the start columns existed cannot answer: a clear error,
    # never files silently starting from nothing.
    with pytest.raises(ValueError, match="materialize file_states for 2026-11-17 again"):
        starts_from(tuesday.drop("start_version", "start_text", "start_error"), "2026-11-17")
