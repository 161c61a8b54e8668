"""Preference pairs from `repair_feedback` events (`repair.feedback`), for preference training.

An *offer* is one model fix shown for one diagnostic: the events sharing (`repl`, `diagnostic_id`,
`diff`). Its outcome is its last decision: `accepted` (kept), `undone` (accepted, then undone) or
`rejected`; an offer with no decision is `open`.

Pairs are made per diagnostic (`repl`, `diagnostic_id`), whose prompt is the model input the fixes
answer (the model input of docs/formats.md):

- chosen: a kept fix, or the user's own later fix (`user_diff` of a refused offer);
- rejected: a refused or undone model fix;

every chosen side against every rejected side, once each (diffs compared in canonical form). A pair
whose two sides are equal is dropped and counted (the user's own fix can equal a refused fix when the
user retyped it). Events that cannot be used (no prompt, a prompt not in the model's input format, a
diff that does not parse, offers disagreeing on the prompt) go to the quarantine with the reason, so
that `feedback events = events used + events quarantined` and `offers = paired + unpaired` hold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from repair.feedback import ACCEPTED, KIND, OFFERED, REJECTED, UNDONE
from repair.linediff import DiffError, parse_diff, render_diff
from repair.prompt import PromptError, parse_prompt

PAIR_COLUMNS = ("prompt", "chosen", "rejected", "chosen_from", "repl", "diagnostic_id", "rule", "model_version", "file")
ACCEPTANCE_COLUMNS = ("model_version", "rule", "hour", "offers", "decided", "accepted", "rejected", "undone")


@dataclass
class Offer:
    repl: str
    diagnostic_id: str
    diff: str  # canonical
    model_version: str
    rule: str
    file: str
    prompt: str
    first_ts: int
    actions: list[str] = field(default_factory=list)
    user_diff: str | None = None  # canonical; the user's own fix, from a refusal

    @property
    def outcome(self) -> str:
        decided = [a for a in self.actions if a != OFFERED]
        return decided[-1] if decided else "open"


@dataclass
class PreferenceResult:
    pairs: list[dict[str, Any]]
    quarantined: list[dict[str, Any]]  # {repl, session, ts, diagnostic_id, action, reason}
    offers: list[Offer]
    counts: Counter[str]

    def acceptance(self) -> list[dict[str, Any]]:
        """Offers and their outcomes per (model version, rule, hour of the first offer, UTC)."""
        rows: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        for offer in self.offers:
            hour = _hour(offer.first_ts)
            counts = rows[(offer.model_version, offer.rule, hour)]
            counts["offers"] += 1
            if offer.outcome != "open":
                counts["decided"] += 1
                counts[offer.outcome] += 1
        return [
            {"model_version": v, "rule": r, "hour": h, **{c: counts[c] for c in ACCEPTANCE_COLUMNS[3:]}}
            for (v, r, h), counts in sorted(rows.items())
        ]


def _hour(ts_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:00")


def acceptance_rate(rows: Iterable[Mapping[str, Any]], *by: str) -> dict[tuple, tuple[float, int]]:
    """(accepted / decided, decided) per value of the `by` columns of `acceptance()` rows."""
    sums: dict[tuple, Counter[str]] = defaultdict(Counter)
    for row in rows:
        sums[tuple(row[b] for b in by)].update({"accepted": row["accepted"], "decided": row["decided"]})
    return {k: (c["accepted"] / c["decided"] if c["decided"] else 0.0, c["decided"]) for k, c in sorted(sums.items())}


def _canonical(diff: str) -> str:
    return render_diff(parse_diff(diff))


def _problem(event: Mapping[str, Any]) -> str | None:
    prompt = event.get("prompt")
    if not prompt:
        return "no prompt: the event does not carry the model input"
    try:
        parse_prompt(prompt)
    except PromptError as error:
        return f"prompt not in the model's input format: {error}"
    for name in ("diff", "user_diff"):
        if event.get(name) is not None:
            try:
                _canonical(event[name])
            except DiffError as error:
                return f"{name} does not parse: {error}"
    return None


def build_preference_pairs(events: Iterable[Mapping[str, Any]]) -> PreferenceResult:
    """Pairs from the feedback events among `events` (other kinds are ignored); see the module doc."""
    counts: Counter[str] = Counter()
    quarantined: list[dict[str, Any]] = []
    offers: dict[tuple[str, str, str], Offer] = {}

    def quarantine(event: Mapping[str, Any], reason: str) -> None:
        quarantined.append(
            {k: event.get(k) for k in ("repl", "session", "ts", "diagnostic_id", "action")} | {"reason": reason}
        )

    for event in sorted((e for e in events if e.get("kind") == KIND), key=lambda e: e["ts"]):
        counts["feedback_events"] += 1
        if (reason := _problem(event)) is not None:
            quarantine(event, reason)
            continue
        key = (event["repl"], event["diagnostic_id"], _canonical(event["diff"]))
        offer = offers.get(key)
        if offer is None:
            offer = offers[key] = Offer(
                event["repl"], event["diagnostic_id"], key[2], event["model_version"], event.get("rule", ""),
                event.get("file", ""), event["prompt"], event["ts"],
            )  # fmt: skip
        elif offer.prompt != event["prompt"]:
            quarantine(event, "prompt differs from the offer's first event")
            continue
        counts["events_used"] += 1
        offer.actions.append(event["action"])
        if event.get("user_diff") is not None:
            offer.user_diff = _canonical(event["user_diff"])

    by_diagnostic: dict[tuple[str, str], list[Offer]] = defaultdict(list)
    for offer in offers.values():
        by_diagnostic[(offer.repl, offer.diagnostic_id)].append(offer)
        counts[f"offers_{offer.outcome}"] += 1
    pairs: list[dict[str, Any]] = []
    for (repl, diagnostic_id), group in sorted(by_diagnostic.items()):
        chosen: dict[str, str] = {}
        for offer in group:
            if offer.outcome == ACCEPTED:
                chosen.setdefault(offer.diff, "accepted")
            if offer.outcome == REJECTED and offer.user_diff is not None and parse_diff(offer.user_diff).ops:
                chosen.setdefault(offer.user_diff, "user_fix")
        refused = [o for o in group if o.outcome in (REJECTED, UNDONE)]
        paired: set[int] = set()
        used_sides: set[str] = set()
        seen: set[tuple[str, str]] = set()
        for offer in refused:
            for side, source in chosen.items():
                if (side, offer.diff) in seen:
                    continue
                seen.add((side, offer.diff))
                if side == offer.diff:
                    counts["pairs_dropped_equal_sides"] += 1
                    continue
                paired.add(id(offer))
                used_sides.add(side)
                pairs.append(
                    {
                        "prompt": offer.prompt, "chosen": side, "rejected": offer.diff, "chosen_from": source,
                        "repl": repl, "diagnostic_id": diagnostic_id, "rule": offer.rule,
                        "model_version": offer.model_version, "file": offer.file,
                    }
                )
        for offer in group:
            if id(offer) in paired or (offer.outcome == ACCEPTED and offer.diff in used_sides):
                counts["offers_paired"] += 1
            else:
                counts["offers_unpaired"] += 1
    counts["offers"] = len(offers)
    counts["pairs"] = len(pairs)
    counts["events_quarantined"] = len(quarantined)
    return PreferenceResult(pairs, quarantined, list(offers.values()), counts)
