"""Synthesis: teachers propose numbered line diffs for reproduced diagnostics (`repair_candidates`),
and verification keeps the trustworthy ones (`verified_repairs`). See docs/synthesis.md.

Teachers (config `teachers`): `search` (candidate edits verified with the warm linter; the offline
default), `user_fix` (the user's own later fix, mined from the session timeline) and `dspy` (an
LLM through DSPy; used when the `teacher_lm` resource names a model). The logic is
`repair.teachers.synthesis` (over `repair.teachers` and `repair.verify`).
"""

import dagster as dg
import polars as pl
from pydantic import Field

from repair.teachers import synthesis
from repair.teachers.synthesis import MAX_LINT_FAILED_SHARE, MAX_REJECTED_SHARE
from repair_assets._partitions import daily_log_partitions
from resources.choices import Teacher
from resources.linter import LinterResource
from resources.object_store import ObjectStoreResource
from resources.teacher_lm import TeacherLMResource

GROUP = "synthesis"


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


def _metadata(summary: dict) -> dict:
    """A library summary as materialization metadata: dicts and lists as JSON."""
    return {k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in summary.items()}


def _check_results(checks: synthesis.CheckFigures):
    for name, (passed, figures) in checks.items():
        yield dg.AssetCheckResult(check_name=name, passed=passed, metadata=figures)


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
    options = synthesis.CandidateOptions(
        [str(t) for t in config.teachers], config.max_checks, config.user_fix_radius, config.user_fix_horizon,
        config.dspy_window, config.dspy_demonstrations, config.limit,
    )  # fmt: skip
    asks_lm = Teacher.dspy in config.teachers and teacher_lm.configured
    dspy_lm = (
        synthesis.DSPyTeacherLM(teacher_lm.build_lm(), teacher_lm.concurrency(), teacher_lm.model_name())
        if asks_lm
        else None
    )
    with linter.warm() as warm:
        run = synthesis.propose_candidates(
            object_store.get_store(), context.partition_key, reproduced_diagnostics, session_timelines, warm,
            options, dspy_lm=dspy_lm, log=context.log.info,
        )  # fmt: skip
    yield dg.Output(run.frame, metadata={
        "dagster/row_count": run.frame.height, **_metadata(run.summary()),
        "quarantine": dg.MetadataValue.path(run.quarantine_uri),
    })  # fmt: skip
    yield from _check_results(run.checks())


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
    from repair.teachers.dspy_teacher import DSPyJudge

    if config.judge and not teacher_lm.configured:
        raise dg.Failure("judge=True needs a teacher model (REPAIR_TEACHER_MODEL)")
    with linter.warm() as warm:
        run = synthesis.verify_candidates(
            object_store.get_store(), context.partition_key, repair_candidates, warm,
            judge=DSPyJudge(teacher_lm.build_lm()) if config.judge else None, log=context.log.info,
        )  # fmt: skip
    yield dg.Output(run.frame, metadata={
        "dagster/row_count": run.frame.height, **_metadata(run.summary()),
        "teachers": teacher_table_metadata(run.teacher_table),
    })  # fmt: skip
    yield from _check_results(run.checks())
