"""Evaluations of registered model versions, the library calls of the `model_evaluation` and
`dpo_evaluation` assets: which repairers run (the candidate, the serving version, the baselines),
the run over both benchmarks' items, its publication in the store, and what the gate reads. The
assets add the resources' settings and the metadata. See docs/evaluation.md."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from evals.gate import GateDecision
from evals.items import Item, items_from_frame, sample_frame
from evals.models import CASE_STUDY_DECODING, Decoding, demonstrations_from_dataset, parse_model_spec
from evals.run import (
    GATE_MODE,
    EvaluationOutcome,
    evaluate_against_base,
    paired_comparisons,
    publish,
    run_evaluation,
)
from repair import registry
from repair.object_store import ObjectStore

DPO_EVALUATIONS_PREFIX = "evaluations/dpo"
# The per-item columns the deployment gate reads.
GATE_RESULT_COLUMNS = ("item_id", "benchmark", "model", "mode", "ast_or_string", "tests_pass")
VS_BASE_SCHEMA = {
    "benchmark": pl.String, "mode": pl.String, "paired_items": pl.Int64, "candidate": pl.Float64,
    "base": pl.Float64, "difference": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
}  # fmt: skip


def benchmark_items(benchmarks: Sequence[pl.DataFrame], max_items_per_benchmark: int | None) -> list[Item]:
    """Each benchmark's seeded sample (the same items for every run and model), in order."""
    return [item for frame in benchmarks for item in items_from_frame(sample_frame(frame, max_items_per_benchmark))]


def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class ModelEvaluation:
    run_id: str
    candidate: str
    production: str | None
    report_key: str
    outcome: EvaluationOutcome
    plots_markdown: str
    items: int

    def value(self) -> dict[str, Any]:
        """What `deployment_gate` decides on: the run, who was compared, the per-item results."""
        return {
            "run": self.run_id, "candidate": self.candidate, "production": self.production,
            "report": self.report_key, "summary": self.outcome.summary.to_dicts(),
            # The gate's mode only (pass@1: the model's own answer); both modes are in the run's results.parquet.
            "results": self.outcome.results.filter(pl.col("mode") == GATE_MODE)
            .select(GATE_RESULT_COLUMNS).to_dicts(),
        }  # fmt: skip


def evaluate_model_version(
    store: ObjectStore,
    model: registry.VersionRecord,
    items: Sequence[Item],
    *,
    models: Sequence[str],
    llm_models: Sequence[str] = (),
    repair_dataset: pl.DataFrame | None = None,
    decoding: Decoding = CASE_STUDY_DECODING,
    few_shot: int = 4,
    lm_options: dict[str, object] | None = None,
    workers: int = 2,
    k: int = 5,
    log: Callable[[str], None] = print,
) -> ModelEvaluation:
    """The model version, the serving version (when another serves), the `models` baselines and
    each of `llm_models` zero- and few-shot (demonstrations from `repair_dataset`'s training split)
    on `items`, both modes; the run published under `evaluations/`."""
    from repair.training.plots import markdown_image

    serving = registry.serving_version(store)
    candidate = f"finetuned:v{model.version}"
    production = None if serving is None else f"finetuned:v{serving}"
    specs = [candidate] + ([production] if production and production != candidate else []) + list(models)
    specs += [f"{kind}:{name}" for name in llm_models for kind in ("dspy", "dspy-fewshot")]
    log(f"evaluating {len(specs)} models on {len(items)} items; candidate {candidate}, production {production or 'none'}")
    demonstrations = (
        demonstrations_from_dataset(repair_dataset, few_shot) if llm_models and repair_dataset is not None else ()
    )
    run_id = _run_id()
    with tempfile.TemporaryDirectory(prefix="repair-eval-") as tmp:
        outcome = run_evaluation(
            items, [parse_model_spec(s) for s in dict.fromkeys(specs)], Path(tmp), store=store, decoding=decoding,
            demonstrations=demonstrations, few_shot=few_shot, lm_options=lm_options, workers=workers, k=k,
            progress=log,
        )  # fmt: skip
        report_key = publish(store, Path(tmp), run_id)
        plots_md = "\n\n".join(markdown_image(path.read_bytes(), path.stem) for path in outcome.plots.values())
    return ModelEvaluation(run_id, candidate, production, report_key, outcome, plots_md, len(items))


@dataclass
class DpoEvaluation:
    candidate: registry.VersionRecord
    base_version: int
    outcome: EvaluationOutcome
    report_key: str
    vs_base: pl.DataFrame  # candidate - base per benchmark and mode, paired, whether or not the gate got that far
    items: int

    @property
    def decision(self) -> GateDecision:
        assert self.outcome.gate is not None  # evaluate_against_base always gates
        return self.outcome.gate

    def value(self) -> dict[str, Any]:
        decision = self.decision
        return {
            "candidate_version": self.candidate.version, "base_version": self.base_version,
            "passed": decision.passed, "reason": decision.reason, "decision": decision.as_metadata(),
            "report": self.report_key, "summary": self.outcome.summary.to_dicts(),
        }  # fmt: skip


def evaluate_dpo_candidate(
    store: ObjectStore,
    dpo_candidate: registry.VersionRecord,
    items: Sequence[Item],
    *,
    decoding: Decoding = CASE_STUDY_DECODING,
    k: int = 5,
    workers: int = 2,
    log: Callable[[str], None] = print,
) -> DpoEvaluation:
    """The DPO candidate against the model it started from and `no_change`, on the same items, in
    both modes, through the deployment gate (`evals.gate`); a candidate the gate passes is approved
    in the registry, a refused one stays a candidate. Published under `evaluations/dpo/v<N>/`."""
    base = int(dpo_candidate.details["base_version"])
    log(f"evaluating DPO {dpo_candidate.label} against its base v{base} on {len(items)} items")
    run_id = _run_id()
    with tempfile.TemporaryDirectory(prefix="dpo-eval-") as tmp:
        outcome = evaluate_against_base(
            items, dpo_candidate, base, Path(tmp), store=store, decoding=decoding, k=k, workers=workers, progress=log
        )
        report_key = publish(store, Path(tmp), run_id, prefix=f"{DPO_EVALUATIONS_PREFIX}/v{dpo_candidate.version}")
    comparisons = paired_comparisons(outcome.results, f"finetuned:v{dpo_candidate.version}", f"finetuned:v{base}")
    vs_base = pl.DataFrame(
        [{"benchmark": b, "mode": m, "paired_items": c.items, "candidate": c.candidate_score, "base": c.other_score,
          "difference": c.difference, "ci_low": c.ci_low, "ci_high": c.ci_high} for b, m, c in comparisons],
        schema=VS_BASE_SCHEMA,
    )  # fmt: skip
    evaluation = DpoEvaluation(dpo_candidate, base, outcome, report_key, vs_base, len(items))
    if evaluation.decision.passed:
        registry.approve(store, dpo_candidate)
    log(f"gate for DPO {dpo_candidate.label}: {'DEPLOY' if evaluation.decision.passed else 'REFUSED'}: "
        f"{evaluation.decision.reason}")  # fmt: skip
    return evaluation
