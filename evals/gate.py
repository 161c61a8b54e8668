"""The deployment gate: whether a candidate model may replace the one that serves.

A candidate deploys only when every rule holds, checked in this order (the first that fails is the
reason given):

1. `checks`: every blocking check of its dataset and model passed (from their registry records).
2. `beats_baseline`: on the gate metric it beats the `no_change` baseline on the same items: the
   lower bound of the paired bootstrap interval of (candidate - baseline) is above 0. A model that
   does nothing useful cannot pass.
3. `floor`: its score on the gate metric is at least `metric_floor` (absolute).
4. `evidence` and `non_inferior` (only when a model serves): at least `min_paired_items` items were
   scored for both models (else "insufficient evidence"), and the lower bound of (candidate -
   serving) is at or above `-margin`.

Both models (and the baseline) are evaluated on the same items in the same run, so every comparison
is paired. The gate metric is the production-style benchmark's (`ast_or_string`, pass@1) when it
scored at least `min_paired_items` items for the candidate, else the executable benchmark's
(`tests_pass`, pass@1) when that one did; with neither that large, the first that scored any item.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl

from evals.items import FUNCTION_BENCHMARK, REPAIR_BENCHMARK
from evals.metrics import paired_bootstrap_difference
from repair import registry
from repair.object_store import ObjectStore

GATE_METRICS: tuple[tuple[str, str], ...] = ((REPAIR_BENCHMARK, "ast_or_string"), (FUNCTION_BENCHMARK, "tests_pass"))
BASELINE = "no_change"


@dataclass(frozen=True)
class GateSettings:
    metric_floor: float = 0.05
    min_paired_items: int = 30
    margin: float = 0.02
    confidence: float = 0.95
    samples: int = 2000
    baseline: str = BASELINE
    seed: int = 0


@dataclass(frozen=True)
class Comparison:
    """Candidate against one other repairer on the items both were scored on."""

    other: str
    items: int
    candidate_score: float
    other_score: float
    difference: float
    ci_low: float
    ci_high: float

    def describe(self) -> str:
        return (
            f"{100 * self.candidate_score:.1f}% vs `{self.other}` {100 * self.other_score:.1f}% on {self.items} paired "
            f"items, difference {100 * self.difference:+.1f} points, CI [{100 * self.ci_low:+.1f}, {100 * self.ci_high:+.1f}]"
        )


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    candidate: str
    production: str | None
    benchmark: str | None = None
    metric: str | None = None
    candidate_score: float | None = None
    vs_baseline: Comparison | None = None
    vs_production: Comparison | None = None
    rules: dict[str, bool] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    settings: GateSettings = field(default_factory=GateSettings)

    def as_metadata(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def describe(self) -> str:
        lines = [f"**{'DEPLOY' if self.passed else 'REFUSED'}**: {self.reason}."]
        if self.metric:
            lines.append(f"Gate metric: {self.benchmark} `{self.metric}` (pass@1), candidate `{self.candidate}`.")
        if self.vs_baseline:
            lines.append(f"- vs baseline: {self.vs_baseline.describe()}")
        if self.vs_production:
            lines.append(f"- vs serving: {self.vs_production.describe()}")
        s = self.settings
        lines.append(f"- settings: floor {s.metric_floor}, margin {s.margin}, min paired items {s.min_paired_items}, "
                     f"confidence {s.confidence}")
        lines.append("- rules: " + ", ".join(f"{rule} {'ok' if ok else 'FAILED'}" for rule, ok in self.rules.items()))
        return "\n".join(lines)


def production_version(store: ObjectStore) -> int | None:
    """The registry version that serves (the registry's serving record), or None when none serves."""
    return registry.serving_version(store)


def _compare(frame: pl.DataFrame, metric: str, candidate: str, other: str, settings: GateSettings) -> Comparison | None:
    mine = frame.filter(pl.col("model") == candidate).select("item_id", pl.col(metric).alias("candidate"))
    theirs = frame.filter(pl.col("model") == other).select("item_id", pl.col(metric).alias("other"))
    paired = mine.join(theirs, on="item_id").drop_nulls()
    if paired.is_empty():
        return None
    scores = [float(v) for v in paired["candidate"]], [float(v) for v in paired["other"]]
    difference, low, high = paired_bootstrap_difference(
        *scores, samples=settings.samples, confidence=settings.confidence, seed=settings.seed
    )
    return Comparison(other, paired.height, sum(scores[0]) / paired.height, sum(scores[1]) / paired.height,
                      difference, low, high)  # fmt: skip


def deployment_gate(
    results: pl.DataFrame,
    candidate: str,
    production: str | None,
    *,
    checks: dict[str, bool] | None = None,
    settings: GateSettings = GateSettings(),
) -> GateDecision:
    """The decision from per-item results (`evals.harness.evaluate`: item_id, benchmark, model and
    the metric columns) holding the candidate, the baseline and (if one serves) the serving model.
    `checks` maps each blocking check of the candidate's dataset and model to whether it passed."""
    failed = sorted(name for name, passed in (checks or {}).items() if not passed)
    rules: dict[str, bool] = {"checks": not failed}
    common = {"candidate": candidate, "production": production, "settings": settings, "failed_checks": failed}
    if failed:
        return GateDecision(False, f"blocking checks failed: {', '.join(failed)}", rules=rules, **common)
    scored = [
        (b, m, results.filter((pl.col("benchmark") == b) & (pl.col("model") == candidate)).drop_nulls(m).height)
        for b, m in GATE_METRICS
    ]
    # The first benchmark with the evidence to decide; when none has `min_paired_items`, the first
    # with any item. Six held-out repairs cannot show a model beats doing nothing unless it gets
    # three (the bootstrap's lower bound), so one item would decide.
    chosen = next(((b, m) for b, m, n in scored if n >= settings.min_paired_items), None) or next(
        ((b, m) for b, m, n in scored if n), None
    )
    if chosen is None:
        return GateDecision(False, "no benchmark item was scored for the candidate", rules=rules, **common)
    benchmark, metric = chosen
    frame = results.filter(pl.col("benchmark") == benchmark)
    mine = frame.filter(pl.col("model") == candidate).drop_nulls(metric)[metric]
    score = float(mine.cast(pl.Float64).mean())
    common |= {"benchmark": benchmark, "metric": metric, "candidate_score": score}

    baseline = _compare(frame, metric, candidate, settings.baseline, settings)
    rules["beats_baseline"] = baseline is not None and baseline.ci_low > 0
    if not rules["beats_baseline"]:
        why = (f"baseline `{settings.baseline}` was not evaluated on the same items" if baseline is None else
               f"does not beat `{settings.baseline}`: lower bound {100 * baseline.ci_low:+.1f} points is not above 0")
        return GateDecision(False, why, vs_baseline=baseline, rules=rules, **common)
    rules["floor"] = score >= settings.metric_floor
    if not rules["floor"]:
        return GateDecision(False, f"{metric} {100 * score:.1f}% is below the floor {100 * settings.metric_floor:.1f}%",
                            vs_baseline=baseline, rules=rules, **common)  # fmt: skip
    if production is None:
        return GateDecision(True, "beats the baseline and meets the floor; no model serves yet",
                            vs_baseline=baseline, rules=rules, **common)  # fmt: skip
    against = _compare(frame, metric, candidate, production, settings)
    paired = 0 if against is None else against.items
    rules["evidence"] = paired >= settings.min_paired_items
    if not rules["evidence"]:
        return GateDecision(False, f"insufficient evidence: {paired} items paired with `{production}`, "
                            f"{settings.min_paired_items} needed", vs_baseline=baseline, vs_production=against,
                            rules=rules, **common)  # fmt: skip
    assert against is not None
    rules["non_inferior"] = against.ci_low >= -settings.margin
    if not rules["non_inferior"]:
        return GateDecision(False, f"worse than the serving `{production}`: lower bound {100 * against.ci_low:+.1f} "
                            f"points is below the margin -{100 * settings.margin:.1f}", vs_baseline=baseline,
                            vs_production=against, rules=rules, **common)  # fmt: skip
    return GateDecision(True, f"beats the baseline, meets the floor and is non-inferior to `{production}`",
                        vs_baseline=baseline, vs_production=against, rules=rules, **common)  # fmt: skip
