"""Error states: for every `lsp_diagnostic` event, the file as it was at the diagnostic's version and
the project's other files as they were at that moment.

A file's history may have begun on an earlier day: `starts` (yesterday's `file_states`, see
`end_of_day`) give each file's text and version at the start of the day, and replay continues from
there. A file first seen mid-history with no earlier state is quarantined with that reason.

The work splits into three steps so that engines differ only in how they run the middle one:
1. `plan(timelines, starts)`: the diagnostics, and per (repl, file) the packets and the states to
   extract (the diagnostic's own file at its version; every other file of the project at its time);
2. `replay_group(...)`: one pass over one file's packets answering all of that file's requests
   (`repair.ot.replay_states`); the polars engine maps it over the groups in process, the Spark
   engine (`repair.ingest.spark_engine`) runs all three steps on executors, one repl at a time;
3. `assemble(plan, results)`: the `error_states` table, the blobs it refers to and the quarantine.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from repair.ot import FileReplay, StateRequest, replay_states

CONTENT, CONTEXT = "content", "context"

ERROR_STATES_SCHEMA = {
    "diagnostic_id": pl.String,
    "repl": pl.String,
    "session": pl.String,
    "file": pl.String,
    "ts": pl.Int64,
    "version": pl.Int64,
    "source": pl.String,
    "code": pl.String,
    "severity": pl.String,
    "message": pl.String,
    "start_line": pl.Int64,
    "start_character": pl.Int64,
    "end_line": pl.Int64,
    "end_character": pl.Int64,
    "has_code_action": pl.Boolean,
    "content": pl.String,
    "context": pl.List(pl.Struct({"path": pl.String, "blob": pl.String})),
}
BLOBS_SCHEMA = {"blob": pl.String, "text": pl.String}
QUARANTINE_SCHEMA = {
    **{
        k: ERROR_STATES_SCHEMA[k]
        for k in ("diagnostic_id", "repl", "session", "file", "ts", "version", "source", "code")
    },
    "reason": pl.String,
}
INVALID_PACKETS_SCHEMA = {
    "repl": pl.String,
    "file": pl.String,
    "version": pl.Int64,
    "shard": pl.String,
    "line_no": pl.Int64,
    "reason": pl.String,
}

# One packet as the engines ship it: (version, ts, shard, line_no, event JSON).
PacketRow = tuple[int, int, str, int, str]
# One state to extract: (diagnostic_id, role, version or None, ts or None).
RequestRow = tuple[str, str, int | None, int | None]


def blob_id(text: str) -> str:
    """The content hash naming a file text in the blob table."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def diagnostic_id(event: dict[str, Any]) -> str:
    """A stable id: hash of repl, session, file, ts, version, source, code, range and message (a
    parser can report several errors at one position under one code; the message tells them apart)."""
    rng = event["range"]
    key = [
        event["repl"],
        event["session"],
        event["file"],
        event["ts"],
        event["version"],
        event["source"],
        event["code"],
        rng["start"]["line"],
        rng["start"]["character"],
        rng["end"]["line"],
        rng["end"]["character"],
        event["message"],
    ]
    return hashlib.sha1(json.dumps(key, ensure_ascii=False).encode("utf-8")).hexdigest()[:20]


PACKET_COLUMNS = ["version", "ts", "shard", "line_no", "event"]

# Every file's state at the end of a day (the `file_states` asset): its text and version, or the
# reason it can no longer be trusted (`error`, text null), and the last day it was edited. A file edited
# that day also keeps where the day started it (`start_*`, all null when it had no earlier state), so
# that the day's `error_states` replay from their own day's `file_states`: a backfill of a range of
# days then targets that range only, never the day after it (see `starts_from`).
FILE_STATES_SCHEMA = {
    "repl": pl.String,
    "file": pl.String,
    "version": pl.Int64,
    "text": pl.String,
    "error": pl.String,
    "last_edited": pl.String,
    "start_version": pl.Int64,
    "start_text": pl.String,
    "start_error": pl.String,
}
END_COLUMNS = ("repl", "file", "version", "text", "error", "last_edited")
START_COLUMNS = ("start_version", "start_text", "start_error")


@dataclass(frozen=True)
class FileStart:
    """Where a file's replay starts: the end of an earlier day (`error` set: it was already invalid)."""

    version: int
    text: str | None
    error: str | None = None


Starts = dict[tuple[str, str], FileStart]


def starts_from(file_states: pl.DataFrame | None, day: str | None = None) -> Starts:
    """Every file's state at the start of `day`, from the `file_states` of `day` itself (a file edited
    that day starts where its `start_*` columns say, or from nothing when they are null) or of the day
    before (whose end is the start of `day`). None: no earlier state at all."""
    if file_states is None:
        return {}
    edited_that_day = file_states.filter(pl.col("last_edited") == day).height if day else 0
    if edited_that_day and not set(START_COLUMNS) <= set(file_states.columns):  # an older file_states
        raise ValueError(
            f"file_states of {day} has no {', '.join(START_COLUMNS)}: it cannot say where the day "
            f"started its files; materialize file_states for {day} again"
        )
    starts: Starts = {}
    for row in file_states.iter_rows(named=True):
        key = (row["repl"], row["file"])
        if day is None or row["last_edited"] != day:
            starts[key] = FileStart(row["version"], row["text"], row["error"])
        elif row["start_version"] is not None:
            starts[key] = FileStart(row["start_version"], row["start_text"], row["start_error"])
    return starts


@dataclass
class Plan:
    diagnostics: list[dict[str, Any]]  # error_states fields except content/context, timeline order
    packets: pl.DataFrame  # the `ot` rows: repl, file and PACKET_COLUMNS
    requests: dict[tuple[str, str], list[RequestRow]]
    starts: Starts = field(default_factory=dict)


def plan(timelines: pl.DataFrame, starts: Starts | None = None) -> Plan:
    """What to replay, from a `session_timelines` partition (or any frame with its columns) and the
    files' states at the start of the day."""
    starts = starts or {}
    packets = timelines.filter(pl.col("kind") == "ot").select("repl", "file", *PACKET_COLUMNS)
    files_of: dict[str, list[str]] = defaultdict(list)
    known = set(packets.select("repl", "file").unique().iter_rows()) | set(starts)
    for repl, file in sorted(known):
        files_of[repl].append(file)

    diagnostics = []
    requests: dict[tuple[str, str], list[RequestRow]] = defaultdict(list)
    rows = timelines.filter(pl.col("kind") == "lsp_diagnostic").sort("session", "seq")
    for raw in rows["event"]:
        event = json.loads(raw)
        rng = event["range"]
        diag: dict[str, Any] = {
            "diagnostic_id": diagnostic_id(event),
            **{
                k: event[k]
                for k in ("repl", "session", "file", "ts", "version", "source", "code", "severity", "message")
            },
            "start_line": rng["start"]["line"],
            "start_character": rng["start"]["character"],
            "end_line": rng["end"]["line"],
            "end_character": rng["end"]["character"],
            "has_code_action": bool(event.get("has_code_action", False)),
        }
        diagnostics.append(diag)
        repl, did = diag["repl"], diag["diagnostic_id"]
        requests[(repl, diag["file"])].append((did, CONTENT, diag["version"], None))
        for other in files_of[repl]:
            if other != diag["file"]:
                requests[(repl, other)].append((did, CONTEXT, None, diag["ts"]))
    # Only the files this day's packets or diagnostics touch are replayed; the rest carry over.
    touched = set(packets.select("repl", "file").unique().iter_rows()) | set(requests)
    used = {key for key in starts if key in touched}
    return Plan(diagnostics, packets, dict(requests), {key: starts[key] for key in used})


@dataclass
class GroupResult:
    """What one pass over one file gives back."""

    repl: str
    file: str
    states: list[tuple[str, str, str | None, int, str | None]] = field(default_factory=list)
    # ^ (diagnostic_id, role, blob or None, version, error or None)
    blobs: dict[str, str] = field(default_factory=dict)
    last_version: int = 0
    invalid: tuple[int | None, str, int, str] | None = None  # (version, shard, line_no, reason)
    last_text: str | None = None  # the file after the last valid packet (None once it is invalid)
    error: str | None = None  # why the file can no longer be trusted (this day's packet or an earlier one)
    duplicates: int = 0  # packets delivered twice, applied once


def replay_group(
    repl: str,
    file: str,
    packets: Iterable[PacketRow],
    requests: Iterable[RequestRow],
    check_crc: bool = True,
    start: FileStart | None = None,
) -> GroupResult:
    """THE replay both engines run, once per (repl, file): packets in version order (then time and
    where they were read, so that a repeated version is caught the same way everywhere), from
    `start` (the file at the end of the previous day) when its history began earlier."""
    result = GroupResult(repl, file)
    if start is not None and start.error is not None:
        reason = f"depends on an invalid packet of an earlier day: {start.error}"
        result.states = [(did, role, None, start.version, reason) for did, role, _v, _t in requests]
        result.last_version, result.error = start.version, start.error
        return result
    events = []
    for version, ts, shard, line_no, raw in sorted(packets, key=lambda p: (p[0], p[1], p[2], p[3])):
        event = json.loads(raw)
        event["_where"] = (shard, line_no)
        events.append(event)
    if start is not None:
        replay = FileReplay(check_crc=check_crc, text=start.text or "", version=start.version)
    else:
        replay = FileReplay(check_crc=check_crc)
    wanted = [StateRequest((did, role), version=version, ts=ts) for did, role, version, ts in requests]
    last_text, last_blob = None, ""  # states in a row often share one text: hash it once
    for state in replay_states(events, wanted, replay=replay):
        did, role = state.request.key
        blob = None
        if state.text is not None:
            if state.text is not last_text:
                last_text, last_blob = state.text, blob_id(state.text)
                result.blobs[last_blob] = state.text
            blob = last_blob
        result.states.append((did, role, blob, state.version, state.error))
    result.last_version = replay.version
    result.duplicates = replay.duplicates
    if replay.error is not None and replay.error_packet is not None:
        shard, line_no = replay.error_packet["_where"]
        result.invalid = (replay.error.version, shard, line_no, replay.error.reason)
        result.error = str(replay.error)
    else:
        result.last_text = replay.text() if replay.version else None
    return result


@dataclass
class ErrorStates:
    states: pl.DataFrame
    blobs: pl.DataFrame
    quarantine: pl.DataFrame
    invalid_packets: pl.DataFrame
    files_replayed: int


def assemble(the_plan: Plan, results: Iterable[GroupResult]) -> ErrorStates:
    """Joins the per-file answers back onto the diagnostics. A diagnostic whose file, or any other
    file of its project, is untrustworthy at that moment goes to the quarantine with the reason."""
    answers: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
    blobs: dict[str, str] = {}
    invalid = []
    files = defaultdict(set)
    count = 0
    for result in results:
        count += 1
        if result.last_version or result.invalid:
            files[result.repl].add(result.file)
        for did, role, blob, _version, error in result.states:
            answers[(did, role, result.file)] = (blob, error)
        blobs.update(result.blobs)
        if result.invalid:
            invalid.append((result.repl, result.file, *result.invalid))

    kept, quarantined, used, seen = [], [], set(), set()
    for diag in the_plan.diagnostics:
        did, repl, file = diag["diagnostic_id"], diag["repl"], diag["file"]
        reason = None
        content = None
        if did in seen:  # ids stay unique in the table: a repeated event is kept once
            reason = "duplicate: the same lsp_diagnostic event was logged before"
        elif file not in files[repl]:
            reason = f"no edits of {file} logged for repl {repl} in this partition or earlier"
        else:
            blob, error = answers[(did, CONTENT, file)]
            if error or blob is None:
                reason = error or f"{file} did not exist at version {diag['version']}"
            else:
                content = blobs[blob]
        context = []
        for other in sorted(files[repl] - {file}):
            if reason:
                break
            blob, error = answers[(did, CONTEXT, other)]
            if error:
                reason = f"context file {other}: {error}"
            elif blob is not None:  # None: the file did not exist yet
                context.append({"path": other, "blob": blob})
                used.add(blob)
        seen.add(did)
        if reason:
            quarantined.append({k: diag[k] for k in QUARANTINE_SCHEMA if k != "reason"} | {"reason": reason})
        else:
            kept.append({**diag, "content": content, "context": context})
    return ErrorStates(
        states=pl.DataFrame(kept, schema=ERROR_STATES_SCHEMA),
        blobs=pl.DataFrame([(b, blobs[b]) for b in sorted(used)], schema=BLOBS_SCHEMA, orient="row"),
        quarantine=pl.DataFrame(quarantined, schema=QUARANTINE_SCHEMA),
        invalid_packets=pl.DataFrame(invalid, schema=INVALID_PACKETS_SCHEMA, orient="row"),
        files_replayed=count,
    )


def replay_polars(
    the_plan: Plan, check_crc: bool = True, progress: Callable[[str], None] | None = None
) -> list[GroupResult]:
    """The in-process engine: every (repl, file) group in turn (progress about every tenth)."""
    groups = the_plan.packets.partition_by("repl", "file", as_dict=True)
    keys = sorted(set(groups) | set(the_plan.requests))  # type: ignore[arg-type]
    every = max(1, len(keys) // 10)
    results = []
    for done, (repl, file) in enumerate(keys, start=1):
        packets = groups[(repl, file)].select(PACKET_COLUMNS).iter_rows() if (repl, file) in groups else []
        requests = the_plan.requests.get((repl, file), [])
        results.append(
            replay_group(repl, file, packets, requests, check_crc, the_plan.starts.get((repl, file)))
        )
        if progress and (done % every == 0 or done == len(keys)):
            progress(f"replayed {done}/{len(keys)} files")
    return results


def build_error_states(
    timelines: pl.DataFrame,
    check_crc: bool = True,
    progress: Callable[[str], None] | None = None,
    starts: Starts | None = None,
) -> ErrorStates:
    """`error_states` of one partition in process (the polars engine), replaying from `starts` (the
    files at the start of the day, see `starts_from`). The Spark engine, whose executors read the
    shards themselves, is `repair.ingest.spark_engine.build_error_states_spark`."""
    the_plan = plan(timelines, starts)
    return assemble(the_plan, replay_polars(the_plan, check_crc, progress))


@dataclass
class DayEnd:
    """Every file's state at the end of a day, and what this day's replay found."""

    states: pl.DataFrame  # FILE_STATES_SCHEMA, every file known so far
    edited: pl.DataFrame  # the rows of `states` whose files have packets this day
    invalid_packets: pl.DataFrame  # INVALID_PACKETS_SCHEMA
    duplicates: int  # packets delivered twice, applied once


def end_of_day(
    timelines: pl.DataFrame, previous: pl.DataFrame | None, day: str, check_crc: bool = True
) -> DayEnd:
    """`file_states` of `day`: the previous day's states (None: none) carried forward through this
    day's packets. A file not edited today keeps yesterday's row."""
    starts = starts_from(previous)
    packets = timelines.filter(pl.col("kind") == "ot").select("repl", "file", *PACKET_COLUMNS)
    groups = packets.partition_by("repl", "file", as_dict=True)
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    if previous is not None:  # carried as they ended; they did not start today
        for row in previous.select(*END_COLUMNS).iter_rows():
            rows[(row[0], row[1])] = (*row, None, None, None)
    edited, invalid, duplicates = [], [], 0
    for key in sorted(groups):  # type: ignore[type-var]
        repl, file = str(key[0]), str(key[1])
        result = replay_group(
            repl,
            file,
            groups[key].select(PACKET_COLUMNS).iter_rows(),
            [],
            check_crc,
            starts.get((repl, file)),
        )
        start = starts.get((repl, file))
        began = (start.version, start.text, start.error) if start is not None else (None, None, None)
        rows[(repl, file)] = (repl, file, result.last_version, result.last_text, result.error, day, *began)
        edited.append((repl, file))
        duplicates += result.duplicates
        if result.invalid:
            invalid.append((repl, file, *result.invalid))
    states = pl.DataFrame([rows[k] for k in sorted(rows)], schema=FILE_STATES_SCHEMA, orient="row")
    return DayEnd(
        states=states,
        edited=pl.DataFrame([rows[k] for k in edited], schema=FILE_STATES_SCHEMA, orient="row"),
        invalid_packets=pl.DataFrame(invalid, schema=INVALID_PACKETS_SCHEMA, orient="row"),
        duplicates=duplicates,
    )
