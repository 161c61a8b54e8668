"""Snapshot reconstruction: every file edited on a day, replayed to the end of that day, must give
back the store's copy of it as of that day exactly. A mismatch names the file and the first line that
differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # the store classes pull in Dagster; the CLI does without
    from repair.object_store import ObjectStore


@dataclass(frozen=True)
class Mismatch:
    repl: str
    file: str
    reason: str
    stopped: bool = False  # replay never reached the end: an invalid packet (quarantined downstream)

    def describe(self) -> str:
        return f"{self.repl}/{self.file}: {self.reason}"


def first_difference(replayed: str, stored: str) -> str:
    """Where two different texts part, as a person would look for it: line number and both lines."""
    ours, theirs = replayed.splitlines(keepends=True), stored.splitlines(keepends=True)
    for number, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
        if a != b:
            return f"line {number} differs: replay {a!r:.120}, snapshot {b!r:.120}"
    number = min(len(ours), len(theirs)) + 1
    longer, lines = ("replay", ours) if len(ours) > len(theirs) else ("snapshot", theirs)
    return f"line {number} only in the {longer}: {lines[number - 1]!r:.120}"


def snapshot_keys(repl: str, file: str, day: str) -> tuple[str, str]:
    """Where the copy of a file as of the end of `day` is kept, and where the latest copy is."""
    return f"snapshots/date={day}/{repl}/{file}", f"snapshots/{repl}/{file}"


def check_snapshots(edited: pl.DataFrame, store: ObjectStore, day: str) -> tuple[int, list[Mismatch]]:
    """Compares each file edited on `day` (rows of `file_states`: repl, file, text, error) with its
    copy as of that day (`snapshots/date=<day>/<repl>/<path>`), or, when the export keeps no dated
    copies, with the latest one (`snapshots/<repl>/<path>`). Returns (files checked, mismatches)."""
    mismatches: list[Mismatch] = []
    for repl, file, text, error in edited.select("repl", "file", "text", "error").iter_rows():
        if error is not None:
            mismatches.append(
                Mismatch(repl, file, f"replay stopped at an invalid packet: {error}", stopped=True)
            )
            continue
        dated, latest = snapshot_keys(repl, file, day)
        try:
            key = dated if store.exists(dated) else latest
            present = store.exists(key)
        except ValueError as exc:  # a path that would leave the store: never looked up
            mismatches.append(Mismatch(repl, file, f"unsafe snapshot path: {exc}"))
            continue
        if not present:
            mismatches.append(Mismatch(repl, file, f"no snapshot at {dated} or {latest}"))
            continue
        try:
            stored = store.read_text(key)
        except UnicodeDecodeError as exc:
            mismatches.append(
                Mismatch(repl, file, f"snapshot is not UTF-8 ({exc.reason} at byte {exc.start})")
            )
            continue
        if (text or "") != stored:
            mismatches.append(Mismatch(repl, file, f"{key}: {first_difference(text or '', stored)}"))
    return edited.height, mismatches
