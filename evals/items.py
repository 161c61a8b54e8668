"""One benchmark item, as both benchmarks store it (a row of the asset's table).

Column names follow the tables that cross stages (`docs/architecture.md`): `file` and `content`
(the broken file), the diagnostic's `source`, `code` (the rule), `severity`, `message` and range,
and `fixed_content` (the reference fix). Function-benchmark items also carry how to run their
tests (`support_files`, `argv`, `timeout_s`, and `expected_tests`, counted outside any candidate).

Every item says where its bug and its reference came from (`docs/evaluation.md`):

- `bug_origin`: `injected` (our injector, `evals.inject`), `handwritten` (`evals/problems/handwritten`),
  `external` (a DebugBench / HumanEvalPack file's own bug), `simulated` (a simulated IDE day),
  `real` (real IDE logs);
- `reference_source`: `program` (the correct program the bug was put into), `ground_truth` (the
  simulator's recorded fix), `agreement` (two independent sources agreed: the user's own later fix
  and a teacher's diff), `reviewed` (a review record accepted or corrected it);
- `reference_by`: who wrote the reference (teacher names such as `search` or `user_fix`, or
  `simulator`, `reviewer`, `author`). A repairer is never scored on an item whose reference it
  wrote (`evals.harness.producer_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from repair.diagnostic import Diagnostic

FUNCTION_BENCHMARK = "function_repair"
REPAIR_BENCHMARK = "repair"


@dataclass(frozen=True)
class Item:
    item_id: str
    benchmark: str  # FUNCTION_BENCHMARK or REPAIR_BENCHMARK
    group: str  # what the per-rule breakdown groups by: the bug kind, or `source rule`
    origin: str  # `problems`, `stdlib`, `debugbench`, `humanevalpack`, or the project (repl)
    file: str
    content: str  # the broken file the repairer sees
    diagnostic: Diagnostic
    fixed_content: str  # the reference fix
    context: Mapping[str, str] = field(default_factory=dict)  # the project's other files
    support_files: Mapping[str, str] = field(default_factory=dict)  # tests and runner (function items)
    argv: tuple[str, ...] = ()
    timeout_s: float = 30.0
    expected_tests: int = 0
    bug_origin: str = "injected"
    reference_source: str = "program"
    reference_by: tuple[str, ...] = ("author",)

    @property
    def executable(self) -> bool:
        return bool(self.argv)

    def to_row(self) -> dict[str, Any]:
        d = self.diagnostic
        return {
            "item_id": self.item_id, "benchmark": self.benchmark, "group": self.group, "origin": self.origin,
            "file": self.file, "content": self.content, "fixed_content": self.fixed_content,
            "source": d.source, "code": d.code, "severity": d.severity, "message": d.message,
            "start_line": d.start_line, "start_character": d.start_character,
            "end_line": d.end_line, "end_character": d.end_character,
            "context": json.dumps(dict(self.context)), "support_files": json.dumps(dict(self.support_files)),
            "argv": json.dumps(list(self.argv)), "timeout_s": float(self.timeout_s),
            "expected_tests": int(self.expected_tests), "bug_origin": self.bug_origin,
            "reference_source": self.reference_source, "reference_by": json.dumps(list(self.reference_by)),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Item:
        return cls(
            item_id=row["item_id"], benchmark=row["benchmark"], group=row["group"], origin=row["origin"],
            file=row["file"], content=row["content"], fixed_content=row["fixed_content"],
            diagnostic=Diagnostic(
                source=row["source"], code=row["code"], severity=row["severity"], message=row["message"],
                start_line=int(row["start_line"]), start_character=int(row["start_character"]),
                end_line=int(row["end_line"]), end_character=int(row["end_character"]),
            ),
            context=json.loads(row.get("context") or "{}"),
            support_files=json.loads(row.get("support_files") or "{}"),
            argv=tuple(json.loads(row.get("argv") or "[]")),
            timeout_s=float(row.get("timeout_s") or 30.0),
            expected_tests=int(row.get("expected_tests") or 0),
            bug_origin=row.get("bug_origin") or "injected",
            reference_source=row.get("reference_source") or "program",
            reference_by=tuple(json.loads(row.get("reference_by") or '["author"]')),
        )


def item_id(*parts: object) -> str:
    """A stable id from what identifies an item (so reruns compare the same items)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


TEXT_COLUMNS = ("item_id", "benchmark", "group", "origin", "file", "content", "fixed_content", "source",
                "code", "severity", "message", "context", "support_files", "argv", "bug_origin", "reference_source",
                "reference_by")
ITEM_SCHEMA = {
    **{column: pl.String for column in TEXT_COLUMNS},
    **{column: pl.Int64 for column in ("start_line", "start_character", "end_line", "end_character")},
    "timeout_s": pl.Float64,
    "expected_tests": pl.Int64,
}


def items_to_frame(items: list[Item]) -> pl.DataFrame:
    return pl.DataFrame([item.to_row() for item in items], schema=ITEM_SCHEMA)


def items_from_frame(frame: pl.DataFrame) -> list[Item]:
    return [Item.from_row(row) for row in frame.iter_rows(named=True)]


def sample_frame(frame: pl.DataFrame, limit: int | None) -> pl.DataFrame:
    """A seeded sample of at most `limit` items: the first by hashed item id (the same items for
    every run and every model; None: all)."""
    if limit is None or frame.height <= limit:
        return frame
    return frame.with_columns(pl.col("item_id").hash(seed=0).alias("_order")).sort("_order").head(limit).drop("_order")
