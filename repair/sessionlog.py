"""Session-log lines (docs/formats.md section 1): reading shards and validating each event.

A shard is JSON Lines, optionally gzip'd. Every physical line ends up either as a `LogEvent` (valid)
or a `Rejected` record naming the shard, the 1-based line number and the reason, so that
`lines read = kept + quarantined` always holds. Only the event's own shape is checked here; whether
an `ot` packet's ops apply to the file is the replay's business (`repair.ot`).
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from repair.diagnostic import SEVERITIES, SOURCES
from repair.feedback import ACTIONS as FEEDBACK_ACTIONS

SCHEMA_VERSION = 1
KINDS = ("ot", "lsp_diagnostic", "editor", "package_install", "run", "shell", "repair_feedback")
FILE_KINDS = frozenset({"ot", "lsp_diagnostic", "editor"})
# Order of events that share a millisecond: the edit, then what the editor recorded about it, then
# the diagnostics computed on it, then whatever the user ran.
KIND_RANK = {
    "ot": 0, "editor": 1, "lsp_diagnostic": 2, "package_install": 3, "run": 4, "shell": 5, "repair_feedback": 6,
}
AUTHORS = ("user", "assistant")
RAW_LIMIT = 4000  # characters of a rejected line kept in the quarantine


@dataclass(frozen=True, slots=True)
class LogEvent:
    shard: str
    line_no: int
    event: dict[str, Any]
    raw: str  # the line as written (the event as a JSON string)


@dataclass(frozen=True, slots=True)
class Rejected:
    shard: str
    line_no: int
    reason: str
    raw: str


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _need(event: dict[str, Any], field: str, ok, what: str) -> str | None:
    if field not in event:
        return f"missing field {field!r}"
    if not ok(event[field]):
        return f"field {field!r} must be {what}, got {json.dumps(event[field])[:80]}"
    return None


def _nonempty_str(value: Any) -> bool:
    return type(value) is str and value != ""


def _safe_text(value: str) -> bool:
    """No control characters and no backslash: nothing a path or an object key could be tricked by."""
    return "\\" not in value and not any(ord(c) < 32 or ord(c) == 127 for c in value)


def _relative_path(value: Any) -> bool:
    """A path inside the project: relative, `/`-separated, no empty, `.` or `..` segment."""
    return (
        _nonempty_str(value)
        and len(value) <= 1024
        and _safe_text(value)
        and not {"", ".", ".."} & set(value.split("/"))
    )


def _key_segment(value: Any) -> bool:
    """An id used as one segment of an object key (`snapshots/<repl>/...`)."""
    return (
        _nonempty_str(value)
        and len(value) <= 200
        and _safe_text(value)
        and "/" not in value
        and value not in (".", "..")
    )


def _position(value: Any) -> bool:
    return type(value) is dict and _is_count(value.get("line")) and _is_count(value.get("character"))


def _lsp_range(value: Any) -> bool:
    return type(value) is dict and _position(value.get("start")) and _position(value.get("end"))


def _str_list(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


def _u32(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 0xFFFFFFFF


# (field, test, description) per kind; optional fields are checked only when present.
_KIND_FIELDS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "ot": (
        ("version", lambda v: _is_int(v) and v >= 1, "an int >= 1"),
        ("ops", lambda v: type(v) is list, "a list of ops"),
        ("crc32", _u32, "an unsigned 32-bit int"),
    ),
    "lsp_diagnostic": (
        ("version", lambda v: _is_int(v) and v >= 1, "an int >= 1"),
        ("source", lambda v: v in SOURCES, f"one of {', '.join(SOURCES)}"),
        ("code", _nonempty_str, "a non-empty string"),
        ("severity", lambda v: v in SEVERITIES, f"one of {', '.join(SEVERITIES)}"),
        ("message", lambda v: type(v) is str, "a string"),
        ("range", _lsp_range, "an LSP range {start: {line, character}, end: {...}} of counts"),
    ),
    "editor": (("action", _nonempty_str, "a non-empty string"),),
    "package_install": (
        ("manager", _nonempty_str, "a non-empty string"),
        ("packages", _str_list, "a list of strings"),
    ),
    "run": (
        ("command", lambda v: type(v) is str, "a string"),
        ("exit_code", _is_int, "an int"),
    ),
    "shell": (("command", lambda v: type(v) is str, "a string"),),
    "repair_feedback": (
        ("diagnostic_id", _nonempty_str, "a non-empty string"),
        ("model_version", lambda v: type(v) is str, "a string"),
        ("diff", lambda v: type(v) is str, "a string"),
        ("action", lambda v: v in FEEDBACK_ACTIONS, f"one of {', '.join(FEEDBACK_ACTIONS)}"),
        ("latency_ms", _is_count, "an int >= 0"),
    ),
}
_OPTIONAL_FIELDS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "ot": (
        ("user", lambda v: type(v) is str, "a string"),
        ("author", lambda v: v in AUTHORS, "'user' or 'assistant'"),
    ),
    "lsp_diagnostic": (("has_code_action", lambda v: type(v) is bool, "true or false"),),
    "run": (("stderr_tail", lambda v: type(v) is str, "a string"),),
    "repair_feedback": tuple(
        (name, lambda v: type(v) is str, "a string") for name in ("file", "rule", "prompt", "user_diff")
    ),
}


def validate_event(event: Any) -> str | None:
    """Why `event` (a parsed JSON value) is not a valid session-log event, or None when it is."""
    if type(event) is not dict:
        return f"not a JSON object but a {type(event).__name__}"
    if "v" not in event:
        return "missing field 'v'"
    if event["v"] != SCHEMA_VERSION or not _is_int(event["v"]):
        return f"unsupported schema version {json.dumps(event['v'])[:40]} (want {SCHEMA_VERSION})"
    for field, ok, what in (
        ("session", _key_segment, "a non-empty id without '/', '\\' or control characters"),
        ("repl", _key_segment, "a non-empty id without '/', '\\' or control characters"),
        ("ts", _is_count, "an int (milliseconds since the epoch)"),
        ("kind", lambda v: type(v) is str, "a string"),
    ):
        if problem := _need(event, field, ok, what):
            return problem
    kind = event["kind"]
    if kind not in KIND_RANK:
        return f"unknown kind {kind[:40]!r}"
    if kind in FILE_KINDS and (
        problem := _need(event, "file", _relative_path, "a relative path inside the project (no '..')")
    ):
        return problem
    for field, ok, what in _KIND_FIELDS[kind]:
        if problem := _need(event, field, ok, what):
            return problem
    for field, ok, what in _OPTIONAL_FIELDS.get(kind, ()):
        if field in event and (problem := _need(event, field, ok, what)):
            return problem
    return None


@dataclass(frozen=True)
class ShardLimits:
    """What one shard may hold before the rest of it is quarantined unread (one row says why), so
    that a hostile or broken shard (a gzip bomb, one endless line) costs bounded memory and time."""

    max_bytes: int = 256 << 20  # decompressed
    max_line_bytes: int = 1 << 20
    max_lines: int = 2_000_000
    max_rejected: int = 10_000  # a shard this broken is not worth reading line by line


CHUNK = 1 << 16


def _pieces(source: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        for at in range(0, len(view), CHUNK):
            yield bytes(view[at : at + CHUNK])
        return
    while piece := source.read(CHUNK):
        yield piece


class _Inflated:
    """The decompressed bytes of a gzip stream, in bounded pieces, salvaging what precedes damage;
    `damage` says what went wrong once the pieces run out. Concatenated members are one stream."""

    def __init__(self, pieces: Iterator[bytes]):
        self.pieces = pieces
        self.damage: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        inflater = zlib.decompressobj(wbits=31)
        pending = b""
        started = False
        for piece in self.pieces:
            pending += piece
            while pending:
                started = True
                try:
                    out = inflater.decompress(pending, CHUNK)
                except zlib.error as exc:
                    self.damage = f"corrupt gzip stream ({exc})"
                    return
                if out:
                    yield out
                if inflater.eof:
                    pending = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
                    started = False
                    continue
                pending = inflater.unconsumed_tail
                if not pending:
                    break
                if not out:  # no progress without more input
                    break
        while started and not inflater.eof:
            try:
                out = inflater.decompress(b"", CHUNK)
            except zlib.error as exc:
                self.damage = f"corrupt gzip stream ({exc})"
                return
            if not out:
                self.damage = "gzip stream ends early"
                return
            yield out


def _lines(pieces: Iterable[bytes], limits: ShardLimits) -> Iterator[tuple[bytes | None, bool, str | None]]:
    """(line, complete, problem): each physical line without its newline; `complete` False for a
    last piece without one. An over-long line comes as (None, True, reason) and is skipped to its
    end; past `max_bytes` the last item is (None, False, reason) and nothing more is read."""
    buffer = bytearray()
    skipping = False
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limits.max_bytes:
            yield None, False, f"shard exceeds {limits.max_bytes} decompressed bytes"
            return
        start = 0
        while True:
            end = piece.find(b"\n", start)
            if end < 0:
                if not skipping:
                    buffer += piece[start:]
                    if len(buffer) > limits.max_line_bytes:
                        yield None, True, f"line longer than {limits.max_line_bytes} bytes"
                        buffer.clear()
                        skipping = True
                break
            if skipping:
                skipping = False
            else:
                buffer += piece[start:end]
                if len(buffer) > limits.max_line_bytes:
                    yield None, True, f"line longer than {limits.max_line_bytes} bytes"
                else:
                    yield bytes(buffer), True, None
            buffer.clear()
            start = end + 1
    if buffer and not skipping:
        yield bytes(buffer), False, None


def read_shard(
    source: bytes | BinaryIO, shard: str, limits: ShardLimits | None = None
) -> Iterator[LogEvent | Rejected]:
    """Every line of one shard (`shard` names it in what comes out), valid or rejected, in order,
    read as a stream (`source`: the bytes, or a binary file to read from) within `limits`."""
    limits = limits or ShardLimits()
    pieces = _pieces(source)
    first = next(pieces, b"")
    pieces = itertools.chain([first], pieces)
    inflated = None
    if shard.endswith(".gz") or first[:2] == b"\x1f\x8b":
        inflated = _Inflated(pieces)
        pieces = iter(inflated)
    damage_reported = False
    rejected = 0
    line_no = 0
    for raw_bytes, complete, problem in _lines(pieces, limits):
        line_no += 1
        if line_no > limits.max_lines:
            yield Rejected(
                shard,
                line_no,
                f"shard holds more than {limits.max_lines} lines: the rest is quarantined unread",
                "",
            )
            return
        if rejected >= limits.max_rejected:
            yield Rejected(
                shard,
                line_no,
                f"more than {limits.max_rejected} bad lines: the rest of the shard is quarantined unread",
                "",
            )
            return
        if raw_bytes is None:
            rejected += 1
            if not complete:  # over the size cap: nothing more is read
                yield Rejected(shard, line_no, f"{problem}: the rest of the shard is quarantined unread", "")
                return
            yield Rejected(shard, line_no, problem or "", "")
            continue
        record = _parse_line(
            raw_bytes, shard, line_no, last=not complete, damage=inflated.damage if inflated else None
        )
        if isinstance(record, Rejected):
            rejected += 1
            if record.reason.startswith("truncated line") and inflated and inflated.damage and not complete:
                damage_reported = True
        yield record
    if inflated is not None and inflated.damage and not damage_reported:
        # The damage fell on a line boundary: say so, or the lines it swallowed vanish silently.
        yield Rejected(shard, line_no + 1, f"{inflated.damage}: the rest of the shard is unreadable", "")


def _parse_line(
    raw_bytes: bytes, shard: str, line_no: int, last: bool, damage: str | None
) -> LogEvent | Rejected:
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(
            shard,
            line_no,
            f"invalid UTF-8 at byte {exc.start}",
            raw_bytes.decode("utf-8", "replace")[:RAW_LIMIT],
        )
    if not text.strip():
        return Rejected(shard, line_no, "empty line", text[:RAW_LIMIT])
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        # A line cut short ends inside a value: at its very end, or inside a string.
        if last or exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            tail = f" ({damage})" if damage and last else ""
            return Rejected(shard, line_no, f"truncated line: {exc}{tail}", text[:RAW_LIMIT])
        return Rejected(shard, line_no, f"bad JSON: {exc.msg} at character {exc.pos}", text[:RAW_LIMIT])
    except RecursionError:
        return Rejected(shard, line_no, "bad JSON: nested too deeply", text[:RAW_LIMIT])
    problem = validate_event(event)
    if problem:
        return Rejected(shard, line_no, problem, text[:RAW_LIMIT])
    return LogEvent(shard, line_no, event, text)
