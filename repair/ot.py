"""Operational Transformation replay of session-log packets (docs/formats.md section 1).

A packet is one left-to-right walk over the file with a cursor that starts at 0 and counts Unicode
code points (Python `str` indices): `{"skip": n}` moves the cursor, `{"insert": s}` inserts at the
cursor and moves past the text, `{"delete": n}` removes the n code points after the cursor. Whatever
lies past the last op is kept. Versions are consecutive per file from 1; `crc32` is CRC-32
(zlib/IEEE) of the UTF-8 bytes of the whole file after the packet.

`Document` holds the text as a list of short chunks with a finger on the last edited one, so that an
edit costs a slice of one chunk instead of a copy of the file (edits are local in real editing), and
the whole text is joined only when someone asks for it. `replay_states` walks a file's packets once
and yields its content at every requested version or timestamp.

Emitting packets (the simulator): `ops_between(old, new)`, `ops_from_patch(...)`, `crc32_text(...)`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Chunks are split above MAX_CHUNK into pieces of CHUNK code points: small enough that slicing one
# is cheap, large enough that the finger rarely walks more than a chunk or two.
CHUNK = 1024
MAX_CHUNK = 2 * CHUNK
CRC_MAX = 0xFFFFFFFF

Op = Mapping[str, Any]


class OTError(ValueError):
    """An invalid packet: `reason` says why; `version` and `op_index` say where (when known)."""

    def __init__(self, reason: str, *, version: int | None = None, op_index: int | None = None):
        self.reason = reason
        self.version = version
        self.op_index = op_index
        where = []
        if version is not None:
            where.append(f"version {version}")
        if op_index is not None:
            where.append(f"op {op_index}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


def crc32_text(text: str) -> int:
    """CRC-32 (zlib/IEEE) of the UTF-8 bytes of `text`, as packets carry it."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _split(text: str) -> list[str]:
    return [text[k : k + CHUNK] for k in range(0, len(text), CHUNK)] or [""]


class Document:
    """A file's text under OT packets. `apply` edits in place; `text()` joins (and caches) it."""

    __slots__ = ("_chunks", "_finger", "_finger_start", "_length", "_text")

    def __init__(self, text: str = ""):
        self._chunks = _split(text)
        self._length = len(text)
        self._finger = 0  # index of a chunk ...
        self._finger_start = 0  # ... and the position of its first code point
        self._text: str | None = text

    def __len__(self) -> int:
        return self._length

    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self._chunks)
        return self._text

    def apply(self, ops: Any, version: int | None = None) -> None:
        """Applies one packet's ops (a list of `Op`; anything else is reported). Raises `OTError`
        (the document is then unusable) when an op is malformed or skips or deletes past the end."""
        if type(ops) is not list:
            raise OTError(f"ops must be a list, got {type(ops).__name__}", version=version)
        chunks = self._chunks
        length = self._length
        # The finger (a chunk index and the position of its first code point) stays in locals
        # while the packet is walked: this loop is the hot path of every replay.
        fi, fs = self._finger, self._finger_start
        cursor = 0
        self._text = None
        try:  # the length and finger stay true to the chunks even when a bad op stops the walk
            for index, op in enumerate(ops):
                try:
                    ((kind, value),) = op.items()
                except (AttributeError, ValueError):
                    raise OTError(
                        f"malformed op {op!r}: want one of skip/insert/delete",
                        version=version,
                        op_index=index,
                    ) from None
                if kind == "skip":
                    if type(value) is not int or value < 0:
                        raise OTError(
                            f"skip needs a non-negative int, got {value!r}", version=version, op_index=index
                        )
                    cursor += value
                    if cursor > length:
                        raise OTError(
                            f"skip {value} past the end (cursor {cursor}, length {length})",
                            version=version,
                            op_index=index,
                        )
                    continue
                if kind == "insert":
                    if type(value) is not str:
                        raise OTError(
                            f"insert needs a string, got {type(value).__name__}",
                            version=version,
                            op_index=index,
                        )
                    if not value:
                        continue
                elif kind == "delete":
                    if type(value) is not int or value < 0:
                        raise OTError(
                            f"delete needs a non-negative int, got {value!r}", version=version, op_index=index
                        )
                    if cursor + value > length:
                        raise OTError(
                            f"delete {value} past the end (cursor {cursor}, length {length})",
                            version=version,
                            op_index=index,
                        )
                    if not value:
                        continue
                else:
                    raise OTError(f"unknown op {kind!r}", version=version, op_index=index)
                # Move the finger onto the chunk holding the cursor (its end counts as inside).
                while cursor < fs:
                    fi -= 1
                    fs -= len(chunks[fi])
                while cursor > fs + len(chunks[fi]):
                    fs += len(chunks[fi])
                    fi += 1
                off = cursor - fs
                chunk = chunks[fi]
                if kind == "insert":
                    chunk = chunk[:off] + value + chunk[off:]
                    if len(chunk) > MAX_CHUNK:
                        chunks[fi : fi + 1] = _split(chunk)
                    else:
                        chunks[fi] = chunk
                    length += len(value)
                    cursor += len(value)
                    continue
                # delete: may run over several chunks; chunks emptied on the way go away.
                length -= value
                if off + value <= len(chunk):
                    chunk = chunk[:off] + chunk[off + value :]
                    if chunk or len(chunks) == 1:
                        chunks[fi] = chunk
                        continue
                    del chunks[fi]
                else:
                    i, remaining = fi, value
                    while remaining:
                        chunk = chunks[i]
                        take = min(len(chunk) - off, remaining)
                        chunk = chunk[:off] + chunk[off + take :]
                        remaining -= take
                        if chunk or len(chunks) == 1:
                            chunks[i] = chunk
                            i += 1
                            off = 0
                        else:
                            del chunks[i]
                            off = 0 if i > fi else off
                if fi == len(chunks):  # the finger's chunk went away at the end: step back
                    fi -= 1
                    fs -= len(chunks[fi])
        finally:
            self._length = length
            self._finger, self._finger_start = fi, fs


def apply_ops(text: str, ops: Sequence[Op]) -> str:
    """The text after one packet's ops (raises `OTError`)."""
    doc = Document(text)
    doc.apply(ops)
    return doc.text()


# ---------------------------------------------------------------------------------------------
# Emitting packets


def ops_from_patch(pos: int, n_deleted: int, inserted: str, doc_len: int) -> list[dict[str, Any]]:
    """The ops of one edit "at `pos`, delete `n_deleted` code points, insert `inserted`" on a
    document of `doc_len` code points. Zero-length ops are left out ([] for a no-op edit)."""
    if pos < 0 or n_deleted < 0 or pos + n_deleted > doc_len:
        raise ValueError(f"patch ({pos}, {n_deleted}) does not fit a document of {doc_len} code points")
    ops: list[dict[str, Any]] = []
    if not (n_deleted or inserted):
        return ops
    if pos:
        ops.append({"skip": pos})
    if n_deleted:
        ops.append({"delete": n_deleted})
    if inserted:
        ops.append({"insert": inserted})
    return ops


def _common_prefix(a: Sequence, b: Sequence) -> int:
    # Binary search over slice comparisons: the comparisons run in C, log(n) of them.
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: Sequence, b: Sequence, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def common_affixes(a: Sequence, b: Sequence) -> tuple[int, int]:
    """(prefix, suffix): the lengths of the longest common prefix of two strings (or lists of
    lines), and of their longest common suffix in what the prefix leaves: `a[prefix:len(a) - suffix]`
    is the one span that turns into `b[prefix:len(b) - suffix]`."""
    prefix = _common_prefix(a, b)
    return prefix, _common_suffix(a, b, min(len(a), len(b)) - prefix)


def ops_between(old: str, new: str) -> list[dict[str, Any]]:
    """The ops of a packet turning `old` into `new`: one span replaced, found by the common prefix
    and suffix (minimal for a single contiguous edit; [] when nothing changed)."""
    prefix, suffix = common_affixes(old, new)
    return ops_from_patch(prefix, len(old) - prefix - suffix, new[prefix : len(new) - suffix], len(old))


def make_packet(old: str, new: str, version: int) -> dict[str, Any]:
    """The `version`, `ops` and `crc32` fields of an `ot` event turning `old` into `new`."""
    return {"version": version, "ops": ops_between(old, new), "crc32": crc32_text(new)}


# ---------------------------------------------------------------------------------------------
# Replaying a file's history


class FileReplay:
    """Applies one file's packets in order, checking the version sequence and (optionally) crc32.

    Start it from `text` at `version` to continue a history that began on an earlier day. A packet
    delivered twice (at-least-once delivery: the same version with the same ops, or with the crc32 of
    the text as it already is) changes nothing and is counted in `duplicates`. After the first
    invalid packet `error` holds it and the file accepts nothing more: what follows depends on a
    document we can no longer trust.
    """

    __slots__ = ("_last", "check_crc", "doc", "duplicates", "error", "error_packet", "version")

    def __init__(self, check_crc: bool = True, text: str = "", version: int = 0):
        self.doc = Document(text)
        self.version = version
        self.check_crc = check_crc
        self.duplicates = 0
        self.error: OTError | None = None
        self.error_packet: Mapping[str, Any] | None = None
        self._last: tuple[Any, Any] | None = None  # (ops, crc32) of the packet that made `version`

    def apply(self, packet: Mapping[str, Any]) -> None:
        """Applies one `ot` event (needs `version`, `ops`, `crc32`); on error the packet is kept."""
        if self.error is not None:
            raise self.error
        try:
            self._apply(packet)
        except OTError as exc:
            self.error = exc
            self.error_packet = packet
            raise

    def _is_redelivery(self, packet: Mapping[str, Any]) -> bool:
        ops, crc = packet.get("ops"), packet.get("crc32")
        if self._last is not None and (ops, crc) == self._last:
            return True
        # The packet that made this version came on an earlier day: its crc32 names the same text.
        return (
            self._last is None and self.check_crc and type(crc) is int and crc == crc32_text(self.doc.text())
        )

    def _apply(self, packet: Mapping[str, Any]) -> None:
        version = packet.get("version")
        if type(version) is not int:
            raise OTError(f"version must be an int, got {version!r}")
        if version == self.version and version > 0 and self._is_redelivery(packet):
            self.duplicates += 1
            return
        if version != self.version + 1:
            what = "repeated" if version <= self.version else "gap"
            why = (
                " (no earlier state of the file: its history began before this log)"
                if self.version == 0
                else ""
            )
            raise OTError(f"version {what}: expected {self.version + 1}, got {version}{why}", version=version)
        self.doc.apply(packet.get("ops"), version)
        if self.check_crc:
            expected = packet.get("crc32")
            if type(expected) is not int or not 0 <= expected <= CRC_MAX:
                raise OTError(f"crc32 must be an unsigned 32-bit int, got {expected!r}", version=version)
            actual = crc32_text(self.doc.text())
            if actual != expected:
                raise OTError(
                    f"crc32 mismatch: packet says {expected:08x}, replay gives {actual:08x}", version=version
                )
        self.version = version
        self._last = (packet.get("ops"), packet.get("crc32"))

    def text(self) -> str:
        return self.doc.text()


@dataclass(frozen=True, slots=True)
class StateRequest:
    """A moment to extract: a file `version`, or a time `ts` (the file after every packet with
    `ts` at or before it). `key` travels through untouched so callers can match answers."""

    key: Any
    version: int | None = None
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class State:
    """The answer to a `StateRequest`: `text` (None where the file did not exist yet at `ts`), the
    version it is at, or `error` (why the state cannot be trusted) with `text` None."""

    request: StateRequest
    text: str | None
    version: int
    error: str | None = None


def replay_states(
    packets: Iterable[Mapping[str, Any]],
    requests: Iterable[StateRequest],
    *,
    check_crc: bool = True,
    replay: FileReplay | None = None,
) -> Iterator[State]:
    """Walks `packets` (one file's `ot` events in log order) once and yields a `State` for every
    request, in the order the walk reaches them (ts requests by time, version requests by version).

    A request at or after the first invalid packet gets `error` instead of text; a version that was
    never logged gets an error saying so. Pass `replay` to look at the file after the walk (its last
    version and text, or the invalid packet that stopped it).
    """
    by_version: dict[int, list[StateRequest]] = {}
    at_ts: list[tuple[int, int, StateRequest]] = []  # (ts, arrival, request): a stable time order
    for request in requests:
        if request.version is not None:
            by_version.setdefault(request.version, []).append(request)
        elif request.ts is not None:
            at_ts.append((request.ts, len(at_ts), request))
        else:
            raise ValueError(f"request {request.key!r} names neither a version nor a ts")
    at_ts.sort()
    next_ts = 0
    if replay is None:
        replay = FileReplay(check_crc=check_crc)

    def current(request: StateRequest) -> State:
        return State(request, replay.text() if replay.version else None, replay.version)

    # A replay that continues an earlier day's state answers requests for the version it starts at.
    for request in by_version.pop(replay.version, ()) if replay.version else ():
        yield current(request)

    for packet in packets:
        ts = packet.get("ts")
        if type(ts) is int:
            while next_ts < len(at_ts) and at_ts[next_ts][0] < ts:
                yield current(at_ts[next_ts][2])
                next_ts += 1
        try:
            replay.apply(packet)
        except OTError:
            break
        for request in by_version.pop(replay.version, ()):
            yield current(request)

    error = replay.error
    error_ts = replay.error_packet.get("ts") if replay.error_packet is not None else None
    for request_ts, _, request in at_ts[next_ts:]:
        if error is not None and (type(error_ts) is not int or request_ts >= error_ts):
            yield State(request, None, replay.version, f"depends on an invalid packet: {error}")
        else:
            yield current(request)
    for version, waiting in sorted(by_version.items()):
        if error is not None and version > replay.version:
            reason = f"depends on an invalid packet: {error}"
        else:
            reason = f"version {version} never logged (last is {replay.version})"
        for request in waiting:
            yield State(request, None, replay.version, reason)
