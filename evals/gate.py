"""The deployment gate: the candidate model must not be worse than the model in production on the
main metric beyond the confidence interval.

Both models are evaluated on the same items in the same run, so the comparison is paired: the
paired bootstrap interval of (candidate - production) on the gate's metric. The gate fails only when
the whole interval lies below zero (worse beyond the noise of the benchmark); it passes, and says
so, when nothing serves yet. Which version serves is read from the deployment stage's record
`deployments/code_repair/current.json` (`{"version": N, ...}`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import polars as pl

from evals.items import FUNCTION_BENCHMARK, REPAIR_BENCHMARK
from evals.metrics import paired_bootstrap_difference
from resources.object_store import ObjectStore

PRODUCTION_RECORD = "deployments/code_repair/current.json"
# The gate's metric: the production-style benchmark's, or the executable one's when it is empty.
GATE_METRICS: tuple[tuple[str, str], ...] = ((REPAIR_BENCHMARK, "ast_or_string"), (FUNCTION_BENCHMARK, "tests_pass"))


def production_version(store: ObjectStore, record: str = PRODUCTION_RECORD) -> int | None:
    """The registry version the deployment stage recorded as serving, or None when none serves.
    A record without a readable version is an error naming the record."""
    if not store.exists(record):
        return None
    try:
        data = json.loads(store.read_text(record))
        return int(data["version"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{store.uri(record)}: expected JSON with an integer `version` ({error})") from error


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    candidate: str
    production: str | None
    benchmark: str | None = None
    metric: str | None = None
    items: int = 0
    candidate_score: float | None = None
    production_score: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def as_metadata(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def describe(self) -> str:
        if self.production is None or self.difference is None:
            return f"**{'PASS' if self.passed else 'FAIL'}**: {self.reason}"
        return (
            f"**{'PASS' if self.passed else 'FAIL'}**: {self.reason}. `{self.candidate}` "
            f"{100 * (self.candidate_score or 0):.1f}% vs `{self.production}` {100 * (self.production_score or 0):.1f}% "
            f"on {self.benchmark} {self.metric} over {self.items} shared items; difference "
            f"{100 * self.difference:+.1f} points, 95% CI [{100 * (self.ci_low or 0):+.1f}, {100 * (self.ci_high or 0):+.1f}]."
        )


def deployment_gate(
    results: pl.DataFrame,
    candidate: str,
    production: str | None,
    *,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> GateDecision:
    """The decision from per-item results (`evals.harness.evaluate`) holding both models."""
    if production is None:
        return GateDecision(True, "no model in production yet: nothing to compare against", candidate, None)
    for benchmark, metric in GATE_METRICS:
        frame = results.filter(pl.col("benchmark") == benchmark)
        mine = frame.filter(pl.col("model") == candidate).select("item_id", pl.col(metric).alias("candidate"))
        theirs = frame.filter(pl.col("model") == production).select("item_id", pl.col(metric).alias("production"))
        paired = mine.join(theirs, on="item_id").drop_nulls()
        if paired.is_empty():
            continue
        scores = [float(v) for v in paired["candidate"]], [float(v) for v in paired["production"]]
        difference, low, high = paired_bootstrap_difference(*scores, samples=samples, confidence=confidence, seed=seed)
        passed = high >= 0
        reason = ("not worse than production beyond the confidence interval" if passed
                  else "worse than production beyond the confidence interval")
        return GateDecision(
            passed, reason, candidate, production, benchmark, metric, paired.height,
            sum(scores[0]) / paired.height, sum(scores[1]) / paired.height, difference, low, high,
        )
    return GateDecision(False, "no benchmark item was scored for both models", candidate, production)
