"""The deployment gate's rules, each shown failing on its own: blocking checks, the no_change
baseline, the absolute floor, too few paired items, and inferiority to the serving model."""

from __future__ import annotations

import polars as pl

from evals.gate import GateSettings, deployment_gate
from evals.harness import RESULT_SCHEMA

SETTINGS = GateSettings(metric_floor=0.2, min_paired_items=30, margin=0.02)


def results(scores: dict[str, list[int]], benchmark: str = "repair", metric: str = "ast_or_string") -> pl.DataFrame:
    rows = []
    for model, values in scores.items():
        for index, value in enumerate(values):
            row = {"model": model, "benchmark": benchmark, "item_id": f"i{index}", "group": "g", "origin": "o",
                   "status": "fixed", "raw_output": "", "ast_exact": None, "ast_or_string": None,
                   "resolved": None, "tests_pass": None, "latency_s": 0.0}
            rows.append({**row, metric: bool(value)})
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


GOOD = [1, 0, 1, 1, 0, 1, 0, 1] * 5  # 62.5% on 40 items
NOTHING = [0] * 40


def test_a_good_candidate_with_nothing_serving_deploys():
    decision = deployment_gate(results({"new": GOOD, "no_change": NOTHING}), "new", None, settings=SETTINGS)
    assert decision.passed, decision.reason
    assert decision.vs_baseline.ci_low > 0 and decision.rules == {"checks": True, "beats_baseline": True, "floor": True}
    assert "DEPLOY" in decision.describe()


def test_a_failed_blocking_check_refuses_whatever_the_scores():
    decision = deployment_gate(results({"new": GOOD, "no_change": NOTHING}), "new", None,
                               checks={"dataset:no_leaks": False, "model:loss_decreased": True}, settings=SETTINGS)
    assert not decision.passed and decision.failed_checks == ["dataset:no_leaks"]
    assert "blocking checks failed: dataset:no_leaks" in decision.reason


def test_a_model_that_does_nothing_does_not_deploy_even_when_nothing_serves():
    # The demo's v1: 0% everywhere, like no_change. The old gate passed it because nothing served.
    decision = deployment_gate(results({"new": NOTHING, "no_change": NOTHING}), "new", None, settings=SETTINGS)
    assert not decision.passed and "does not beat `no_change`" in decision.reason
    missing_baseline = deployment_gate(results({"new": GOOD}), "new", None, settings=SETTINGS)
    assert not missing_baseline.passed and "was not evaluated" in missing_baseline.reason


def test_the_floor():
    low = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 4  # 10%: beats no_change, below a 20% floor
    decision = deployment_gate(results({"new": low, "no_change": NOTHING}), "new", None,
                               settings=GateSettings(metric_floor=0.2, min_paired_items=30))
    assert not decision.passed and "below the floor" in decision.reason and decision.rules["beats_baseline"]


def test_too_few_paired_items_is_insufficient_evidence():
    few = GOOD[:16]
    decision = deployment_gate(results({"new": few, "no_change": [0] * 16, "old": few}), "new", "old",
                               settings=GateSettings(metric_floor=0.2, min_paired_items=30))
    assert not decision.passed and decision.reason.startswith("insufficient evidence: 16 items")


def test_worse_than_serving_beyond_the_margin_is_refused_and_non_inferior_deploys():
    serving = [1, 1, 1, 0] * 10
    worse = [1, 0, 1, 0] * 10
    decision = deployment_gate(results({"new": worse, "no_change": NOTHING, "old": serving}), "new", "old",
                               settings=SETTINGS)
    assert not decision.passed and "worse than the serving `old`" in decision.reason
    assert decision.vs_production.ci_high < 0
    same = deployment_gate(results({"new": serving, "no_change": NOTHING, "old": serving}), "new", "old",
                           settings=SETTINGS)
    assert same.passed and same.vs_production.items == 40


def test_falls_back_to_the_executable_benchmark():
    frame = results({"new": GOOD, "no_change": NOTHING}, "function_repair", "tests_pass")
    decision = deployment_gate(frame, "new", None, settings=SETTINGS)
    assert decision.passed and decision.benchmark == "function_repair" and decision.metric == "tests_pass"


def test_a_production_benchmark_too_small_to_show_anything_leaves_the_gate_to_the_executable_one():
    """Six held-out repairs, two right: the bootstrap's lower bound against doing nothing is 0 (the
    decision would turn on one item); the executable benchmark's 40 items decide instead. With as
    many production items as `min_paired_items`, those decide, as before."""
    small = results({"new": [1, 1, 0, 0, 0, 0], "no_change": [0] * 6})
    executable = results({"new": GOOD, "no_change": NOTHING}, "function_repair", "tests_pass")
    decision = deployment_gate(pl.concat([small, executable]), "new", None, settings=SETTINGS)
    assert decision.passed and decision.benchmark == "function_repair", decision.reason
    alone = deployment_gate(small, "new", None, settings=SETTINGS)  # nothing else scored: the small one
    assert not alone.passed and alone.benchmark == "repair" and "does not beat `no_change`" in alone.reason
    large = results({"new": [1, 1, 0, 0, 0, 0] * 5, "no_change": [0] * 30})
    chosen = deployment_gate(pl.concat([large, executable]), "new", None, settings=SETTINGS)
    assert chosen.benchmark == "repair" and chosen.passed
