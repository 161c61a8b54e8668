"""Error states without Dagster: what each diagnostic sees, and every reason a state is quarantined."""

from __future__ import annotations

import json

import polars as pl

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
    assert got["ghost.py"] == "no edits of ghost.py logged for repl r in this partition"
    assert got["old.py"].startswith("depends on an invalid packet: version 5: version gap: expected 1, got 5")
    assert result.invalid_packets.select("repl", "file", "version").row(0) == ("r2", "old.py", 5)
