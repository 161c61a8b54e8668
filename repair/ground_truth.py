"""The simulator's ground truth, read back to measure the stages against it (never to decide).

`ground_truth/date=D/*.jsonl` holds one record per mistake the simulated user typed (where it
lived: `introduced_version` to `fixed_version`; the `clean_diff`; the `diagnostics` it made the
server report, with the text of their lines). `ground_truth_as_written/date=D/*.jsonl` holds, per
file, the errors of the code as the user meant it (every mistake undone): real errors the user sees
and leaves, with no recorded fix. A logged diagnostic that belongs to neither is typing in progress
(or fallout that no single mistake explains).

`TruthIndex.mistake_of(row)` finds the mistake a diagnostic belongs to: alive in that file at the
row's version, and reporting this (source, rule, message) on a line with this text, or, for a
syntax error, on a line the mistake broke. `filter_quality` measures a filter with it: precision (kept diagnostics that belong
to a recorded mistake) and recall (recorded mistakes that keep at least one diagnostic); the
explained share also counts errors of the code as written, which are real but teach no fix.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations only
    from repair.object_store import ObjectStore

MISTAKES_PREFIX = "ground_truth"
AS_WRITTEN_PREFIX = "ground_truth_as_written"
MISTAKE, AS_WRITTEN, UNEXPLAINED = "mistake", "as_written", "unexplained"


def read_jsonl_records(store: ObjectStore, prefix: str) -> list[dict[str, Any]]:
    """Every JSON line of the `.jsonl` objects under `prefix`; a line that is not JSON is an error naming it."""
    records = []
    for key in store.list(prefix):
        if not key.endswith(".jsonl"):
            continue
        for number, line in enumerate(store.read_text(key).splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as error:
                    raise ValueError(f"{store.uri(key)} line {number} is not JSON: {error}") from error
    return records


def read_all_mistakes(store: ObjectStore) -> list[dict[str, Any]]:
    """Every mistake record of every simulated day (held-out diagnostics come from any day)."""
    return read_jsonl_records(store, f"{MISTAKES_PREFIX}/")


def read_ground_truth(store: ObjectStore, day: str) -> tuple[list[dict], list[dict]]:
    """(mistake records, as-written records) of a simulated day; empty lists for a real one.

    The mistakes are the day's and the earlier days' still open when the day began: a project
    continued from the day before carries its unfixed mistakes into this day's files (a typo left
    yesterday is reported today), and each mistake is recorded on the day it was typed."""
    today = read_jsonl_records(store, f"{MISTAKES_PREFIX}/date={day}/")
    began = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)
    carried = [
        record
        for earlier in _days(store, MISTAKES_PREFIX)
        if earlier < day
        for record in read_jsonl_records(store, f"{MISTAKES_PREFIX}/date={earlier}/")
        if record.get("fixed_ts") is None or record["fixed_ts"] >= began
    ]
    return carried + today, read_jsonl_records(store, f"{AS_WRITTEN_PREFIX}/date={day}/")


def _days(store: ObjectStore, prefix: str) -> list[str]:
    return sorted({key.split("date=", 1)[1].split("/", 1)[0] for key in store.list(f"{prefix}/") if "date=" in key})


def _line_text(row: Mapping[str, Any]) -> str:
    lines = str(row["content"]).split("\n")
    line = int(row["start_line"])
    return lines[line].strip() if 0 <= line < len(lines) else ""


class TruthIndex:
    """The ground truth of one day, looked up by (repl, file)."""

    def __init__(self, mistakes: Iterable[Mapping[str, Any]], as_written: Iterable[Mapping[str, Any]] = ()):
        self.mistakes: list[Mapping[str, Any]] = []
        self._by_file: dict[tuple[str, str], list[int]] = defaultdict(list)
        for record in mistakes:
            if record.get("introduced_version") is None:
                continue  # never reached the language server
            self._by_file[(record["repl"], record["file"])].append(len(self.mistakes))
            self.mistakes.append(record)
        self._written: dict[tuple[str, str], set[tuple]] = defaultdict(set)
        for record in as_written:
            for d in record.get("diagnostics") or ():
                self._written[(record["repl"], record["file"])].add(
                    (d["source"], d["code"], d["message"], str(d.get("text", "")).strip())
                )

    def __len__(self) -> int:
        return len(self.mistakes)

    def mistake_of(self, row: Mapping[str, Any]) -> int | None:
        """The index (in `mistakes`) of the one mistake a diagnostic row belongs to, or None when
        none or several do."""
        version, text = int(row["version"]), _line_text(row)
        alive = [
            index
            for index in self._by_file.get((row["repl"], row["file"]), ())
            if self.mistakes[index]["introduced_version"] <= version
            and (self.mistakes[index].get("fixed_version") is None or version < self.mistakes[index]["fixed_version"])
        ]
        key = (row["source"], row["code"], row["message"])
        found = [
            index
            for index in alive
            if any(
                (d["source"], d["code"], d["message"]) == key and text in self._texts(index, d)
                for d in self.mistakes[index].get("diagnostics") or ()
            )
        ]
        if not found and row["code"] == "syntax":
            # A parser's message depends on the code around the error, and a message that another
            # mistake's line also reports is missing from the record of what the clean fix removed
            # (two `x = 1` typed `is = 1`): a syntax error on a line a mistake broke belongs to it.
            found = [
                index
                for index in alive
                if text in {str(b["text"]).strip() for b in self.mistakes[index].get("broken_lines") or ()}
            ]
        if len(found) > 1:  # the one typed in this very session, if that tells them apart
            found = [index for index in found if self.mistakes[index].get("session") == row.get("session")]
        return found[0] if len(found) == 1 else None

    def _texts(self, index: int, diagnostic: Mapping[str, Any]) -> set[str]:
        """The line texts a reported diagnostic stands on: its own (`text`), or for records written
        before diagnostics carried it, the mistake's broken lines."""
        if "text" in diagnostic:
            return {str(diagnostic["text"]).strip()}
        return {str(b["text"]).strip() for b in self.mistakes[index].get("broken_lines") or ()}

    def truth_of(self, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The mistake record a diagnostic row belongs to (`mistake_of`), or None."""
        found = self.mistake_of(row)
        return None if found is None else self.mistakes[found]

    def classify(self, row: Mapping[str, Any]) -> str:
        if self.mistake_of(row) is not None:
            return MISTAKE
        key = (row["source"], row["code"], row["message"], _line_text(row))
        return AS_WRITTEN if key in self._written.get((row["repl"], row["file"]), ()) else UNEXPLAINED


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


def filter_quality(
    rows: Sequence[Mapping[str, Any]],
    kept: Sequence[bool],
    index: TruthIndex,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """How well `kept` picks errors the user saw out of `rows` (a filter's input), overall and per
    group (`groups[i]` is row i's: its rule, or the evidence that kept it):

    - `precision`: kept rows that belong to a recorded mistake; `explained_share`: those that
      belong to a mistake or to the code as written (real errors, but no mistake to learn from);
    - `recall`: of the mistakes with a diagnostic among `rows`, those keeping at least one.
    """
    classes = [index.classify(row) for row in rows]
    owners = [index.mistake_of(row) for row in rows]
    names = list(groups) if groups is not None else ["all"] * len(rows)

    def figures(select: Callable[[int], bool]) -> dict[str, Any]:
        chosen = [i for i in range(len(rows)) if select(i)]
        kept_rows = [i for i in chosen if kept[i]]
        seen = {owners[i] for i in chosen if owners[i] is not None}
        held = {owners[i] for i in kept_rows if owners[i] is not None}
        by_class = Counter(classes[i] for i in kept_rows)
        return {
            "rows": len(chosen),
            "kept": len(kept_rows),
            "kept_mistake": by_class[MISTAKE],
            "kept_as_written": by_class[AS_WRITTEN],
            "kept_unexplained": by_class[UNEXPLAINED],
            "precision": _share(by_class[MISTAKE], len(kept_rows)),
            "explained_share": _share(by_class[MISTAKE] + by_class[AS_WRITTEN], len(kept_rows)),
            "mistakes": len(seen),
            "mistakes_kept": len(held),
            "recall": _share(len(held), len(seen)),
        }

    overall = figures(lambda i: True)
    per_group = {name: figures(lambda i, name=name: names[i] == name) for name in sorted(set(names))}
    return {"overall": overall, "per_group": per_group}


def reproduction_quality(
    records: Sequence[Mapping[str, Any]],
    settle_input: Sequence[int],
    settled_by: Sequence[str | None],
    kept_ids: set[str],
    index: TruthIndex,
) -> dict[str, dict[str, Any]]:
    """The settle filter (on the rows that reached it: per evidence and per rule) and the whole
    reproduction stage (`kept_ids`, the rows it kept; overall and per rule) measured with `filter_quality`."""
    reached = [records[i] for i in settle_input]
    passed = [settled_by[i] is not None for i in settle_input]
    kept = [r["diagnostic_id"] in kept_ids for r in records]
    return {
        "settle": filter_quality(reached, passed, index, [settled_by[i] or "(unsettled)" for i in settle_input]),
        "settle_by_rule": filter_quality(reached, passed, index, [f"{r['source']}:{r['code']}" for r in reached]),
        "kept": filter_quality(records, kept, index),
        "kept_by_rule": filter_quality(records, kept, index, [f"{r['source']}:{r['code']}" for r in records]),
    }
