"""Stage `diagnostics`: `reproduced_diagnostics`, the logged diagnostics that re-linting the
reconstructed file state reproduces and that are worth learning from (see docs/diagnostics.md and
`repair.reproduce`).

Per daily partition: `error_states` rows in; kept rows (error_states columns + `reproduced_message`)
out through the IO manager; dropped rows with `reason` and `detail` to
`quarantine/reproduced_diagnostics/<partition>.parquet`. Data-quality checks (Great Expectations)
run on the frame in hand and are blocking: what goes downstream has its fields, lines inside the
file, known severities, a sane reproduction rate and reconciled counts.
"""

import time

import dagster as dg
import polars as pl
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from repair.diagnostic import SEVERITIES, SOURCES
from repair.ground_truth import TruthIndex, read_ground_truth, reproduction_quality
from repair.ingest import load_context
from repair.ingest.frames import quarantine_key, write_frame
from repair.reproduce import REASONS, Reproduction, reproduce
from repair.reproduce_spark import StoredStates
from repair.settle import DEFAULT_DWELL_MS, DEFAULT_EVIDENCE, DEFAULT_PAUSE_MS, EVIDENCE, SettleSettings
from repair_assets._partitions import daily_log_partitions
from resources.choices import LintExecutor, SettleEvidence
from resources.linter import LinterResource
from resources.object_store import ObjectStoreResource

ASSET = "reproduced_diagnostics"
REQUIRED_COLUMNS = (
    "diagnostic_id", "repl", "session", "file", "version", "source", "code", "severity", "message",
    "start_line", "start_character", "end_line", "end_character", "content", "reproduced_message",
)
CHECKS = {
    "fields_present": "every kept row has the fields downstream reads, none null",
    "line_within_file": "the diagnostic's line exists in the file's content",
    "severity_values": "severity and source take the values of docs/formats.md section 1",
    "reproduction_rate": "the share of linted diagnostics that reproduce is above the linter resource's floor",
    "counts_reconcile": "input rows = kept + quarantined",
}


class ReproduceConfig(dg.Config):
    """Per-run overrides of the `linter` resource."""

    executor: LintExecutor | None = Field(default=None, description=f"Override the linter resource's executor ({', '.join(LintExecutor)}); empty: the resource's.")
    batch_size: int | None = Field(default=None, description="Override the file states per linter call; empty: the resource's.")
    one_state_per_mistake: bool | None = Field(default=None, description="Keep one state per mistake (false: every republished state of it); empty: the resource's.")  # false: keep every republished state of a mistake
    require_settled: bool = Field(
        default=True,
        description="Keep only diagnostics the user saw (settled); false keeps typing in progress too, "
        "with a null `settled_by`.",
    )
    drop_left_unfixed: bool = Field(
        default=True,
        description="Drop diagnostics the user saw and left (still reported after the file's last edit of the "
        "day; syntax errors exempt): errors of the code as meant, not mistakes; false keeps them.",
    )
    settle_evidence: list[SettleEvidence] = Field(
        default_factory=lambda: [SettleEvidence(e) for e in DEFAULT_EVIDENCE],
        description=f"What settles a diagnostic while it shows: any of {', '.join(EVIDENCE)} (docs/diagnostics.md); "
        f"by default the user's acts, {', '.join(DEFAULT_EVIDENCE)}.",
    )
    pause_ms: int = Field(
        default=DEFAULT_PAUSE_MS, description="A pause in typing on the file this long settles a diagnostic."
    )
    dwell_ms: int = Field(
        default=DEFAULT_DWELL_MS, description="A diagnostic on screen this long in all (across republishes) settled."
    )


@dg.asset(
    group_name="diagnostics",
    partitions_def=daily_log_partitions,
    kinds={"python", "polars", "spark"},
    check_specs=[
        dg.AssetCheckSpec(name, asset=ASSET, description=description, blocking=True)
        for name, description in CHECKS.items()
    ],
)
def reproduced_diagnostics(
    context: dg.AssetExecutionContext,
    config: ReproduceConfig,
    error_states: pl.DataFrame,
    session_timelines: pl.DataFrame,
    linter: LinterResource,
    object_store: ObjectStoreResource,
    spark: LazyPySparkResource,
):
    """The logged diagnostics the user saw (settled: the timeline shows a save, run, cursor move,
    republish or pause while they showed) that ruff/basedpyright reproduce on the reconstructed file
    state (same source, rule and line), without deterministic fixes, style-only rules, non-Python,
    generated or vendored files and duplicates; the rest is quarantined with its reason. On a
    simulated day the metadata measures the settle filter against the simulator's ground truth."""
    partition = context.partition_key
    store = object_store.get_store()
    settings = linter.reproduce_settings(
        executor=config.executor, batch_size=config.batch_size, one_state_per_mistake=config.one_state_per_mistake,
        settle=SettleSettings(config.pause_ms, config.dwell_ms, tuple(config.settle_evidence)),
        require_settled=config.require_settled, drop_left_unfixed=config.drop_left_unfixed,
    )
    contexts = load_context(store, partition, error_states) if error_states.height else []
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done == total or done % max(total // 10, 1) == 0:
            context.log.info(f"{ASSET} {partition}: linted {done}/{total} batches")

    outcome = reproduce(
        error_states,
        contexts,
        settings,
        timelines=session_timelines,
        progress=progress,
        **_on_spark(spark, store, partition) if settings.executor == "spark" else {},
    )
    seconds = time.monotonic() - started
    quarantine_uri = write_frame(store, quarantine_key(ASSET, partition), outcome.dropped)
    metadata = _metadata(outcome, seconds, settings.executor, quarantine_uri)
    mistakes, as_written = read_ground_truth(store, partition)
    if mistakes:
        metadata |= truth_metadata(error_states, outcome, TruthIndex(mistakes, as_written))
    yield dg.Output(outcome.kept, metadata=metadata)
    yield from check_results(outcome, linter.min_reproduction_rate)


def _on_spark(spark: LazyPySparkResource, store, partition: str) -> dict:
    """The session, and where the executors read this partition's rows: where the IO manager
    keeps `error_states` (resources/io_manager.py)."""
    where = StoredStates(store.location(), f"assets/error_states/{partition}.parquet", partition)
    return {"spark": spark.spark_session, "stored": where}


def _metadata(outcome: Reproduction, seconds: float, executor: str, quarantine_uri: str) -> dict:
    rate = outcome.reproduction_rate
    table = "| rule | linted | reproduced | rate |\n| --- | --- | --- | --- |\n" + "\n".join(
        f"| {rule} | {r['linted']} | {r['reproduced']} | {r['rate']:.2f} |" for rule, r in outcome.rule_rates.items()
    )
    return {
        "input_rows": outcome.counts["input"],
        "kept_rows": outcome.counts["kept"],
        **{f"dropped_{reason}": outcome.counts[reason] for reason in REASONS},
        "states_linted": outcome.states_linted,
        "reproduction_rate": dg.MetadataValue.float(rate) if rate is not None else dg.MetadataValue.null(),
        "reproduction_rate_per_rule": dg.MetadataValue.md(table),
        "executor": executor,
        "lint_seconds": dg.MetadataValue.float(round(seconds, 2)),
        "states_per_second": dg.MetadataValue.float(round(outcome.states_linted / seconds, 1) if seconds else 0.0),
        "quarantine": dg.MetadataValue.url(quarantine_uri),
    }


QUALITY_COLUMNS = (
    ("rows", "int"), ("kept", "int"), ("kept_mistake", "int"), ("kept_as_written", "int"),
    ("kept_unexplained", "int"), ("precision", "float"), ("explained_share", "float"), ("mistakes", "int"),
    ("mistakes_kept", "int"), ("recall", "float"),
)  # fmt: skip


def quality_table(quality: dict, label: str) -> dg.TableMetadataValue:
    """`repair.ground_truth.filter_quality` figures, one row per group, as a Dagster table."""
    columns = [dg.TableColumn(label, "string")] + [dg.TableColumn(name, kind) for name, kind in QUALITY_COLUMNS]
    records = [
        dg.TableRecord({label: name, **{c: figures[c] for c, _ in QUALITY_COLUMNS}})
        for name, figures in [("(all)", quality["overall"]), *quality["per_group"].items()]
    ]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def truth_metadata(error_states: pl.DataFrame, outcome: Reproduction, index: TruthIndex) -> dict:
    """The settle filter and the whole stage measured against the simulator's ground truth:
    precision (kept rows that belong to a recorded mistake; the explained share also counts errors
    of the code as written) and recall (mistakes keeping a diagnostic), per settle evidence and per
    rule."""
    quality = reproduction_quality(
        error_states.to_dicts(), outcome.settle_input, outcome.settled_by,
        set(outcome.kept["diagnostic_id"].to_list()), index,
    )  # fmt: skip
    settled, kept = quality["settle"]["overall"], quality["kept"]["overall"]
    return {
        "settle_precision": settled["precision"],
        "settle_recall": settled["recall"],
        "settle_explained_share": settled["explained_share"],
        "settle_quality_by_evidence": quality_table(quality["settle"], "evidence"),
        "settle_quality_by_rule": quality_table(quality["settle_by_rule"], "rule"),
        "kept_precision": kept["precision"],
        "kept_explained_share": kept["explained_share"],
        "kept_recall": kept["recall"],
        "kept_quality_by_rule": quality_table(quality["kept_by_rule"], "rule"),
        "ground_truth_mistakes": len(index),
    }


def check_results(outcome: Reproduction, min_rate: float) -> list[dg.AssetCheckResult]:
    """The stage's data-quality checks on the frame in hand, written as Great Expectations
    expectations."""
    import great_expectations as gx

    kept = outcome.kept
    frame = kept.with_columns(
        line_count=pl.col("content").str.count_matches("\n") + 1
    ).to_pandas() if "content" in kept.columns else kept.to_pandas()
    expectations = {
        "fields_present": [gx.expectations.ExpectColumnToExist(column=c) for c in REQUIRED_COLUMNS]
        + [gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in REQUIRED_COLUMNS if c in kept.columns],
        "line_within_file": [
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(column_A="line_count", column_B="start_line"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="start_line", min_value=0),
        ],
        "severity_values": [
            gx.expectations.ExpectColumnValuesToBeInSet(column="severity", value_set=list(SEVERITIES)),
            gx.expectations.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
        ],
    }
    results = [_validate(name, frame, suite) for name, suite in expectations.items()]
    rate = outcome.reproduction_rate
    results.append(
        dg.AssetCheckResult(
            check_name="reproduction_rate",
            asset_key=ASSET,
            # Nothing linted (an empty or fully filtered day) is not a failure of the linters.
            passed=rate is None or rate >= min_rate,
            metadata={"rate": dg.MetadataValue.float(rate) if rate is not None else dg.MetadataValue.null(), "floor": min_rate},
        )
    )
    dropped = sum(outcome.counts[reason] for reason in REASONS)
    results.append(
        dg.AssetCheckResult(
            check_name="counts_reconcile",
            asset_key=ASSET,
            passed=outcome.counts["input"] == outcome.counts["kept"] + dropped == kept.height + outcome.dropped.height,
            metadata={"input": outcome.counts["input"], "kept": kept.height, "quarantined": outcome.dropped.height},
        )
    )
    return results


def _validate(name: str, frame, expectations) -> dg.AssetCheckResult:
    import great_expectations as gx

    gx_context = gx.get_context(mode="ephemeral")
    gx_context.variables.progress_bars = {"globally": False}
    batch = (
        gx_context.data_sources.add_pandas(ASSET)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("partition")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=f"{ASSET}.{name}", expectations=expectations)
    validation = batch.validate(suite)
    failures = {
        f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column') or r.expectation_config.kwargs.get('column_A', '')})":
        str(r.result.get("partial_unexpected_list", ""))[:200]
        for r in validation.results
        if not r.success
    }
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=ASSET,
        passed=bool(validation.success),
        metadata={"rows": len(frame), "expectations": len(expectations), "failures": dg.MetadataValue.json(failures)},
    )
