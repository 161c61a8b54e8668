"""Group `feedback`: what users did with the model's fixes in the editor (docs/ide.md).

- `preference_pairs` (daily): (prompt, chosen, rejected) pairs from the day's `repair_feedback`
  events (`repair.preferences`); unusable events in `quarantine/preference_pairs/<day>.parquet`.
  Metadata: acceptance rate per model version and per rule, and per hour as a plot (the rate of each
  day is a float, so the UI's metadata plot shows it over days). Checks (blocking): `no_equal_sides`,
  `prompts_in_model_format`, `counts_reconcile`.
- `dpo_candidate` (daily, not in `full_lifecycle`): DPO of the serving model on the day's pairs,
  registered as a candidate model version (`repair.training.dpo`).
- `dpo_evaluation` (daily, after `dpo_candidate`): that candidate against the model it started from
  and `no_change` on the evaluation's benchmarks, both modes, decided by the deployment gate
  (`evals.gate`); the run is published under `evaluations/dpo/v<N>/`.
"""

import dagster as dg
import polars as pl
from pydantic import Field

from repair import registry
from repair.ingest.frames import quarantine_key, write_frame
from repair.preferences import PAIR_COLUMNS, PreferenceResult, acceptance_rate, build_preference_pairs
from repair.prompt import PromptError, parse_prompt
from repair_assets._partitions import daily_log_partitions
from repair_assets._tables import SCORE_COLUMNS, frame_table
from resources.object_store import ObjectStoreResource

GROUP = "feedback"
ASSET = "preference_pairs"
CHECKS = {
    "no_equal_sides": "no pair's chosen and rejected sides are the same fix",
    "prompts_in_model_format": "every pair's prompt is a model input (docs/formats.md)",
    "counts_reconcile": "feedback events = used + quarantined; offers = paired + unpaired; pairs match the frame",
}
PAIR_SCHEMA = {name: pl.String for name in PAIR_COLUMNS}
QUARANTINE_SCHEMA = {
    "repl": pl.String, "session": pl.String, "ts": pl.Int64, "diagnostic_id": pl.String, "action": pl.String,
    "reason": pl.String,
}  # fmt: skip


def _rate_table(rows: list[dict], column: str) -> dg.MetadataValue:
    rates = acceptance_rate(rows, column)
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({column: key[0], "acceptance_rate": round(rate, 3), "decided_offers": decided})
            for key, (rate, decided) in rates.items()
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(column, "string"),
                dg.TableColumn("acceptance_rate", "float"),
                dg.TableColumn("decided_offers", "int"),
            ]
        ),
    )


def _plot(rows: list[dict]) -> str:
    from repair.training.plots import markdown_image, rate_over_time_png

    series: dict[str, list[tuple[str, float]]] = {}
    for (version, hour), (rate, decided) in acceptance_rate(rows, "model_version", "hour").items():
        if decided:
            series.setdefault(f"model v{version}", []).append((hour[-5:], rate))
    return markdown_image(rate_over_time_png(series, "acceptance rate per hour (UTC)"), "acceptance over time")


def _metadata(result: PreferenceResult, pairs: pl.DataFrame, quarantine_uri: str) -> dict:
    rows = result.acceptance()
    decided = sum(r["decided"] for r in rows)
    accepted = sum(r["accepted"] for r in rows)
    return {
        "pairs": pairs.height,
        **{name: result.counts[name] for name in sorted(result.counts) if name != "pairs"},
        "acceptance_rate": dg.MetadataValue.float(accepted / decided) if decided else dg.MetadataValue.null(),
        "acceptance_per_model_version": _rate_table(rows, "model_version"),
        "acceptance_per_rule": _rate_table(rows, "rule"),
        "acceptance_over_time": dg.MetadataValue.md(_plot(rows) if decided else "(no decided offers)"),
        "chosen_from": dg.MetadataValue.json(dict(pairs.group_by("chosen_from").len().iter_rows()) if pairs.height else {}),
        "quarantine": dg.MetadataValue.url(quarantine_uri),
    }


def check_results(result: PreferenceResult, pairs: pl.DataFrame) -> list[dg.AssetCheckResult]:
    equal = pairs.filter(pl.col("chosen") == pl.col("rejected")).height if pairs.height else 0
    bad_prompts = []
    for prompt in pairs["prompt"].to_list() if pairs.height else []:
        try:
            parse_prompt(prompt)
        except PromptError as error:
            bad_prompts.append(str(error)[:120])
    c = result.counts
    reconciled = (
        c["feedback_events"] == c["events_used"] + c["events_quarantined"]
        and c["offers"] == c["offers_paired"] + c["offers_unpaired"]
        and c["pairs"] == pairs.height
    )
    return [
        dg.AssetCheckResult(check_name="no_equal_sides", asset_key=ASSET, passed=equal == 0, metadata={"equal_pairs": equal}),
        dg.AssetCheckResult(
            check_name="prompts_in_model_format",
            asset_key=ASSET,
            passed=not bad_prompts,
            metadata={"bad_prompts": len(bad_prompts), "examples": dg.MetadataValue.json(bad_prompts[:5])},
        ),
        dg.AssetCheckResult(
            check_name="counts_reconcile",
            asset_key=ASSET,
            passed=reconciled,
            metadata={k: c[k] for k in ("feedback_events", "events_used", "events_quarantined", "offers", "offers_paired", "offers_unpaired", "pairs")},
        ),
    ]


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_log_partitions,
    kinds={"python", "polars"},
    check_specs=[dg.AssetCheckSpec(name, asset=ASSET, description=d, blocking=True) for name, d in CHECKS.items()],
)
def preference_pairs(
    context: dg.AssetExecutionContext, session_logs: pl.DataFrame, object_store: ObjectStoreResource
):
    """(prompt, chosen, rejected) pairs for preference training: chosen is a fix the user kept or
    the user's own later fix, rejected a model fix the user refused or undid (repair.preferences)."""
    import json

    events = [json.loads(raw) for raw in session_logs.filter(pl.col("kind") == "repair_feedback")["event"]]
    result = build_preference_pairs(events)
    pairs = pl.DataFrame(result.pairs, schema=PAIR_SCHEMA, orient="row") if result.pairs else pl.DataFrame(schema=PAIR_SCHEMA)
    quarantine = pl.DataFrame(result.quarantined, schema=QUARANTINE_SCHEMA, orient="row") if result.quarantined else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    uri = write_frame(object_store.get_store(), quarantine_key(ASSET, context.partition_key), quarantine)
    context.log.info(f"{ASSET} {context.partition_key}: {pairs.height} pairs from {result.counts['offers']} offers")
    yield dg.Output(pairs, metadata=_metadata(result, pairs, uri))
    yield from check_results(result, pairs)


class DpoConfig(dg.Config):
    """Preference training of the serving model on the day's pairs (repair.training.dpo)."""

    beta: float = Field(0.1, description="DPO beta: how strongly the policy is held near the base model")
    learning_rate: float = Field(5e-5, description="AdamW learning rate")
    epochs: float = Field(2.0, description="passes over the pairs (ignored when max_steps > 0)")
    max_steps: int = Field(-1, description="optimizer steps; -1 runs `epochs`")
    batch_size: int = Field(4, description="pairs per step")
    min_pairs: int = Field(20, description="with fewer pairs than this, no candidate is trained")


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_log_partitions,
    kinds={"pytorch", "huggingface"},
    pool="training",
    output_required=False,
)
def dpo_candidate(
    context: dg.AssetExecutionContext, config: DpoConfig, preference_pairs: pl.DataFrame, object_store: ObjectStoreResource
):
    """DPO of the serving model (else the newest approved non-DPO one) on the day's preference pairs,
    registered as a candidate model version naming its base; `dpo_evaluation` evaluates and gates
    it. With too few pairs nothing is trained: an observation says why, and `dpo_evaluation` is
    skipped. Not part of `full_lifecycle`: run it when enough feedback has come in."""
    import tempfile

    from repair.training.dpo import DpoSettings, NoBaseModel, train_dpo_candidate

    if preference_pairs.height < config.min_pairs:
        reason = f"{preference_pairs.height} pairs, fewer than min_pairs {config.min_pairs}: no candidate trained"
        context.log.info(reason)
        yield dg.AssetObservation(asset_key=context.asset_key, partition=context.partition_key,
                                  metadata={"skipped": reason, "pairs": preference_pairs.height})
        return
    settings = DpoSettings(
        beta=config.beta, learning_rate=config.learning_rate, epochs=config.epochs, max_steps=config.max_steps,
        batch_size=config.batch_size,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dpo-") as tmp:
        try:
            record, base, run = train_dpo_candidate(object_store.get_store(), preference_pairs.to_dicts(), tmp,
                                                    settings, progress=context.log.info)  # fmt: skip
        except NoBaseModel as error:
            raise dg.Failure(f"{error} (materialize approved_model first)") from error
    context.log.info(f"registered {record.label} (candidate, DPO of v{base.version})")
    yield dg.Output(record, metadata={
        "model_version": record.version,
        "base_version": base.version,
        "pairs": run.pairs,
        "location": dg.MetadataValue.url(record.uri),
        **{k: v for k, v in run.metrics().items() if v is not None},
    })  # fmt: skip


class DpoEvaluationConfig(dg.Config):
    """How the DPO candidate is compared with the model it started from (as `model_evaluation`)."""

    max_items_per_benchmark: int | None = Field(default=150, description="Seeded sample of each benchmark, the same items as `model_evaluation` (None: every item).")
    k: int = Field(default=5, description="Proposals per item in the `verified@k` mode (the gate compares `pass@1`).")
    max_new_tokens: int = Field(default=192, description="Longest answer generated per item.")
    workers: int = Field(default=2, description="Items evaluated in parallel.")


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_log_partitions,
    kinds={"python", "pytorch"},
    check_specs=[dg.AssetCheckSpec("dpo_may_deploy", asset="dpo_evaluation", blocking=False,
                                   description="The deployment gate's decision on the DPO candidate, with the "
                                               "model it started from in the serving model's place.")],
)
def dpo_evaluation(
    context: dg.AssetExecutionContext,
    config: DpoEvaluationConfig,
    dpo_candidate: registry.VersionRecord,
    repair_benchmark: pl.DataFrame,
    function_repair_benchmark: pl.DataFrame,
    object_store: ObjectStoreResource,
):
    """The DPO candidate against the model it started from and `no_change`, on the same items, in
    both modes, through the same deployment gate (`evals.gate`); a candidate the gate passes is
    approved (deployable like any approved version), a refused one stays a candidate."""
    from evals.models import Decoding
    from evals.version_evaluation import benchmark_items, evaluate_dpo_candidate

    store = object_store.get_store()
    evaluation = evaluate_dpo_candidate(
        store, dpo_candidate,
        benchmark_items((function_repair_benchmark, repair_benchmark), config.max_items_per_benchmark),
        decoding=Decoding(max_new_tokens=config.max_new_tokens), k=config.k, workers=config.workers,
        log=context.log.info,
    )  # fmt: skip
    decision, outcome = evaluation.decision, evaluation.outcome
    yield dg.Output(evaluation.value(), metadata={
        "passed": decision.passed,
        "reason": decision.reason,
        "candidate_version": dpo_candidate.version,
        "base_version": evaluation.base_version,
        "decision": dg.MetadataValue.md(decision.describe()),
        # Candidate - base per benchmark and mode, paired, whether or not the gate got that far.
        "vs_base": frame_table(evaluation.vs_base, ("candidate", "base", "difference", "ci_low", "ci_high")),
        "scores": frame_table(outcome.summary, SCORE_COLUMNS),
        "by_bug_origin": frame_table(outcome.by_origin, SCORE_COLUMNS),
        "by_reference_source": frame_table(outcome.by_reference, SCORE_COLUMNS),
        "report": dg.MetadataValue.url(store.uri(evaluation.report_key)),
        "items": evaluation.items,
    })  # fmt: skip
    yield dg.AssetCheckResult(check_name="dpo_may_deploy", passed=decision.passed, description=decision.reason,
                              metadata={"rules": dg.MetadataValue.json(decision.rules)})
