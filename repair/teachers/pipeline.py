"""Running the teachers over a partition's diagnostics and verifying what they propose: the pure
logic behind the `repair_candidates` and `verified_repairs` assets (no Dagster here).

Every (diagnostic, teacher) pair yields exactly one candidate row, with an empty `raw_output` when
the teacher had no fix, so that shares are taken over every diagnostic a teacher was asked about.
Verification gives every row a verdict (`repair.verify.VERDICTS`, plus `duplicate` for a second
teacher's identical accepted fix of the same state): nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from repair.diagnostic import Diagnostic
from repair.ground_truth import TruthIndex
from repair.linediff import DiffError, parse_diff, render_diff
from repair.teachers.user_fix import DEFAULT_HORIZON, DEFAULT_RADIUS, later_versions, mine_user_fix
from repair.verify import ACCEPTED, LintFailure, Verifier, judge_lint

Progress = Callable[[int, int], None]  # (done, total)
DUPLICATE = "duplicate"
NOISY_DROPPED = "noisy, dropped"  # the note of a user fix not taught: no trimmed edit fixes it alone
# The notes of the other user fixes not taught (`repair.teachers.user_fix._not_a_fix`), by reason.
NOT_A_FIX = {
    "continued_typing": "continued typing, dropped",
    "commented_out": "commented out, dropped",
    "deleted": "deleted, dropped",
}
ALL_TEACHERS = "*"  # quarantine rows that concern a diagnostic, not one teacher
TEACHER_PRIORITY = ("user_fix", "search")  # ties between identical accepted fixes: keep the first
STATE_COLUMNS = (
    "diagnostic_id", "repl", "session", "file", "ts", "version", "source", "code", "severity",
    "message", "start_line", "start_character", "end_line", "end_character", "has_code_action",
    "content", "context", "settled_by",
)  # fmt: skip
CANDIDATE_SCHEMA = {
    "diagnostic_id": pl.String,
    "teacher": pl.String,
    "raw_output": pl.String,
    "diff": pl.String,  # canonical rendering, "" when the output holds no well-formed diff
    "noisy": pl.Boolean,  # user_fix only: the user's change also touched unrelated lines
    "note": pl.String,  # the teacher's own account (search family, fixed version, error)
}
VERIFIED_EXTRA_SCHEMA = {"verdict": pl.String, "detail": pl.String, "fixed_content": pl.String}
QUARANTINE_SCHEMA = {"diagnostic_id": pl.String, "teacher": pl.String, "reason": pl.String}


def one_per_diagnostic_id(states: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
    """The first row of each `diagnostic_id` (sorted input: deterministic), and quarantine rows for
    the others. The id hashes the range, not the message, so several parser errors at one position
    share it; one repair target per position is what training wants anyway."""
    duplicated = states.with_row_index("_row").filter(pl.col("diagnostic_id").is_duplicated())
    first = duplicated.group_by("diagnostic_id").agg(pl.col("_row").min(), pl.col("message").first())
    kept_rows = set(first["_row"].to_list())
    kept_message = dict(zip(first["diagnostic_id"].to_list(), first["message"].to_list(), strict=True))
    quarantine = [
        {
            "diagnostic_id": row["diagnostic_id"],
            "teacher": ALL_TEACHERS,
            "reason": f"duplicate diagnostic_id: {row['source']} {row['code']} {row['message']!r} shares it with "
            f"{kept_message[row['diagnostic_id']]!r} (kept)",
        }
        for row in duplicated.filter(~pl.col("_row").is_in(list(kept_rows))).iter_rows(named=True)
    ]
    return states.unique("diagnostic_id", keep="first", maintain_order=True), quarantine


def diagnostic_of(row: Mapping[str, Any]) -> Diagnostic:
    return Diagnostic(
        source=row["source"],
        code=row["code"],
        severity=row["severity"],
        message=row["message"],
        start_line=int(row["start_line"]),
        start_character=int(row["start_character"]),
        end_line=int(row["end_line"]),
        end_character=int(row["end_character"]),
        has_code_action=bool(row.get("has_code_action") or False),
    )


def canonical_diff(raw_output: str) -> str:
    try:
        return render_diff(parse_diff(raw_output))
    except DiffError:
        return ""


def candidate_row(
    diagnostic_id: str, teacher: str, raw: str, noisy: bool | None = None, note: str = ""
) -> dict:
    return {
        "diagnostic_id": diagnostic_id,
        "teacher": teacher,
        "raw_output": raw,
        "diff": canonical_diff(raw),
        "noisy": noisy,
        "note": note,
    }


def fixes_cleanly(
    verifier: Verifier, row: Mapping[str, Any], context: Mapping[str, str]
) -> Callable[[str], bool]:
    """`is_fixed` for the user-fix miner: the re-lint rule of verification (target gone, no new
    error), so that a half-typed intermediate state (`valeu` -> `valu`) does not count as the fix."""
    diagnostic = diagnostic_of(row)
    file_name = row["file"]
    others = {p: t for p, t in context.items() if p != file_name}
    before = verifier.before({**others, file_name: row["content"]}, file_name)

    def is_fixed(text: str) -> bool:
        try:
            after = verifier.lint({**others, file_name: text}, file_name)
        except LintFailure:
            return False
        return judge_lint(diagnostic, before, after) is None

    return is_fixed


def ot_packets_by_file(timelines: pl.DataFrame) -> dict[tuple[str, str, str], list[dict]]:
    """(repl, session, file) -> the file's `ot` events in session order."""
    ot = timelines.filter(pl.col("kind") == "ot").sort(["repl", "session", "seq"])
    grouped: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for repl, session, file, event in ot.select("repl", "session", "file", "event").iter_rows():
        grouped[(repl, session, file)].append(json.loads(event))
    return grouped


def mine_candidates(
    rows: Sequence[Mapping[str, Any]],
    contexts: Sequence[Mapping[str, str]],
    packets: Mapping[tuple[str, str, str], list[dict]],
    verifier: Verifier,
    radius: int = DEFAULT_RADIUS,
    horizon: int = DEFAULT_HORIZON,
    progress: Progress | None = None,
) -> Iterable[dict]:
    for done, (row, context) in enumerate(zip(rows, contexts, strict=True), start=1):
        later = later_versions(
            row["content"],
            int(row["version"]),
            packets.get((row["repl"], row["session"], row["file"]), ()),
            horizon,
        )
        mined = mine_user_fix(
            row["content"], diagnostic_of(row), later, fixes_cleanly(verifier, row, context), radius
        )
        if mined is None:
            yield candidate_row(
                row["diagnostic_id"], "user_fix", "", None, f"not fixed in {len(later)} later versions"
            )
        elif mined.dropped_reason in NOT_A_FIX:
            note = f"{NOT_A_FIX[mined.dropped_reason]}: the change that removed it at version {mined.fixed_version} is no correction"
            yield candidate_row(row["diagnostic_id"], "user_fix", "", mined.noisy, note)
        elif mined.dropped:
            note = (
                f"{NOISY_DROPPED}: fixed at version {mined.fixed_version}, but no part of the user's "
                f"{len(mined.full_diff.ops)}-op change near the error fixes it on its own"
            )
            yield candidate_row(row["diagnostic_id"], "user_fix", "", True, note)
        else:
            trimmed = f"trimmed to {len(mined.diff.ops)} of {len(mined.full_diff.ops)} ops" if mined.noisy else "whole"
            note = f"fixed at version {mined.fixed_version}; {trimmed}"
            yield candidate_row(row["diagnostic_id"], "user_fix", render_diff(mined.diff), mined.noisy, note)
        if progress is not None:
            progress(done, len(rows))


def search_candidates(
    rows: Sequence[Mapping[str, Any]],
    contexts: Sequence[Mapping[str, str]],
    searcher,
    progress: Progress | None = None,
) -> Iterable[dict]:
    for done, (row, context) in enumerate(zip(rows, contexts, strict=True), start=1):
        result = searcher.search(row["content"], diagnostic_of(row), row["file"], context)
        note = (
            f"{result.candidate.family}: {result.candidate.description}"
            if result.candidate
            else f"no verified candidate among {result.checked}"
        )
        yield candidate_row(row["diagnostic_id"], "search", result.diff_text, None, note)
        if progress is not None:
            progress(done, len(rows))


def dspy_candidates(rows: Sequence[Mapping[str, Any]], repairer) -> Iterable[dict]:
    from repair.teachers.dspy_teacher import RepairRequest

    requests = [RepairRequest(row["content"], diagnostic_of(row), row["file"]) for row in rows]
    for row, raw in zip(rows, repairer.propose_many(requests), strict=True):
        yield candidate_row(row["diagnostic_id"], "dspy", raw, None, repairer.name)


def state_key(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        f"{row['repl']}\0{row['file']}\0{row['content']}".encode("utf-8", "surrogatepass")
    ).hexdigest()


def verify_rows(
    candidates: Sequence[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
    contexts: Mapping[str, Mapping[str, str]],
    verifier: Verifier,
    progress: Progress | None = None,
) -> list[dict]:
    """Each candidate with `verdict`, `detail`, `fixed_content`; the first accepted fix of a state
    (by `TEACHER_PRIORITY`, then teacher name) wins, identical later ones become `duplicate`."""
    order = sorted(
        range(len(candidates)),
        key=lambda i: (
            TEACHER_PRIORITY.index(candidates[i]["teacher"])
            if candidates[i]["teacher"] in TEACHER_PRIORITY
            else len(TEACHER_PRIORITY),
            candidates[i]["teacher"],
            i,
        ),
    )
    out: list[dict | None] = [None] * len(candidates)
    accepted_pairs: set[tuple[str, str]] = set()
    for done, index in enumerate(order, start=1):
        candidate = candidates[index]
        state = states[candidate["diagnostic_id"]]
        verdict = verifier.verify(
            state["content"],
            diagnostic_of(state),
            candidate["raw_output"],
            state["file"],
            contexts[candidate["diagnostic_id"]],
        )
        name, detail = verdict.verdict, verdict.detail
        if verdict.accepted:
            pair = (state_key(state), candidate["diff"])
            if pair in accepted_pairs:
                name, detail = DUPLICATE, "the same fix of the same state was accepted from another teacher"
            accepted_pairs.add(pair)
        out[index] = {**candidate, "verdict": name, "detail": detail, "fixed_content": verdict.fixed_content}
        if progress is not None:
            progress(done, len(candidates))
    return [row for row in out if row is not None]


APPLIES_REJECTIONS = frozenset(
    {"no_diff_block", "malformed_diff", "empty_diff", "hallucinated_line", "line_out_of_range"}
)


def _edit(diff_text: str) -> tuple[Counter, Counter]:
    """What a diff leaves and what it takes away, regardless of where: its inserted and removed
    line texts (trailing blanks aside)."""
    try:
        ops = parse_diff(diff_text).ops
    except DiffError:
        return Counter(), Counter()
    return (
        Counter(op.text.rstrip() for op in ops if op.sign == "+"),
        Counter(op.text.rstrip() for op in ops if op.sign == "-"),
    )


def agrees(row: Mapping[str, Any], state: Mapping[str, Any], index: TruthIndex) -> bool | None:
    """Whether a verified fix ends in the same lines as the simulator's clean fix (the same removed
    lines for a fix that only removes); None when the candidate was not verified or no single
    mistake explains the diagnostic. Line numbers and the broken text may differ: the state can be
    an earlier version than the one the clean fix was made on."""
    if row["verdict"] not in (ACCEPTED, DUPLICATE):
        return None
    truth = index.truth_of(state)
    if truth is None or not truth.get("clean_diff"):
        return None
    (inserted, removed), (truth_inserted, truth_removed) = _edit(row["diff"]), _edit(truth["clean_diff"])
    return inserted == truth_inserted if truth_inserted else (not inserted and removed == truth_removed)


@dataclass
class TeacherFigures:
    teacher: str
    attempted: int = 0
    applies: int = 0
    verified: int = 0
    noise_judged: int = 0  # rows whose teacher reports noise (the user-fix miner's found fixes)
    noisy: int = 0
    truth_diagnostics: int = 0  # diagnostics asked about that belong to a recorded mistake
    truth_covered: int = 0  # ... of which this teacher's fix was verified
    truth_agrees: int = 0  # ... and makes the mistake's clean fix

    def as_row(self) -> dict[str, Any]:
        def share(n: int, of: int) -> float | None:
            return round(n / of, 4) if of else None

        return {
            "teacher": self.teacher,
            "attempted": self.attempted,
            "applies_share": share(self.applies, self.attempted),
            "verified_share": share(self.verified, self.attempted),
            "noise_rate": share(self.noisy, self.noise_judged),
            "truth_diagnostics": self.truth_diagnostics,
            "truth_covered": self.truth_covered,
            "truth_agreement": share(self.truth_agrees, self.truth_covered),
            "truth_solved_share": share(self.truth_agrees, self.truth_diagnostics),
        }


def teacher_table(
    rows: Sequence[Mapping[str, Any]],
    truth_agreement: Sequence[bool | None],
    has_truth: Sequence[bool] | None = None,
) -> list[dict[str, Any]]:
    """The case study's comparison per teacher: share of diagnostics with a diff that applies, share
    verified, noise rate (of the user fixes found, those whose change also touched unrelated lines;
    empty for synthesizing teachers, whose diffs are minimal by construction), and, over the
    diagnostics that belong to a recorded mistake (`has_truth`): how many the teacher verified a fix
    for (covered), the share of those making the clean fix (agreement), and the share of all of them
    it fixed that way (solved)."""
    figures: dict[str, TeacherFigures] = {}
    covered = has_truth if has_truth is not None else [a is not None for a in truth_agreement]
    for row, agreement, truth in zip(rows, truth_agreement, covered, strict=True):
        f = figures.setdefault(row["teacher"], TeacherFigures(row["teacher"]))
        f.attempted += 1
        f.applies += row["verdict"] not in APPLIES_REJECTIONS
        f.verified += row["verdict"] in (ACCEPTED, DUPLICATE)
        if row.get("noisy") is not None:
            f.noise_judged += 1
            f.noisy += bool(row["noisy"])
        f.truth_diagnostics += bool(truth)
        if agreement is not None:
            f.truth_covered += 1
            f.truth_agrees += agreement
    return [figures[t].as_row() for t in sorted(figures)]


TEACHER_TABLE_TYPES = {
    "teacher": "string", "attempted": "int", "applies_share": "float", "verified_share": "float",
    "noise_rate": "float", "truth_diagnostics": "int", "truth_covered": "int", "truth_agreement": "float",
    "truth_solved_share": "float",
}  # fmt: skip


def acceptance_by(
    rows: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str]
) -> dict[str, dict[str, Any]]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        counts[key(row)][row["verdict"]] += 1
    return {
        name: {
            "candidates": sum(c.values()),
            "accepted": c[ACCEPTED],
            "rate": round(c[ACCEPTED] / sum(c.values()), 4),
        }
        for name, c in sorted(counts.items())
    }


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
