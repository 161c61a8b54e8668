"""Snapshot reconstruction: replaying every file of a partition to its last version must give back
`snapshots/<repl>/<path>` exactly. A mismatch names the file and the first line that differs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from repair.ot import FileReplay, OTError

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


def reconstruct(timelines: pl.DataFrame, store: ObjectStore) -> tuple[int, list[Mismatch]]:
    """Replays each (repl, file) of the partition in version order and compares it with its
    snapshot. Returns (files checked, mismatches)."""
    ot = timelines.filter(pl.col("kind") == "ot").sort("repl", "file", "version", "ts", "shard", "line_no")
    mismatches: list[Mismatch] = []
    checked = 0
    for key, group in ot.group_by("repl", "file", maintain_order=True):
        repl, file = str(key[0]), str(key[1])
        checked += 1
        replay = FileReplay()
        try:
            for raw in group["event"]:
                replay.apply(json.loads(raw))
        except OTError as exc:
            mismatches.append(
                Mismatch(repl, file, f"replay stopped at an invalid packet: {exc}", stopped=True)
            )
            continue
        key = f"snapshots/{repl}/{file}"
        if not store.exists(key):
            mismatches.append(Mismatch(repl, file, f"no snapshot at {key}"))
            continue
        try:
            stored = store.read_text(key)
        except UnicodeDecodeError as exc:
            mismatches.append(
                Mismatch(repl, file, f"snapshot is not UTF-8 ({exc.reason} at byte {exc.start})")
            )
            continue
        if replay.text() != stored:
            mismatches.append(Mismatch(repl, file, first_difference(replay.text(), stored)))
    return checked, mismatches
