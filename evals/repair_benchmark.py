"""The production-style benchmark: held-out (code, diagnostic, reference fix) items, balanced by rule,
with references that no evaluated repairer wrote.

Held out means: from projects that never reach training. The dataset stage splits by project
(`repair.dataset.split_of`, a stable hash of the repl) and keeps the `test` split out of training;
this benchmark takes exactly the diagnostics of `repair_dataset`'s `test` rows (after its leak and
near-duplicate removal), so both stages agree on the split by construction and the rule lives in one
place. The states (file, diagnostic) come from `verified_repairs`, every teacher's row of them.

The reference of each item, first that applies (`Item.reference_source`, `Item.reference_by`):

1. `reviewed`: a `reviewed_references` record (`ReviewRecord`: accept a teacher's verified diff,
   correct it with the reviewer's diff, or reject the item, which drops it);
2. `ground_truth` (simulated days): the fix the simulator recorded for the mistake behind the
   diagnostic (`ground_truth/`, `clean_diff`) applied to the state; where the state is an earlier
   version than the one the clean fix was made on, a teacher's verified fix that makes the same
   edit (`agrees_with_truth`), which that teacher is then also credited with writing;
3. `agreement` (real logs): the user's own later fix (`user_fix`) and another teacher's verified
   diff agree (the same file under the AST-or-string normalisation);
4. otherwise the item has no independent reference and is dropped (counted), whatever teachers
   verified: a single teacher's fix graded against the same teacher measures self-agreement.

Then:
- low-quality items are dropped: files longer than `max_lines`, or a broken file that already matches
  its reference under the normalisation (no credit for doing nothing);
- items are balanced by rule (`source:code`, the dataset's `rule`): at most `max_per_rule` per rule,
  picked by a seeded hash of the diagnostic id (stable as new days arrive).

`SelectionReport` counts every step so that the numbers reconcile.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from evals.items import REPAIR_BENCHMARK, Item
from evals.metrics import ast_match_with_string_fallback
from repair.diagnostic import Diagnostic
from repair.ground_truth import TruthIndex
from repair.linediff import DiffError, apply_diff, parse_diff

ACCEPTED = "accepted"
DUPLICATE = "duplicate"  # verified, and the same fix as another teacher's (`repair.teachers.pipeline`)
VERIFIED = (ACCEPTED, DUPLICATE)
USER_FIX = "user_fix"
REVIEW_DECISIONS = ("accept", "correct", "reject")


@dataclass(frozen=True)
class ReviewRecord:
    """One row of `reviewed_references` (JSON Lines in the store): `decision` `accept` (the named
    `teacher`'s verified fix is right), `correct` (the reference is the reviewer's `diff`, a numbered
    line diff against the broken file) or `reject` (no reference: the item is dropped)."""

    diagnostic_id: str
    decision: str
    teacher: str = ""
    diff: str = ""
    reviewer: str = "reviewer"


def parse_reviews(lines: Iterable[str], source: str = "reviewed_references") -> tuple[dict[str, ReviewRecord], list[dict]]:
    """({diagnostic id: record}, invalid rows as {record, reason}) from JSON Lines text."""
    records: dict[str, ReviewRecord] = {}
    invalid: list[dict] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            row = json.loads(line)
            record = ReviewRecord(str(row["diagnostic_id"]), str(row["decision"]), str(row.get("teacher") or ""),
                                  str(row.get("diff") or ""), str(row.get("reviewer") or "reviewer"))
        except (ValueError, KeyError, TypeError) as error:
            invalid.append({"record": where, "reason": f"not a review row: {error}"})
            continue
        if record.decision not in REVIEW_DECISIONS:
            invalid.append({"record": where, "reason": f"decision {record.decision!r} is not one of {REVIEW_DECISIONS}"})
        elif record.decision == "accept" and not record.teacher:
            invalid.append({"record": where, "reason": "`accept` names no teacher"})
        elif record.decision == "correct" and not record.diff:
            invalid.append({"record": where, "reason": "`correct` carries no diff"})
        else:
            records[record.diagnostic_id] = record
    return records, invalid


@dataclass
class SelectionReport:
    verified: int = 0
    accepted: int = 0
    held_out_diagnostics: int = 0
    candidates: int = 0  # held-out diagnostics with a state (one each)
    dropped: Counter = field(default_factory=Counter)
    kept_by_rule: Counter = field(default_factory=Counter)
    by_reference_source: Counter = field(default_factory=Counter)
    invalid_reviews: list[dict] = field(default_factory=list)

    def as_metadata(self) -> dict[str, object]:
        return {"verified": self.verified, "accepted": self.accepted,
                "held_out_diagnostics": self.held_out_diagnostics, "candidates": self.candidates,
                "dropped": dict(self.dropped), "kept_by_rule": dict(sorted(self.kept_by_rule.items())),
                "by_reference_source": dict(sorted(self.by_reference_source.items())),
                "invalid_reviews": self.invalid_reviews[:20]}


def held_out_diagnostics(dataset: pl.DataFrame, split: str = "test") -> set[str]:
    """Diagnostic ids of the dataset's held-out split."""
    if dataset.is_empty():
        return set()
    return set(dataset.filter(pl.col("split") == split)["diagnostic_id"].to_list())


def training_leaks(items: pl.DataFrame, dataset: pl.DataFrame) -> tuple[list[str], list[str]]:
    """(item ids, projects) of benchmark `items` that the dataset's train or validation rows hold,
    checked on the items themselves, not by re-running the selection rule."""
    training = dataset.filter(pl.col("split") != "test") if dataset.height else dataset
    if not items.height or not training.height:
        return [], []
    leaked_items = set(items["item_id"].to_list()) & set(training["diagnostic_id"].to_list())
    leaked_projects = set(items["origin"].to_list()) & set(training["repl"].to_list())
    return sorted(leaked_items), sorted(leaked_projects)


def rule_of(source: str, code: str) -> str:
    return f"{source}:{code}"


def _order(seed: int, diagnostic_id: str) -> str:
    return hashlib.sha256(f"{seed}|{diagnostic_id}".encode()).hexdigest()


def _applied(content: str, diff_text: str) -> str | None:
    try:
        return apply_diff(content, parse_diff(diff_text))
    except DiffError:
        return None


def reference_for(
    state: Mapping[str, Any],
    verified: Sequence[Mapping[str, Any]],
    truth: TruthIndex | None,
    review: ReviewRecord | None,
) -> tuple[str, str, tuple[str, ...]] | str:
    """(reference text, source, written by) of one diagnostic (the module docstring's order), or
    the reason there is none. `verified`: the diagnostic's verified rows (every teacher)."""
    content = state["content"]
    if review is not None:
        if review.decision == "reject":
            return "rejected by review"
        if review.decision == "correct":
            fixed = _applied(content, review.diff)
            return (fixed, "reviewed", (review.reviewer,)) if fixed is not None else "review diff does not apply"
        accepted = next((r for r in verified if r["teacher"] == review.teacher), None)
        if accepted is None:
            return f"review accepts {review.teacher}, which has no verified fix"
        return accepted["fixed_content"], "reviewed", (review.teacher, review.reviewer)
    if truth:
        record = truth.truth_of(state)  # the one rule matching a diagnostic to its mistake
        if record is not None:
            fixed = _applied(content, record["clean_diff"])
            if fixed is not None:
                return fixed, "ground_truth", ("simulator",)
            agreeing = sorted((r for r in verified if r.get("agrees_with_truth")), key=lambda r: r["teacher"])
            if agreeing:
                return agreeing[0]["fixed_content"], "ground_truth", ("simulator", agreeing[0]["teacher"])
            return "ground truth does not apply to this state and no teacher's fix agrees with it"
    user = next((r for r in verified if r["teacher"] == USER_FIX), None)
    if user is not None:
        others = sorted({r["teacher"] for r in verified if r["teacher"] != USER_FIX
                         and ast_match_with_string_fallback(r["fixed_content"], user["fixed_content"])})
        if others:
            return user["fixed_content"], "agreement", (USER_FIX, *others)
    return "no independent reference (one source, or sources that disagree)"


def select_repair_benchmark(
    verified: pl.DataFrame,
    held_out: set[str],
    *,
    truth: TruthIndex | None = None,
    reviews: Mapping[str, ReviewRecord] | None = None,
    max_per_rule: int = 40,
    max_lines: int = 400,
    seed: int = 0,
) -> tuple[list[Item], SelectionReport]:
    """`truth`: the simulator's ground truth (`repair.ground_truth.TruthIndex`); `reviews`:
    `reviewed_references` by diagnostic id."""
    report = SelectionReport(verified=verified.height)
    if verified.is_empty():
        return [], report
    report.accepted = verified.filter(pl.col("verdict") == ACCEPTED).height
    report.held_out_diagnostics = len(held_out)
    simulated_repls = {record["repl"] for record in truth.mistakes} if truth else set()
    rows_by_id: dict[str, list[dict]] = {}
    for row in verified.filter(pl.col("diagnostic_id").is_in(sorted(held_out))).iter_rows(named=True):
        rows_by_id.setdefault(row["diagnostic_id"], []).append(row)
    report.candidates = len(rows_by_id)
    by_rule: dict[str, list[Item]] = {}
    for diagnostic_id in sorted(rows_by_id):
        rows = rows_by_id[diagnostic_id]
        state = rows[0]
        if state["content"].count("\n") + 1 > max_lines:
            report.dropped[f"file longer than {max_lines} lines"] += 1
            continue
        found = reference_for(state, [r for r in rows if r["verdict"] in VERIFIED and r.get("fixed_content")],
                              truth, (reviews or {}).get(diagnostic_id))
        if isinstance(found, str):
            report.dropped[found] += 1
            continue
        reference, source, written_by = found
        if ast_match_with_string_fallback(state["content"], reference):
            report.dropped["broken file already matches the reference"] += 1
            continue
        rule = rule_of(state["source"], state["code"])
        by_rule.setdefault(rule, []).append(
            Item(
                item_id=diagnostic_id, benchmark=REPAIR_BENCHMARK, group=rule, origin=state["repl"],
                file=state["file"], content=state["content"], fixed_content=reference,
                diagnostic=Diagnostic(
                    source=state["source"], code=state["code"], severity=state["severity"], message=state["message"],
                    start_line=state["start_line"], start_character=state["start_character"],
                    end_line=state["end_line"], end_character=state["end_character"],
                ),
                bug_origin="simulated" if state["repl"] in simulated_repls else "real",
                reference_source=source, reference_by=written_by,
            )
        )
    items: list[Item] = []
    for rule in sorted(by_rule):
        ranked = sorted(by_rule[rule], key=lambda item: _order(seed, item.item_id))
        items += ranked[:max_per_rule]
        report.kept_by_rule[rule] = min(len(ranked), max_per_rule)
        if len(ranked) > max_per_rule:
            report.dropped["over the per-rule cap"] += len(ranked) - max_per_rule
    report.by_reference_source.update(item.reference_source for item in items)
    return items, report


REVIEWED_REFERENCES_KEY = "reviewed_references/reviewed.jsonl"


def load_reviews(store, key: str = REVIEWED_REFERENCES_KEY) -> tuple[dict[str, ReviewRecord], list[dict]]:
    """`reviewed_references` from the store ({} when the file is not there)."""
    if not store.exists(key):
        return {}, []
    return parse_reviews(store.read_text(key).splitlines(), store.uri(key))
