"""Synthesis: teachers propose numbered line diffs for reproduced diagnostics (`repair_candidates`),
and verification keeps the trustworthy ones (`verified_repairs`). See docs/synthesis.md.

Teachers (config `teachers`): `search` (candidate edits verified with the warm linter; the offline
default), `user_fix` (the user's own later fix, mined from the session timeline) and `dspy` (an
LLM through DSPy; used when the `teacher_lm` resource names a model). Pure logic lives in
`repair.teachers` and `repair.verify`.
"""

import time
from collections import Counter

import dagster as dg
import polars as pl
from pydantic import Field

from repair.ground_truth import TruthIndex, read_ground_truth
from repair_assets._partitions import daily_log_partitions
from resources.choices import Teacher
from resources.linter import LinterResource
from resources.object_store import ObjectStoreResource
from resources.teacher_lm import TeacherLMResource

GROUP = "synthesis"
MAX_REJECTED_SHARE = 0.9
MAX_LINT_FAILED_SHARE = 0.05


class RepairCandidatesConfig(dg.Config):
    teachers: list[Teacher] = Field(
        default_factory=lambda: list(Teacher),
        description="Teachers to run (search, user_fix, dspy); dspy only runs when the teacher_lm resource names a model.",
    )
    max_checks: int = Field(
        default=6, description="Search repairer: candidate edits re-linted per diagnostic at most."
    )
    user_fix_radius: int = Field(
        default=3,
        description="User-fix miner: ops further than this many lines from the error make the fix noisy.",
    )
    user_fix_horizon: int = Field(
        default=200, description="User-fix miner: later versions of the file looked at."
    )
    dspy_window: int | None = Field(
        default=None, description="DSPy teacher: lines shown around the error (None: the whole file)."
    )
    dspy_demonstrations: int = Field(
        default=4,
        description="DSPy teacher: few-shot demonstrations, taken from this run's verified search repairs.",
    )
    limit: int | None = Field(
        default=None, description="At most this many diagnostics (the first by diagnostic_id); None: all."
    )


class VerifiedRepairsConfig(dg.Config):
    judge: bool = Field(
        default=False,
        description="Ask the `teacher_lm` model to judge fixes that pass the linter (needs a configured model).",
    )


def _context_files(
    object_store: ObjectStoreResource, partition: str, states: pl.DataFrame
) -> list[dict[str, str]]:
    from repair.ingest import load_context

    return load_context(object_store.get_store(), partition, states)


def _progress(context: dg.AssetExecutionContext, what: str):
    started, every = time.monotonic(), 50

    def report(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            context.log.info(f"{what}: {done}/{total} ({time.monotonic() - started:.0f} s)")

    return report


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_log_partitions,
    kinds={"python", "dspy"},
    ins={
        "reproduced_diagnostics": dg.AssetIn(),
        "session_timelines": dg.AssetIn(),
    },
    check_specs=[
        dg.AssetCheckSpec(
            "one_candidate_per_teacher_and_diagnostic",
            asset="repair_candidates",
            blocking=True,
            description="Every kept diagnostic got exactly one row from every teacher that ran, or a quarantine row.",
        )
    ],
)
def repair_candidates(
    context: dg.AssetExecutionContext,
    config: RepairCandidatesConfig,
    reproduced_diagnostics: pl.DataFrame,
    session_timelines: pl.DataFrame,
    object_store: ObjectStoreResource,
    linter: LinterResource,
    teacher_lm: TeacherLMResource,
):
    """One candidate per (diagnostic, teacher): the teacher's raw output and its canonical diff
    (empty when it had no fix), next to the diagnostic's state columns."""
    from repair.teachers import pipeline
    from repair.teachers.search import SearchRepairer
    from repair.verify import Verifier

    partition = context.partition_key
    teachers = [str(t) for t in config.teachers if t != Teacher.dspy or teacher_lm.configured]
    states = reproduced_diagnostics.sort("diagnostic_id", "source", "message")
    if "settled_by" not in states.columns:  # reproduced before the settle filter existed
        states = states.with_columns(pl.lit(None, dtype=pl.String).alias("settled_by"))
    input_rows = min(states.height, config.limit) if config.limit is not None else states.height
    if config.limit is not None:
        states = states.head(config.limit)
    states, quarantine = pipeline.one_per_diagnostic_id(states)
    rows = states.to_dicts()
    contexts = _context_files(object_store, partition, states) if rows else []
    candidates: list[dict] = []
    usage: dict[str, object] = {}
    started = time.monotonic()
    with linter.warm() as warm:
        verifier = Verifier(warm)
        if "search" in teachers:
            searcher = SearchRepairer(verifier, max_checks=config.max_checks)
            candidates += list(
                pipeline.search_candidates(rows, contexts, searcher, _progress(context, "search"))
            )
            context.log.info(f"search: {len(rows)} diagnostics in {time.monotonic() - started:.0f} s")
        if "user_fix" in teachers:
            packets = pipeline.ot_packets_by_file(session_timelines)
            candidates += list(
                pipeline.mine_candidates(
                    rows,
                    contexts,
                    packets,
                    verifier,
                    config.user_fix_radius,
                    config.user_fix_horizon,
                    _progress(context, "user_fix"),
                )
            )
            context.log.info(f"user_fix: done at {time.monotonic() - started:.0f} s")
        if "dspy" in teachers:
            candidates += _dspy_candidates(config, teacher_lm, rows, candidates, quarantine, usage)
    frame = pl.DataFrame(candidates, schema=pipeline.CANDIDATE_SCHEMA)
    frame = frame.join(states.select(pipeline.STATE_COLUMNS), on="diagnostic_id", how="left")
    quarantine_frame = pl.DataFrame(quarantine, schema=pipeline.QUARANTINE_SCHEMA)
    quarantine_uri = _write_quarantine(object_store, "repair_candidates", partition, quarantine_frame)

    per_teacher = Counter(frame["teacher"].to_list())
    # In = out: every input row is a diagnostic asked about or a quarantined duplicate id, and every
    # diagnostic asked about has one row per teacher (or a quarantined question).
    duplicates = int((quarantine_frame["teacher"] == pipeline.ALL_TEACHERS).sum())
    expected = len(rows) * len(teachers)
    accounted = frame.height + quarantine_frame.height - duplicates
    yield dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "diagnostics": len(rows),
            "teachers": ", ".join(teachers),
            "candidates_per_teacher": dg.MetadataValue.json(dict(per_teacher)),
            "with_diff_per_teacher": dg.MetadataValue.json(
                dict(Counter(frame.filter(pl.col("diff") != "")["teacher"].to_list()))
            ),
            "noisy_user_fixes": int(frame["noisy"].fill_null(False).sum()),
            "noisy_user_fixes_dropped": int(frame["note"].str.starts_with(pipeline.NOISY_DROPPED).sum()),
            "user_changes_not_fixes_dropped": dg.MetadataValue.json(
                {reason: int(frame["note"].str.starts_with(note).sum()) for reason, note in pipeline.NOT_A_FIX.items()}
            ),
            "quarantined": quarantine_frame.height,
            "quarantine": dg.MetadataValue.path(quarantine_uri),
            "teacher_lm_usage": dg.MetadataValue.json(usage),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    yield dg.AssetCheckResult(
        check_name="one_candidate_per_teacher_and_diagnostic",
        passed=accounted == expected
        and len(rows) + duplicates == input_rows
        and frame.select("diagnostic_id", "teacher").is_duplicated().sum() == 0,
        metadata={
            "input_rows": input_rows,
            "diagnostics": len(rows),
            "duplicate_ids_quarantined": duplicates,
            "expected": expected,
            "candidates": frame.height,
            "quarantined": quarantine_frame.height,
        },
    )


def _dspy_candidates(config, teacher_lm, rows, candidates, quarantine, usage) -> list[dict]:
    """The LLM teacher, with demonstrations from this run's verified search repairs; a diagnostic
    it cannot be asked about (its line outside the file) goes to the quarantine."""
    from repair.prompt import PromptError, prompt_parts
    from repair.teachers import pipeline
    from repair.teachers.dspy_teacher import DSPyRepairer, demonstration, with_demonstrations

    by_id = {row["diagnostic_id"]: row for row in rows}
    demos = [
        demonstration(
            by_id[c["diagnostic_id"]]["content"],
            pipeline.diagnostic_of(by_id[c["diagnostic_id"]]),
            c["diff"],
            by_id[c["diagnostic_id"]]["file"],
            config.dspy_window,
        )
        for c in candidates
        if c["teacher"] == "search" and c["diff"]
    ][: config.dspy_demonstrations]
    askable = []
    for row in rows:
        try:
            prompt_parts(row["content"], pipeline.diagnostic_of(row), row["file"], config.dspy_window)
            askable.append(row)
        except PromptError as error:
            quarantine.append(
                {"diagnostic_id": row["diagnostic_id"], "teacher": "dspy", "reason": str(error)}
            )
    repairer = DSPyRepairer(
        teacher_lm.build_lm(),
        program=with_demonstrations(demos, k=config.dspy_demonstrations),
        window=config.dspy_window,
        max_workers=teacher_lm.concurrency(),
    )
    found = list(pipeline.dspy_candidates(askable, repairer))
    usage.update({"model": teacher_lm.model_name(), "demonstrations": len(demos), **repairer.usage.as_metadata()})
    return found


def _write_quarantine(
    object_store: ObjectStoreResource, asset: str, partition: str, frame: pl.DataFrame
) -> str:
    from repair.ingest.frames import quarantine_key, write_frame

    return write_frame(object_store.get_store(), quarantine_key(asset, partition), frame)


def teacher_table_metadata(table: list[dict]) -> dg.TableMetadataValue:
    """`pipeline.teacher_table` rows as a Dagster table (sortable in the UI)."""
    from repair.teachers.pipeline import TEACHER_TABLE_TYPES

    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in TEACHER_TABLE_TYPES.items()])
    records = [dg.TableRecord(dict(row)) for row in table]
    return dg.MetadataValue.table(records, schema=schema)


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_log_partitions,
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            "no_duplicate_state_diff",
            asset="verified_repairs",
            blocking=True,
            description="Accepted repairs are unique per (file state, diff): no training pair twice.",
        ),
        dg.AssetCheckSpec(
            "rejected_share_bounded",
            asset="verified_repairs",
            blocking=True,
            description=f"At most {MAX_REJECTED_SHARE:.0%} of candidates rejected, and at most "
            f"{MAX_LINT_FAILED_SHARE:.0%} for a linter failure (a broken linter, not bad teachers).",
        ),
        dg.AssetCheckSpec(
            "every_candidate_has_a_known_verdict",
            asset="verified_repairs",
            blocking=True,
            description="In = out: every candidate has one verdict from the documented categories.",
        ),
    ],
)
def verified_repairs(
    context: dg.AssetExecutionContext,
    config: VerifiedRepairsConfig,
    repair_candidates: pl.DataFrame,
    object_store: ObjectStoreResource,
    linter: LinterResource,
    teacher_lm: TeacherLMResource,
):
    """Every candidate with its `verdict` (`accepted` or the rejection category), `detail` and the
    `fixed_content`; acceptance per teacher and rule, and the teacher comparison table (share that
    applies, share verified, noise rate, agreement with the simulator's ground truth)."""
    from repair.teachers import pipeline
    from repair.teachers.dspy_teacher import DSPyJudge
    from repair.verify import ACCEPTED, VERDICTS, Verifier

    partition = context.partition_key
    if config.judge and not teacher_lm.configured:
        raise dg.Failure("judge=True needs a teacher model (REPAIR_TEACHER_MODEL)")
    rows = repair_candidates.to_dicts()
    states = {row["diagnostic_id"]: row for row in rows}
    state_frame = repair_candidates.unique("diagnostic_id", keep="first", maintain_order=True)
    contexts = (
        dict(
            zip(
                state_frame["diagnostic_id"].to_list(),
                _context_files(object_store, partition, state_frame),
                strict=True,
            )
        )
        if rows
        else {}
    )
    started = time.monotonic()
    with linter.warm() as warm:
        judge = DSPyJudge(teacher_lm.build_lm()) if config.judge else None
        verified = pipeline.verify_rows(
            rows, states, contexts, Verifier(warm, judge), _progress(context, "verified")
        )
    truth = TruthIndex(*read_ground_truth(object_store.get_store(), partition))
    agreement = [pipeline.agrees(row, states[row["diagnostic_id"]], truth) for row in verified]
    has_truth = [truth.truth_of(states[row["diagnostic_id"]]) is not None for row in verified]
    table = pipeline.teacher_table(verified, agreement, has_truth)
    accepted_truth = [a for row, a in zip(verified, agreement, strict=True) if row["verdict"] == ACCEPTED]
    frame = pl.DataFrame(
        verified, schema={**repair_candidates.schema, **pipeline.VERIFIED_EXTRA_SCHEMA}
    ).with_columns(pl.Series("agrees_with_truth", agreement, dtype=pl.Boolean))

    verdicts = Counter(frame["verdict"].to_list())
    rejected = frame.height - verdicts[ACCEPTED] - verdicts[pipeline.DUPLICATE]
    yield dg.Output(
        frame,
        metadata={
            "dagster/row_count": frame.height,
            "accepted": verdicts[ACCEPTED],
            "acceptance_rate": round(verdicts[ACCEPTED] / frame.height, 4) if frame.height else None,
            "verdicts": dg.MetadataValue.json(dict(verdicts)),
            "acceptance_by_teacher": dg.MetadataValue.json(
                pipeline.acceptance_by(verified, lambda r: r["teacher"])
            ),
            "acceptance_by_rule": dg.MetadataValue.json(
                pipeline.acceptance_by(verified, lambda r: f"{r['source']} {r['code']}")
            ),
            "teachers": teacher_table_metadata(table),
            "ground_truth_records": len(truth),
            # The training targets (accepted rows): how many the ground truth covers, how many agree.
            "accepted_with_truth_share": round(sum(a is not None for a in accepted_truth) / len(accepted_truth), 4)
            if accepted_truth else None,
            "accepted_truth_agreement": round(
                sum(bool(a) for a in accepted_truth) / max(1, sum(a is not None for a in accepted_truth)), 4
            ) if any(a is not None for a in accepted_truth) else None,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    accepted = frame.filter(pl.col("verdict") == ACCEPTED)
    duplicates = int(accepted.select("repl", "file", "content", "diff").is_duplicated().sum())
    yield dg.AssetCheckResult(
        check_name="no_duplicate_state_diff", passed=duplicates == 0, metadata={"duplicates": duplicates}
    )
    rejected_share = rejected / frame.height if frame.height else 0.0
    lint_failed_share = verdicts["lint_failed"] / frame.height if frame.height else 0.0
    yield dg.AssetCheckResult(
        check_name="rejected_share_bounded",
        passed=rejected_share <= MAX_REJECTED_SHARE and lint_failed_share <= MAX_LINT_FAILED_SHARE,
        metadata={
            "rejected_share": round(rejected_share, 4),
            "lint_failed_share": round(lint_failed_share, 4),
        },
    )
    unknown = set(verdicts) - set(VERDICTS) - {pipeline.DUPLICATE}
    yield dg.AssetCheckResult(
        check_name="every_candidate_has_a_known_verdict",
        passed=not unknown and frame.height == repair_candidates.height,
        metadata={
            "candidates": repair_candidates.height,
            "verified": frame.height,
            "unknown_verdicts": sorted(unknown),
        },
    )
