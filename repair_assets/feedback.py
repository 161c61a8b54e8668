"""Group `feedback`: what users did with the model's fixes in the editor (docs/ide.md).

- `preference_pairs` (daily): (prompt, chosen, rejected) pairs from the day's `repair_feedback`
  events (`repair.preferences`); unusable events in `quarantine/preference_pairs/<day>.parquet`.
  Metadata: acceptance rate per model version and per rule, and per hour as a plot (the rate of each
  day is a float, so the UI's metadata plot shows it over days). Checks (blocking): `no_equal_sides`,
  `prompts_in_model_format`, `counts_reconcile`.
- `dpo_candidate` (daily, not in `full_lifecycle`): DPO of the serving model on the day's pairs,
  registered as a candidate model version (`repair.training.dpo`).
"""

import dagster as dg
import polars as pl
from pydantic import Field

from repair.ingest.frames import quarantine_key, write_frame
from repair.preferences import PAIR_COLUMNS, PreferenceResult, acceptance_rate, build_preference_pairs
from repair.prompt import PromptError, parse_prompt
from repair_assets._partitions import daily_log_partitions
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
)
def dpo_candidate(
    context: dg.AssetExecutionContext, config: DpoConfig, preference_pairs: pl.DataFrame, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    """DPO of the serving model (else the newest approved non-DPO one) on the day's preference pairs,
    registered as a candidate model version naming its base; `benchmarks/bench_dpo.py` evaluates it
    against the base through the same harness and gate. Not part of `full_lifecycle`: run it when
    enough feedback has come in."""
    import hashlib
    import json
    import tempfile
    from pathlib import Path

    from repair import registry
    from repair.training.dpo import DpoSettings, register_dpo_candidate, train_dpo

    store = object_store.get_store()
    if preference_pairs.height < config.min_pairs:
        reason = f"{preference_pairs.height} pairs, fewer than min_pairs {config.min_pairs}: no candidate trained"
        context.log.info(reason)
        return dg.MaterializeResult(metadata={"skipped": reason, "pairs": preference_pairs.height})
    serving = registry.serving_version(store)
    if serving is not None:
        base = registry.get(store, registry.MODEL, serving)
    else:
        approved = [r for r in registry.versions(store, registry.MODEL, registry.APPROVED) if r.details.get("stage") != "dpo"]
        if not approved:
            raise dg.Failure("no approved model to start from: materialize approved_model first")
        base = approved[-1]
    settings = DpoSettings(
        beta=config.beta, learning_rate=config.learning_rate, epochs=config.epochs, max_steps=config.max_steps,
        batch_size=config.batch_size,
    )  # fmt: skip
    pairs = preference_pairs.select("prompt", "chosen", "rejected").to_dicts()
    digest = hashlib.sha256(json.dumps(pairs, sort_keys=True).encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory(prefix="dpo-") as tmp:
        base_dir = registry.fetch_model(store, Path(tmp) / "base", version=base.version)
        run = train_dpo(base_dir, pairs, Path(tmp) / "dpo", settings, progress=context.log.info)
        record = register_dpo_candidate(store, run, base, settings, digest)
    context.log.info(f"registered {record.label} (candidate, DPO of v{base.version})")
    return dg.MaterializeResult(
        metadata={
            "model_version": record.version,
            "base_version": base.version,
            "pairs": len(pairs),
            "location": dg.MetadataValue.url(record.uri),
            **{k: v for k, v in run.metrics().items() if v is not None},
        }
    )
