"""The production-style benchmark: held-out (code, diagnostic, verified fix) items, balanced by rule.

Held out means: from projects that never reach training. The dataset stage splits by project
(`repair.dataset.split_of`, a stable hash of the repl) and keeps the `test` split out of training;
this benchmark takes exactly the diagnostics of `repair_dataset`'s `test` rows (after its leak and
near-duplicate removal), so both stages agree on the split by construction and the rule lives in one
place. The reference fix is the verified repair the dataset chose for that diagnostic (the shortest
accepted diff).

Then:
- low-quality items are dropped: files longer than `max_lines`, or a reference equal to the file;
- items are balanced by rule (`source:code`, the dataset's `rule`): at most `max_per_rule` per rule,
  picked by a seeded hash of the diagnostic id (stable as new days arrive).

`SelectionReport` counts every step so that the numbers reconcile.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from evals.items import REPAIR_BENCHMARK, Item
from repair.diagnostic import Diagnostic

ACCEPTED = "accepted"


@dataclass
class SelectionReport:
    verified: int = 0
    accepted: int = 0
    held_out_diagnostics: int = 0
    candidates: int = 0  # held-out accepted diagnostics (one each)
    dropped: Counter = field(default_factory=Counter)
    kept_by_rule: Counter = field(default_factory=Counter)

    def as_metadata(self) -> dict[str, object]:
        return {"verified": self.verified, "accepted": self.accepted,
                "held_out_diagnostics": self.held_out_diagnostics, "candidates": self.candidates,
                "dropped": dict(self.dropped), "kept_by_rule": dict(sorted(self.kept_by_rule.items()))}


def held_out_diagnostics(dataset: pl.DataFrame, split: str = "test") -> set[str]:
    """Diagnostic ids of the dataset's held-out split."""
    if dataset.is_empty():
        return set()
    return set(dataset.filter(pl.col("split") == split)["diagnostic_id"].to_list())


def rule_of(source: str, code: str) -> str:
    return f"{source}:{code}"


def _order(seed: int, diagnostic_id: str) -> str:
    return hashlib.sha256(f"{seed}|{diagnostic_id}".encode()).hexdigest()


def select_repair_benchmark(
    verified: pl.DataFrame,
    held_out: set[str],
    *,
    max_per_rule: int = 40,
    max_lines: int = 400,
    seed: int = 0,
) -> tuple[list[Item], SelectionReport]:
    report = SelectionReport(verified=verified.height)
    if verified.is_empty():
        return [], report
    accepted = verified.filter(pl.col("verdict") == ACCEPTED)
    report.accepted = accepted.height
    report.held_out_diagnostics = len(held_out)
    chosen = (
        accepted.filter(pl.col("diagnostic_id").is_in(sorted(held_out)))
        .with_columns(pl.col("diff").str.len_chars().alias("_diff_length"))
        .sort(["diagnostic_id", "_diff_length", "teacher"])
        .unique("diagnostic_id", keep="first", maintain_order=True)
    )
    report.candidates = chosen.height
    by_rule: dict[str, list[Item]] = {}
    for row in chosen.iter_rows(named=True):
        if row["content"].count("\n") + 1 > max_lines:
            report.dropped[f"file longer than {max_lines} lines"] += 1
            continue
        if row["fixed_content"] is None or row["fixed_content"] == row["content"]:
            report.dropped["reference equals the file"] += 1
            continue
        rule = rule_of(row["source"], row["code"])
        by_rule.setdefault(rule, []).append(
            Item(
                item_id=row["diagnostic_id"], benchmark=REPAIR_BENCHMARK, group=rule, origin=row["repl"],
                file=row["file"], content=row["content"], fixed_content=row["fixed_content"],
                diagnostic=Diagnostic(
                    source=row["source"], code=row["code"], severity=row["severity"], message=row["message"],
                    start_line=row["start_line"], start_character=row["start_character"],
                    end_line=row["end_line"], end_character=row["end_character"],
                ),
            )
        )
    items: list[Item] = []
    for rule in sorted(by_rule):
        ranked = sorted(by_rule[rule], key=lambda item: _order(seed, item.item_id))
        items += ranked[:max_per_rule]
        report.kept_by_rule[rule] = min(len(ranked), max_per_rule)
        if len(ranked) > max_per_rule:
            report.dropped["over the per-rule cap"] += len(ranked) - max_per_rule
    return items, report
