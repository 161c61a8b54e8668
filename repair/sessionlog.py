"""Session-log lines (docs/formats.md section 1): reading shards and validating each event.

A shard is JSON Lines, optionally gzip'd. Every physical line ends up either as a `LogEvent` (valid)
or a `Rejected` record naming the shard, the 1-based line number and the reason, so that
`lines read = kept + quarantined` always holds. Only the event's own shape is checked here; whether
an `ot` packet's ops apply to the file is the replay's business (`repair.ot`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from repair.diagnostic import SEVERITIES, SOURCES

SCHEMA_VERSION = 1
KINDS = ("ot", "lsp_diagnostic", "editor", "package_install", "run", "shell")
FILE_KINDS = frozenset({"ot", "lsp_diagnostic", "editor"})
# Order of events that share a millisecond: the edit, then what the editor recorded about it, then
# the diagnostics computed on it, then whatever the user ran.
KIND_RANK = {"ot": 0, "editor": 1, "lsp_diagnostic": 2, "package_install": 3, "run": 4, "shell": 5}
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


def _relative_path(value: Any) -> bool:
    return _nonempty_str(value) and not value.startswith("/") and ".." not in value.split("/")


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
}
_OPTIONAL_FIELDS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "ot": (
        ("user", lambda v: type(v) is str, "a string"),
        ("author", lambda v: v in AUTHORS, "'user' or 'assistant'"),
    ),
    "lsp_diagnostic": (("has_code_action", lambda v: type(v) is bool, "true or false"),),
    "run": (("stderr_tail", lambda v: type(v) is str, "a string"),),
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
        ("session", _nonempty_str, "a non-empty string"),
        ("repl", _nonempty_str, "a non-empty string"),
        ("ts", _is_count, "an int (milliseconds since the epoch)"),
        ("kind", lambda v: type(v) is str, "a string"),
    ):
        if problem := _need(event, field, ok, what):
            return problem
    kind = event["kind"]
    if kind not in KIND_RANK:
        return f"unknown kind {kind[:40]!r}"
    if kind in FILE_KINDS and (problem := _need(event, "file", _relative_path, "a relative path")):
        return problem
    for field, ok, what in _KIND_FIELDS[kind]:
        if problem := _need(event, field, ok, what):
            return problem
    for field, ok, what in _OPTIONAL_FIELDS.get(kind, ()):
        if field in event and (problem := _need(event, field, ok, what)):
            return problem
    return None


def _decompress(data: bytes) -> tuple[bytes, str | None]:
    """A gzip shard's bytes, salvaging what precedes damage; the second value says what went wrong."""
    out = []
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            # Fed in pieces so that the text before a corrupt block is kept.
            for at in range(0, len(data), 1 << 16):
                out.append(inflater.decompress(data[at : at + (1 << 16)]))
                if inflater.eof:
                    break
        except zlib.error as exc:
            return b"".join(out), f"corrupt gzip stream ({exc})"
        if not inflater.eof:
            out.append(inflater.flush())
            return b"".join(out), "gzip stream ends early"
        data = inflater.unused_data  # concatenated gzip members are one stream
    return b"".join(out), None


def read_shard(data: bytes, shard: str) -> Iterator[LogEvent | Rejected]:
    """Every line of one shard (`shard` names it in what comes out), valid or rejected, in order."""
    damage = None
    if shard.endswith(".gz") or data[:2] == b"\x1f\x8b":
        data, damage = _decompress(data)
    lines = data.split(b"\n")
    damage_reported = False
    complete = len(lines) - 1  # the piece after the last newline is no line unless non-empty
    for index, raw_bytes in enumerate(lines):
        line_no = index + 1
        if index == complete and not raw_bytes:
            break
        try:
            text = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Rejected(
                shard,
                line_no,
                f"invalid UTF-8 at byte {exc.start}",
                raw_bytes.decode("utf-8", "replace")[:RAW_LIMIT],
            )
            continue
        if not text.strip():
            yield Rejected(shard, line_no, "empty line", text)
            continue
        try:
            event = json.loads(text)
        except json.JSONDecodeError as exc:
            # A line cut short ends inside a value: at its very end, or inside a string.
            if (
                index == complete
                or exc.pos >= len(text.rstrip())
                or exc.msg.startswith("Unterminated string")
            ):
                damage_reported = bool(damage and index == complete)
                tail = f" ({damage})" if damage_reported else ""
                reason = f"truncated line: {exc}{tail}"
            else:
                reason = f"bad JSON: {exc.msg} at character {exc.pos}"
            yield Rejected(shard, line_no, reason, text[:RAW_LIMIT])
            continue
        except RecursionError:
            yield Rejected(shard, line_no, "bad JSON: nested too deeply", text[:RAW_LIMIT])
            continue
        problem = validate_event(event)
        if problem:
            yield Rejected(shard, line_no, problem, text[:RAW_LIMIT])
        else:
            yield LogEvent(shard, line_no, event, text)
    if damage and not damage_reported:
        # The damage fell on a line boundary: say so, or the lines it swallowed vanish silently.
        yield Rejected(shard, len(lines), f"{damage}: the rest of the shard is unreadable", "")
