"""The simulated editor's `repair_feedback` events (`repair.feedback`): for each mistake that made
the language server report something, the IDE integration offers a model fix, and the simulated
user accepts it when it matches the fix they make themselves and refuses it otherwise.

The simulated model proposes the true fix (the mistake undone) with probability `accuracy`, and
otherwise one of the wrong fixes models are known for: deleting the error line, or commenting it
out. A user who would fix the mistake accepts an offer whose result is their own fix (the clean fix,
or the file right after their fix) and, now and then (`undo_share`), accepts a wrong one and undoes
it; every other offer is refused when the user fixes the mistake themselves (the event carries
their fix as `user_diff`) or leaves it (the file is closed with the offer open, no `user_diff`).
Every choice is drawn from a `random.Random` seeded with the mistake's identity, so a partition's
events are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from repair.dataset import DEFAULT_WINDOW
from repair.diagnostic import Diagnostic
from repair.feedback import ACCEPTED, OFFERED, REJECTED, UNDONE, feedback_event, feedback_id
from repair.linediff import DiffError, LineDiff, apply_diff, make_diff, render_diff, split_lines
from repair.prompt import PromptError, render_prompt
from repair.simulate.session import MistakeRecord

OFFER_DELAY_MS = 1_500  # from the mistake's diagnostics to the offer (model latency included)
DECIDE_MS = 4_000  # from the offer to the user's decision when they act at once
UNDO_MS = 6_000  # from accepting a wrong fix to undoing it


@dataclass(frozen=True)
class FeedbackModel:
    """The simulated served model and user, as far as feedback goes."""

    accuracy: float = 0.6
    undo_share: float = 0.15
    model_version: str = "1"
    latency_ms: tuple[int, int] = (60, 400)


def _wrong_fix(before: str, line: int, rng: random.Random) -> LineDiff:
    text = split_lines(before)[line - 1]
    if rng.random() < 0.5:
        return make_diff(before, "\n".join(l for i, l in enumerate(split_lines(before), 1) if i != line))
    indent = text[: len(text) - len(text.lstrip())]
    lines = split_lines(before)
    lines[line - 1] = f"{indent}# {text.lstrip()}"
    return make_diff(before, "\n".join(lines))


def _applies(before: str, diff: LineDiff) -> str | None:
    try:
        return apply_diff(before, diff)
    except DiffError:
        return None


def mistake_feedback(
    record: MistakeRecord,
    caused: list[dict[str, Any]] | None,
    seed: object = 0,
    model: FeedbackModel = FeedbackModel(),
) -> list[dict[str, Any]]:
    """The events of the offer made for `record`'s first reported diagnostic (none when it caused
    none, or its times are unknown)."""
    if not caused or record.before_fix is None or record.clean_fix is None or record.introduced_ts is None:
        return []
    reported = caused[0]
    before = record.before_fix
    line = reported["line"]
    if not 1 <= line <= len(split_lines(before)):
        return []
    rng = random.Random(f"{seed}/{record.repl}/{record.session}/{record.file}/{record.introduced_version}/{line}")
    diagnostic = Diagnostic(
        reported["source"], reported["code"], "error", reported["message"], line - 1, 0, line - 1, 0
    )
    true_fix = make_diff(before, record.clean_fix)
    offered = true_fix if rng.random() < model.accuracy else _wrong_fix(before, line, rng)
    if offered.is_empty:
        return []
    try:
        prompt = render_prompt(before, diagnostic, record.file.rsplit("/", 1)[-1], DEFAULT_WINDOW)
    except PromptError:
        return []
    result = _applies(before, offered)
    wanted = {record.clean_fix, record.user_fix} - {None}
    fixed_by_user = record.user_fix is not None and record.fixed_ts is not None
    offered_ts = record.introduced_ts + OFFER_DELAY_MS
    decided_ts = min(record.fixed_ts, offered_ts + DECIDE_MS) if fixed_by_user else offered_ts + DECIDE_MS
    decided_ts = max(decided_ts, offered_ts + 1)
    common = {
        "repl": record.repl,
        "diagnostic_id": feedback_id(record.repl, record.session, record.file, record.broken_version, line, diagnostic.describe()),
        "model_version": model.model_version,
        "diff": render_diff(offered),
        "latency_ms": rng.randint(*model.latency_ms),
        "file": record.file,
        "rule": f"{diagnostic.source}:{diagnostic.code}",
        "prompt": prompt,
    }

    def event(action: str, ts: int, session: str, **extra: Any) -> dict[str, Any]:
        return feedback_event(session=session, ts=ts, action=action, **common, **extra)

    events = [event(OFFERED, offered_ts, record.session)]
    decision_session = record.fixed_session or record.session if fixed_by_user else record.session
    if result in wanted:
        events.append(event(ACCEPTED, decided_ts, decision_session))
    elif fixed_by_user and rng.random() < model.undo_share:
        events.append(event(ACCEPTED, decided_ts, decision_session))
        events.append(event(UNDONE, decided_ts + UNDO_MS, decision_session))
    elif fixed_by_user:
        events.append(event(REJECTED, decided_ts, decision_session, user_diff=render_diff(make_diff(before, record.user_fix))))
    else:
        events.append(event(REJECTED, decided_ts, decision_session))
    return events


def simulated_feedback(
    mistakes: Iterable[MistakeRecord],
    caused: Mapping[int, list[dict[str, Any]] | None],
    seed: object = 0,
    model: FeedbackModel = FeedbackModel(),
) -> list[dict[str, Any]]:
    """The feedback events of a project's mistakes (`caused` by `id(record)`, as the shard's lint
    gives it)."""
    return [e for record in mistakes for e in mistake_feedback(record, caused.get(id(record)), seed, model)]
