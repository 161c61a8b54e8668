"""Which logged diagnostics settled: errors the user saw, not typing in progress.

A language server publishes after every pause of a second or so, so most logged diagnostics are
half-typed lines (`year, month,`, `def f():` before its body) that the next keystrokes remove. A
diagnostic *settled* when the session timeline shows it was still there after something that
means the user stopped typing at it and looked:

| evidence | the diagnostic was showing when ... |
| --- | --- |
| `save` | the user saved its file |
| `run` | the user ran the program |
| `cursor` | the user moved the cursor (clicked, arrowed) within its file: an `editor` `cursor` event |
| `file_switch` | the user opened another file |
| `moved_on` | the user typed on other lines and the server published it again, its line unchanged |
| `pause` | the user did not touch its file for `pause_ms` (or the session ended) |
| `dwell` | it was on screen for `dwell_ms` in all (first publish to the first edit after its last) |

"Showing" is certain from a publish until the next edit of the file, so `save`, `run`, `cursor`,
`file_switch` and `pause` count only in those windows: after an edit the diagnostic may already be
gone (a bracket closed on the next line removes `"(" was not closed` without touching its line).
The copies of one diagnostic (same session, file, rule, message and line text, republished after
edits elsewhere) share their evidence until an edit touches its line.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

EVIDENCE = ("save", "run", "cursor", "file_switch", "moved_on", "pause", "dwell")
# What settles by default: the user's acts. Time alone (`pause`, `dwell`) and republishing
# (`moved_on`) also pass a line the user left half typed to think or step away: on the demo day
# few of the rows they alone settle belong to a mistake (benchmarks/RESULTS.md "Training targets",
# per evidence).
DEFAULT_EVIDENCE = ("save", "run", "cursor", "file_switch")
DEFAULT_PAUSE_MS = 60_000
DEFAULT_DWELL_MS = 120_000


@dataclass(frozen=True)
class SettleSettings:
    """`evidence`: the kinds that settle a diagnostic (`DEFAULT_EVIDENCE`; `()` keeps every row)."""

    pause_ms: int = DEFAULT_PAUSE_MS
    dwell_ms: int = DEFAULT_DWELL_MS
    evidence: tuple[str, ...] = DEFAULT_EVIDENCE

    def __post_init__(self):
        unknown = sorted(set(self.evidence) - set(EVIDENCE))
        if unknown:
            raise ValueError(f"unknown settle evidence {unknown}: use {', '.join(EVIDENCE)}")
        if self.pause_ms < 0 or self.dwell_ms < 0:
            raise ValueError("pause_ms and dwell_ms must be >= 0")


@dataclass
class _Event:
    ts: int
    kind: str
    file: str | None
    version: int | None
    body: dict[str, Any] | None  # parsed for `ot` and `editor` events only


def _session_events(timelines: pl.DataFrame, sessions: set[str]) -> dict[str, list[_Event]]:
    wanted = timelines.filter(
        pl.col("session").is_in(list(sessions)) & pl.col("kind").is_in(["ot", "editor", "run"])
    ).sort("session", "seq")
    out: dict[str, list[_Event]] = defaultdict(list)
    for session, ts, kind, file, version, raw in wanted.select(
        "session", "ts", "kind", "file", "version", "event"
    ).iter_rows():
        body = json.loads(raw) if kind in ("ot", "editor") else None
        out[session].append(_Event(ts, kind, file, version, body))
    return out


def _touches(ops: Sequence[Mapping[str, Any]], start: int, end: int) -> tuple[bool, int, int]:
    """Whether a packet edits the span [start, end] of the text before it (an insertion at either
    end counts: it extends the line), and the span after it otherwise."""
    pos = 0
    for op in ops:
        if "skip" in op:
            pos += op["skip"]
        elif "insert" in op:
            if start <= pos <= end:
                return True, start, end
            if pos < start:
                start, end = start + len(op["insert"]), end + len(op["insert"])
            pos += len(op["insert"])
        else:
            n = op["delete"]
            if pos <= end and pos + n >= start:
                return True, start, end
            if pos + n <= start:
                start, end = start - n, end - n
    return False, start, end


@dataclass
class _Window:
    """What happened from one publish of a diagnostic until the next edit of its file."""

    start: int
    end: int | None  # ts of the next edit of the file; None: the session ended first
    found: set[str]
    line_edited: bool  # that next edit touched the diagnostic's line
    line_changed: int | None = None  # ts of the first later edit of its line; None: never in the session
    unchanged_through: int = 0  # the last version of the file seen with its line as it was


def _window(
    row: Mapping[str, Any], events: list[_Event], times: list[int], edits: list[int], settings: SettleSettings
) -> _Window:
    """`edits`: the positions in `events` of the `ot` events of the row's file."""
    lines = str(row["content"]).split("\n")
    line = int(row["start_line"])
    start = sum(len(text) + 1 for text in lines[:line])
    end = start + (len(lines[line]) if line < len(lines) else 0)
    window = _Window(int(row["ts"]), None, set(), False, unchanged_through=int(row["version"]))
    # Until the file's next edit, every event counts; after it, only the file's own edits (where
    # its line goes, until one touches it), so those are all that is read.
    for position in range(bisect.bisect_right(times, window.start), len(events)):
        event = events[position]
        if event.kind == "ot" and event.file == row["file"]:
            if event.version is not None and event.version <= row["version"]:
                continue
            window.end = event.ts
            for later in [position, *edits[bisect.bisect_right(edits, position) :]]:
                edit = events[later]
                if edit.version is not None and edit.version <= row["version"]:
                    continue
                touched, start, end = _touches(edit.body["ops"], start, end)  # type: ignore[index]
                if later == position:
                    window.line_edited = touched
                if touched:
                    window.line_changed = edit.ts
                    break
                window.unchanged_through = edit.version or window.unchanged_through
            break
        if event.kind == "run":
            window.found.add("run")
        elif event.kind == "editor":
            action = event.body.get("action") if event.body else None
            if event.file != row["file"]:
                window.found.add("file_switch" if action == "open" else "")
            elif action in ("save", "cursor"):
                window.found.add(action)
    window.found.discard("")
    if window.end is None or window.end - window.start >= settings.pause_ms:
        window.found.add("pause")
    return window


NO_EVIDENCE = "no save, run, cursor move, republish or pause while it showed"
WENT_AWAY = "it went away while its line stayed as it was: a name defined later, or fallout of another line"


def settle(
    rows: Sequence[Mapping[str, Any]], timelines: pl.DataFrame, settings: SettleSettings = SettleSettings()
) -> list[tuple[str | None, str]]:
    """For each `error_states` row, (the evidence that settled it, the first of `settings.evidence`
    in `EVIDENCE` order, or None; why not, when None)."""
    if not settings.evidence:
        return [("kept", "")] * len(rows)
    events = _session_events(timelines, {str(r["session"]) for r in rows})
    times = {session: [e.ts for e in evs] for session, evs in events.items()}
    edits: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for session, evs in events.items():
        for position, event in enumerate(evs):
            if event.kind == "ot":
                edits[(session, event.file)].append(position)
    # The diagnostics of one publish on one line share their window: each is walked once.
    walked: dict[tuple, _Window] = {}
    windows = []
    for r in rows:
        key = (r["session"], r["file"], r["content"], r["start_line"], r["ts"], r["version"])
        if key not in walked:
            walked[key] = _window(r, events.get(r["session"], []), times.get(r["session"], []),
                                  edits[(r["session"], r["file"])], settings)  # fmt: skip
        windows.append(walked[key])
    # The copies of one diagnostic, in time order; a copy after an edit of its line starts anew.
    copies: dict[tuple, list[int]] = defaultdict(list)
    keys = []
    for index, row in enumerate(rows):
        lines = str(row["content"]).split("\n")
        text = lines[row["start_line"]] if row["start_line"] < len(lines) else ""
        keys.append((row["source"], row["code"], row["message"], text))
        copies[(row["repl"], row["session"], row["file"], *keys[-1])].append(index)
    # Every publish of a file: (ts, version) -> what it reported.
    published: dict[tuple, dict[tuple[int, int], set[tuple]]] = defaultdict(lambda: defaultdict(set))
    for row, key in zip(rows, keys, strict=True):
        published[(row["repl"], row["session"], row["file"])][(int(row["ts"]), int(row["version"]))].add(key)
    out: list[tuple[str | None, str]] = [(None, NO_EVIDENCE)] * len(rows)
    for (repl, session, file, *key), members in copies.items():
        members.sort(key=lambda i: (rows[i]["ts"], rows[i]["version"]))
        group: list[int] = []
        for position, index in enumerate(members):
            group.append(index)
            if windows[index].line_edited or position == len(members) - 1:
                last = windows[index]
                went_away = any(
                    ts > last.start and rows[index]["version"] < version <= last.unchanged_through
                    and tuple(key) not in reported
                    for (ts, version), reported in published[(repl, session, file)].items()
                )  # fmt: skip
                verdict = (None, WENT_AWAY) if went_away else _decide(group, rows, windows, settings)
                for member in group:
                    out[member] = verdict
                group = []
    return out


def _decide(group, rows, windows, settings) -> tuple[str | None, str]:
    found: set[str] = set().union(*(windows[i].found for i in group))
    if len({rows[i]["version"] for i in group}) > 1:
        found.add("moved_on")
    first, last = windows[group[0]], windows[group[-1]]
    if last.end is None or last.end - first.start >= settings.dwell_ms:
        found.add("dwell")
    evidence = next((name for name in EVIDENCE if name in found and name in settings.evidence), None)
    return (evidence, "") if evidence else (None, NO_EVIDENCE)



LEFT_UNFIXED = "still reported when its file was last published, after the user's last edit of it that day: left as written"


def left_unfixed(rows: Sequence[Mapping[str, Any]], timelines: pl.DataFrame) -> list[bool]:
    """For each row: whether its (source, rule, message) is still reported by its file's last publish
    of the day, made after the last edit of the file (in any session: a later session may fix it).
    The user saw it and left it: an error of the code as the user means it (a name a star import
    brings, an attribute of another platform's module, a type checker's judgement), not a mistake."""
    last_edit = {
        (repl, file): ts
        for repl, file, ts in timelines.filter(pl.col("kind") == "ot")
        .group_by("repl", "file")
        .agg(pl.col("ts").max())
        .iter_rows()
    }
    last_publish: dict[tuple, int] = {}
    for row in rows:
        where, ts = (row["repl"], row["file"]), int(row["ts"])
        last_publish[where] = max(ts, last_publish.get(where, ts))
    reported: dict[tuple, set[tuple]] = defaultdict(set)
    for row in rows:
        where = (row["repl"], row["file"])
        if int(row["ts"]) == last_publish[where]:
            reported[where].add((row["source"], row["code"], row["message"]))
    return [
        last_publish[w] >= last_edit.get(w, 0) and (row["source"], row["code"], row["message"]) in reported[w]
        for row in rows
        for w in [(row["repl"], row["file"])]
    ]
