"""One evaluation run end to end, shared by the `model_evaluation` asset and `repair eval`:
repairers from specs -> per-item results in both modes -> table, breakdowns (rule, bug origin,
reference source), throughput, plots, gate, markdown report, all written into one output folder.

The gate compares the candidate with production on `GATE_MODE` results: the model's own first
answer, what serving returns; `results.parquet` holds both modes per item for any other pairing
(`evals.harness.paired_outcomes`)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from evals.function_benchmark import Progress
from evals.gate import Comparison, GateDecision, GateSettings, deployment_gate
from evals.harness import (
    DEFAULT_K,
    MODES,
    PASS_AT_1,
    breakdown,
    evaluate,
    paired_outcomes,
    plot_rules,
    plot_scores,
    render_report,
    rule_breakdown,
    summary_table,
    trivial_items,
)
from evals.items import Item
from evals.metrics import paired_bootstrap_difference
from evals.models import CASE_STUDY_DECODING, Decoding, ModelSpec, open_repairers, parse_model_spec
from repair import registry
from repair.object_store import ObjectStore

# Where runs are published in the object store: one folder per run, and a pointer to the newest.
EVALUATIONS_PREFIX = "evaluations/code_repair"
REPORT_NAME = "report.md"
RESULTS_NAME = "results.parquet"
SCORES_PLOT = "scores.png"
RULES_PLOT = "rules.png"
GATE_MODE = PASS_AT_1
DEFAULT_GATE = GateSettings()


@dataclass
class EvaluationOutcome:
    results: pl.DataFrame
    throughput: pl.DataFrame
    summary: pl.DataFrame
    breakdown: pl.DataFrame
    by_origin: pl.DataFrame
    by_reference: pl.DataFrame
    trivial: dict[str, int]
    report: str
    plots: dict[str, Path]
    gate: GateDecision | None
    models: list[str]


def run_evaluation(
    items: Sequence[Item],
    specs: Sequence[ModelSpec],
    out_dir: Path,
    *,
    store: ObjectStore | None = None,
    decoding: Decoding = CASE_STUDY_DECODING,
    demonstrations: Sequence = (),
    few_shot: int = 4,
    lm_options: dict[str, object] | None = None,
    workers: int = 2,
    k: int = DEFAULT_K,
    candidate: str | None = None,
    production: str | None = None,
    gate: bool = False,
    checks: dict[str, bool] | None = None,
    gate_settings: GateSettings = DEFAULT_GATE,
    progress: Progress | None = None,
) -> EvaluationOutcome:
    """Evaluates every spec on `items`; with `gate`, compares the repairer named `candidate` with
    the one named `production` (None: nothing serves, the gate passes and says so), `checks` being
    the candidate's blocking checks (`blocking_checks`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_repairers(specs, store=store, decoding=decoding, demonstrations=demonstrations,
                        few_shot=few_shot, lm_options=lm_options) as repairers:
        names = [getattr(r, "name", type(r).__name__) for r in repairers]
        results, throughput = evaluate(repairers, items, k=k, workers=workers, progress=progress)
    summary = summary_table(results)
    rules = rule_breakdown(results)
    by_origin, by_reference = breakdown(results, "bug_origin"), breakdown(results, "reference_source")
    trivial = trivial_items(items)
    plots = {
        SCORES_PLOT: plot_scores(summary, out_dir / SCORES_PLOT),
        RULES_PLOT: plot_rules(rules, out_dir / RULES_PLOT),
    }
    gate_results = results.filter(pl.col("mode") == GATE_MODE)
    decision = deployment_gate(gate_results, candidate, production, checks=checks, settings=gate_settings) \
        if gate and candidate else None
    settings = {**dataclasses.asdict(decoding), "modes": f"pass@1 and verified@k, k={k}", "gate mode": GATE_MODE,
                "few_shot": few_shot, "workers": workers, "items": len(items), "models": ", ".join(names)}
    report = render_report(summary, rules, throughput, by_origin=by_origin, by_reference=by_reference,
                           trivial=trivial, settings=settings,
                           gate_text=f"Mode `{GATE_MODE}`. {decision.describe()}" if decision else None,
                           plots=list(plots))
    (out_dir / REPORT_NAME).write_text(report, encoding="utf-8")
    results.write_parquet(out_dir / RESULTS_NAME)
    summary.write_parquet(out_dir / "summary.parquet")
    return EvaluationOutcome(results, throughput, summary, rules, by_origin, by_reference, trivial, report, plots,
                             decision, names)


def blocking_checks(store: ObjectStore, model: registry.VersionRecord) -> dict[str, bool]:
    """`kind:check` -> passed, for every blocking check of a model version and of its dataset (what
    the gate's first rule reads)."""
    records = [registry.get(store, registry.MODEL, model.version)]
    if registry.DATASET in records[0].parents:
        records.append(registry.get(store, registry.DATASET, records[0].parents[registry.DATASET]))
    return {f"{r.kind}:{name}": c.passed for r in records for name, c in r.checks.items() if c.blocking}


def evaluate_against_base(
    items: Sequence[Item],
    candidate: registry.VersionRecord,
    base_version: int,
    out_dir: Path,
    *,
    store: ObjectStore,
    gate_settings: GateSettings = DEFAULT_GATE,
    **options,
) -> EvaluationOutcome:
    """A post-trained candidate (a DPO result) against the version it started from, and the gate's
    baseline, on the same items; the gate decides with the base in the serving model's place (the
    base is the serving model when one serves). `options` as for `run_evaluation`."""
    names = (f"finetuned:v{candidate.version}", f"finetuned:v{base_version}")
    return run_evaluation(
        items, [parse_model_spec(s) for s in (*names, gate_settings.baseline)], out_dir, store=store,
        candidate=names[0], production=names[1], gate=True, checks=blocking_checks(store, candidate),
        gate_settings=gate_settings, **options,
    )  # fmt: skip


def paired_comparisons(
    results: pl.DataFrame, candidate: str, other: str, settings: GateSettings = DEFAULT_GATE
) -> list[tuple[str, str, Comparison]]:
    """(benchmark, mode, candidate vs other) on each benchmark's main metric in each mode, paired
    over the items both were scored on, with the gate's bootstrap settings: what a post-trained
    candidate is against its base, whether or not the gate's rules got that far."""
    found = []
    pair = results.filter(pl.col("model").is_in([candidate, other]))
    for benchmark in sorted(set(pair["benchmark"].to_list())):
        for mode in MODES:
            paired = paired_outcomes(pair, benchmark, mode)
            if paired.is_empty() or not {candidate, other} <= set(paired.columns):
                continue
            mine, theirs = [float(v) for v in paired[candidate]], [float(v) for v in paired[other]]
            difference, low, high = paired_bootstrap_difference(
                mine, theirs, samples=settings.samples, confidence=settings.confidence, seed=settings.seed
            )
            found.append((benchmark, mode, Comparison(other, paired.height, sum(mine) / len(mine),
                                                      sum(theirs) / len(theirs), difference, low, high)))
    return found


def publish(store: ObjectStore, out_dir: Path, run: str, prefix: str = EVALUATIONS_PREFIX) -> str:
    """Uploads a run's folder to `<prefix>/<run>/` and points `latest.json` at it; returns the
    report's key."""
    store.upload_dir(out_dir, f"{prefix}/{run}")
    report_key = f"{prefix}/{run}/{REPORT_NAME}"
    store.write_text(f"{prefix}/latest.json", json.dumps({"run": run, "report": report_key}))
    return report_key


def latest_results(store: ObjectStore, prefix: str = EVALUATIONS_PREFIX) -> pl.DataFrame | None:
    """The per-item results of the newest published run, or None when none was published."""
    if not store.exists(f"{prefix}/latest.json"):
        return None
    run = json.loads(store.read_text(f"{prefix}/latest.json"))["run"]
    return pl.read_parquet(io.BytesIO(store.read_bytes(f"{prefix}/{run}/{RESULTS_NAME}")))
