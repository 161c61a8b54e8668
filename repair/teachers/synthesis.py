"""One day's synthesis, the library calls of the `repair_candidates` and `verified_repairs` assets:
the teachers' candidates for the day's reproduced diagnostics (with the quarantine and the in = out
count), and every candidate's verdict (with the teacher table and the checks' figures). The assets
add the Dagster resources, metadata and check results. See docs/synthesis.md."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from repair.ground_truth import TruthIndex, read_ground_truth
from repair.object_store import ObjectStore
from repair.teachers import pipeline

MAX_REJECTED_SHARE = 0.9
MAX_LINT_FAILED_SHARE = 0.05

# name -> (passed, the figures shown with it)
CheckFigures = dict[str, tuple[bool, dict[str, Any]]]


def progress_reporter(log: Callable[[str], None], what: str, every: int = 50) -> Callable[[int, int], None]:
    """A progress callback that logs every `every` items and the last."""
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            log(f"{what}: {done}/{total} ({time.monotonic() - started:.0f} s)")

    return report


def _context_files(store: ObjectStore, partition: str, states: pl.DataFrame) -> list[dict[str, str]]:
    from repair.ingest import load_context

    return load_context(store, partition, states)


@dataclass(frozen=True)
class CandidateOptions:
    """Which teachers run and how (the `repair_candidates` asset's config)."""

    teachers: Sequence[str]
    max_checks: int = 6
    user_fix_radius: int = 3
    user_fix_horizon: int = 200
    dspy_window: int | None = None
    dspy_demonstrations: int = 4
    limit: int | None = None


@dataclass(frozen=True)
class DSPyTeacherLM:
    """The LLM the `dspy` teacher asks: a DSPy LM, how many requests at once, its name."""

    lm: Any
    concurrency: int
    model_name: str


@dataclass
class CandidateRun:
    """The candidates of a day, its quarantine, and what the in = out count needs."""

    frame: pl.DataFrame
    quarantine: pl.DataFrame
    quarantine_uri: str
    teachers: list[str]
    diagnostics: int
    input_rows: int
    usage: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        frame = self.frame
        return {
            "diagnostics": self.diagnostics,
            "teachers": ", ".join(self.teachers),
            "candidates_per_teacher": dict(Counter(frame["teacher"].to_list())),
            "with_diff_per_teacher": dict(Counter(frame.filter(pl.col("diff") != "")["teacher"].to_list())),
            "noisy_user_fixes": int(frame["noisy"].fill_null(False).sum()),
            "noisy_user_fixes_dropped": int(frame["note"].str.starts_with(pipeline.NOISY_DROPPED).sum()),
            "user_changes_not_fixes_dropped": {
                reason: int(frame["note"].str.starts_with(note).sum()) for reason, note in pipeline.NOT_A_FIX.items()
            },
            "quarantined": self.quarantine.height,
            "teacher_lm_usage": self.usage,
            "seconds": round(self.seconds, 1),
        }

    def checks(self) -> CheckFigures:
        # In = out: every input row is a diagnostic asked about or a quarantined duplicate id, and every
        # diagnostic asked about has one row per teacher (or a quarantined question).
        duplicates = int((self.quarantine["teacher"] == pipeline.ALL_TEACHERS).sum())
        expected = self.diagnostics * len(self.teachers)
        accounted = self.frame.height + self.quarantine.height - duplicates
        passed = (
            accounted == expected
            and self.diagnostics + duplicates == self.input_rows
            and self.frame.select("diagnostic_id", "teacher").is_duplicated().sum() == 0
        )
        return {"one_candidate_per_teacher_and_diagnostic": (passed, {
            "input_rows": self.input_rows, "diagnostics": self.diagnostics, "duplicate_ids_quarantined": duplicates,
            "expected": expected, "candidates": self.frame.height, "quarantined": self.quarantine.height,
        })}  # fmt: skip


def propose_candidates(
    store: ObjectStore,
    partition: str,
    reproduced_diagnostics: pl.DataFrame,
    session_timelines: pl.DataFrame,
    warm_linter,
    options: CandidateOptions,
    *,
    dspy_lm: DSPyTeacherLM | None = None,
    log: Callable[[str], None] = print,
) -> CandidateRun:
    """One candidate per (diagnostic, teacher): the teacher's raw output and its canonical diff
    (empty when it had no fix), next to the diagnostic's state columns; the quarantine (duplicate
    ids, questions a teacher cannot be asked) written to the store."""
    from repair.ingest.frames import quarantine_key, write_frame
    from repair.teachers.search import SearchRepairer
    from repair.verify import Verifier

    teachers = [t for t in options.teachers if t != "dspy" or dspy_lm is not None]
    states = reproduced_diagnostics.sort("diagnostic_id", "source", "message")
    if "settled_by" not in states.columns:  # reproduced before the settle filter existed
        states = states.with_columns(pl.lit(None, dtype=pl.String).alias("settled_by"))
    if options.limit is not None:
        states = states.head(options.limit)
    input_rows = states.height
    states, quarantine = pipeline.one_per_diagnostic_id(states)
    rows = states.to_dicts()
    contexts = _context_files(store, partition, states) if rows else []
    candidates: list[dict] = []
    usage: dict[str, object] = {}
    started = time.monotonic()
    verifier = Verifier(warm_linter)
    if "search" in teachers:
        searcher = SearchRepairer(verifier, max_checks=options.max_checks)
        candidates += list(
            pipeline.search_candidates(rows, contexts, searcher, progress_reporter(log, "search"))
        )
        log(f"search: {len(rows)} diagnostics in {time.monotonic() - started:.0f} s")
    if "user_fix" in teachers:
        packets = pipeline.ot_packets_by_file(session_timelines)
        candidates += list(pipeline.mine_candidates(
            rows, contexts, packets, verifier, options.user_fix_radius, options.user_fix_horizon,
            progress_reporter(log, "user_fix"),
        ))  # fmt: skip
        log(f"user_fix: done at {time.monotonic() - started:.0f} s")
    if "dspy" in teachers and dspy_lm is not None:
        candidates += _dspy_candidates(options, dspy_lm, rows, candidates, quarantine, usage)
    frame = pl.DataFrame(candidates, schema=pipeline.CANDIDATE_SCHEMA)
    frame = frame.join(states.select(pipeline.STATE_COLUMNS), on="diagnostic_id", how="left")
    quarantine_frame = pl.DataFrame(quarantine, schema=pipeline.QUARANTINE_SCHEMA)
    quarantine_uri = write_frame(store, quarantine_key("repair_candidates", partition), quarantine_frame)
    return CandidateRun(
        frame, quarantine_frame, quarantine_uri, teachers, len(rows), input_rows, usage, time.monotonic() - started
    )


def _dspy_candidates(options, dspy_lm: DSPyTeacherLM, rows, candidates, quarantine, usage) -> list[dict]:
    """The LLM teacher, with demonstrations from this run's verified search repairs; a diagnostic
    it cannot be asked about (its line outside the file) goes to the quarantine."""
    from repair.prompt import PromptError, prompt_parts
    from repair.teachers.dspy_teacher import DSPyRepairer, demonstration, with_demonstrations

    by_id = {row["diagnostic_id"]: row for row in rows}
    demos = [
        demonstration(
            by_id[c["diagnostic_id"]]["content"],
            pipeline.diagnostic_of(by_id[c["diagnostic_id"]]),
            c["diff"],
            by_id[c["diagnostic_id"]]["file"],
            options.dspy_window,
        )
        for c in candidates
        if c["teacher"] == "search" and c["diff"]
    ][: options.dspy_demonstrations]
    askable = []
    for row in rows:
        try:
            prompt_parts(row["content"], pipeline.diagnostic_of(row), row["file"], options.dspy_window)
            askable.append(row)
        except PromptError as error:
            quarantine.append(
                {"diagnostic_id": row["diagnostic_id"], "teacher": "dspy", "reason": str(error)}
            )
    repairer = DSPyRepairer(
        dspy_lm.lm,
        program=with_demonstrations(demos, k=options.dspy_demonstrations),
        window=options.dspy_window,
        max_workers=dspy_lm.concurrency,
    )
    found = list(pipeline.dspy_candidates(askable, repairer))
    usage.update({"model": dspy_lm.model_name, "demonstrations": len(demos), **repairer.usage.as_metadata()})
    return found


@dataclass
class VerifiedRun:
    """Every candidate with its verdict, the teacher table, and the ground truth's agreement."""

    frame: pl.DataFrame
    candidates: int
    teacher_table: list[dict]
    acceptance_by_teacher: dict
    acceptance_by_rule: dict
    ground_truth_records: int
    accepted_truth: list[bool | None]  # per accepted row: agrees with the simulator's truth (None: no truth)
    seconds: float = 0.0

    @property
    def verdicts(self) -> Counter:
        return Counter(self.frame["verdict"].to_list())

    def summary(self) -> dict[str, Any]:
        from repair.verify import ACCEPTED

        verdicts, height, truth = self.verdicts, self.frame.height, self.accepted_truth
        known = [a for a in truth if a is not None]
        return {
            "accepted": verdicts[ACCEPTED],
            "acceptance_rate": round(verdicts[ACCEPTED] / height, 4) if height else None,
            "verdicts": dict(verdicts),
            "acceptance_by_teacher": self.acceptance_by_teacher,
            "acceptance_by_rule": self.acceptance_by_rule,
            "ground_truth_records": self.ground_truth_records,
            # The training targets (accepted rows): how many the ground truth covers, how many agree.
            "accepted_with_truth_share": round(len(known) / len(truth), 4) if truth else None,
            "accepted_truth_agreement": round(sum(bool(a) for a in known) / len(known), 4) if known else None,
            "seconds": round(self.seconds, 1),
        }

    def checks(self) -> CheckFigures:
        from repair.verify import ACCEPTED, VERDICTS

        frame, verdicts = self.frame, self.verdicts
        accepted = frame.filter(pl.col("verdict") == ACCEPTED)
        duplicates = int(accepted.select("repl", "file", "content", "diff").is_duplicated().sum())
        rejected = frame.height - verdicts[ACCEPTED] - verdicts[pipeline.DUPLICATE]
        rejected_share = rejected / frame.height if frame.height else 0.0
        lint_failed_share = verdicts["lint_failed"] / frame.height if frame.height else 0.0
        unknown = set(verdicts) - set(VERDICTS) - {pipeline.DUPLICATE}
        return {
            "no_duplicate_state_diff": (duplicates == 0, {"duplicates": duplicates}),
            "rejected_share_bounded": (
                rejected_share <= MAX_REJECTED_SHARE and lint_failed_share <= MAX_LINT_FAILED_SHARE,
                {"rejected_share": round(rejected_share, 4), "lint_failed_share": round(lint_failed_share, 4)},
            ),
            "every_candidate_has_a_known_verdict": (
                not unknown and frame.height == self.candidates,
                {"candidates": self.candidates, "verified": frame.height, "unknown_verdicts": sorted(unknown)},
            ),
        }


def verify_candidates(
    store: ObjectStore,
    partition: str,
    repair_candidates: pl.DataFrame,
    warm_linter,
    *,
    judge=None,
    log: Callable[[str], None] = print,
) -> VerifiedRun:
    """Every candidate with its `verdict` (`accepted` or the rejection category), `detail` and the
    `fixed_content`, and whether it agrees with the simulator's ground truth; `judge` (a DSPy judge)
    also asks an LLM about fixes that pass the linter."""
    from repair.verify import ACCEPTED, Verifier

    rows = repair_candidates.to_dicts()
    states = {row["diagnostic_id"]: row for row in rows}
    state_frame = repair_candidates.unique("diagnostic_id", keep="first", maintain_order=True)
    contexts = (
        dict(zip(state_frame["diagnostic_id"].to_list(), _context_files(store, partition, state_frame), strict=True))
        if rows
        else {}
    )
    started = time.monotonic()
    verified = pipeline.verify_rows(
        rows, states, contexts, Verifier(warm_linter, judge), progress_reporter(log, "verified")
    )
    truth = TruthIndex(*read_ground_truth(store, partition))
    agreement = [pipeline.agrees(row, states[row["diagnostic_id"]], truth) for row in verified]
    has_truth = [truth.truth_of(states[row["diagnostic_id"]]) is not None for row in verified]
    frame = pl.DataFrame(
        verified, schema={**repair_candidates.schema, **pipeline.VERIFIED_EXTRA_SCHEMA}
    ).with_columns(pl.Series("agrees_with_truth", agreement, dtype=pl.Boolean))
    return VerifiedRun(
        frame,
        candidates=repair_candidates.height,
        teacher_table=pipeline.teacher_table(verified, agreement, has_truth),
        acceptance_by_teacher=pipeline.acceptance_by(verified, lambda r: r["teacher"]),
        acceptance_by_rule=pipeline.acceptance_by(verified, lambda r: f"{r['source']} {r['code']}"),
        ground_truth_records=len(truth),
        accepted_truth=[a for row, a in zip(verified, agreement, strict=True) if row["verdict"] == ACCEPTED],
        seconds=time.monotonic() - started,
    )
