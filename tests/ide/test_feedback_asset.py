"""`preference_pairs` in Dagster: feedback events in the session logs -> pairs, acceptance metadata
with the plot, blocking checks that fail on what they guard."""

from __future__ import annotations

import json
from collections import Counter

import dagster as dg
import polars as pl
import pytest

from evals.harness import MODES
from repair.preferences import PreferenceResult
from repair_assets.feedback import PAIR_SCHEMA, check_results, dpo_candidate, preference_pairs
from repair_assets.ingest import session_logs
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource
from tests.ide.test_preferences import OTHER, PROMPT, RIGHT, WRONG, ev

DAY = "2026-11-30"  # the day of test_preferences.T0


def test_pairs_acceptance_and_checks_from_the_days_logs(tmp_path):
    events = [
        ev("offered", WRONG), ev("rejected", WRONG, ts=1, user_diff=RIGHT),
        ev("offered", OTHER, "d2", ts=2), ev("accepted", OTHER, "d2", ts=3), ev("undone", OTHER, "d2", ts=4),
        ev("offered", RIGHT, "d3", ts=5), ev("accepted", RIGHT, "d3", ts=6),
        ev("offered", RIGHT, "d4", ts=7, prompt=None),
    ]  # fmt: skip
    LocalObjectStore(tmp_path).write_text(f"sessions/date={DAY}/lsp-1.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    store = ObjectStoreResource(backend="local", root=str(tmp_path))
    result = dg.materialize(
        [session_logs, preference_pairs],
        partition_key=DAY,
        resources={"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store)},
    )
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key.path == ["preference_pairs"]}
    assert evaluations == {"no_equal_sides": True, "prompts_in_model_format": True, "counts_reconcile": True}
    pairs = result.output_for_node("preference_pairs")
    assert pairs.select("chosen", "rejected", "chosen_from").rows() == [(RIGHT, WRONG, "user_fix")]
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.path == ["preference_pairs"]]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["acceptance_rate"] == 1 / 3  # of 3 decided offers, 1 kept (one refused, one undone)
    assert meta["events_quarantined"] == 1 and meta["offers"] == 3
    assert [r.data for r in meta["acceptance_per_rule"].records] == [
        {"rule": "ruff:F821", "acceptance_rate": 0.333, "decided_offers": 3}
    ]
    assert "data:image/png;base64," in meta["acceptance_over_time"]


def test_checks_fail_on_equal_sides_bad_prompts_and_lost_counts():
    pairs = pl.DataFrame(
        [{**dict.fromkeys(PAIR_SCHEMA, "x"), "prompt": PROMPT, "chosen": RIGHT, "rejected": RIGHT},
         {**dict.fromkeys(PAIR_SCHEMA, "x"), "prompt": "not a prompt", "chosen": RIGHT, "rejected": WRONG}],
        schema=PAIR_SCHEMA,
    )  # fmt: skip
    counts = Counter(feedback_events=5, events_used=3, events_quarantined=1, offers=2, offers_paired=2, pairs=2)
    results = {r.check_name: r.passed for r in check_results(PreferenceResult([], [], [], counts), pairs)}
    assert results == {"no_equal_sides": False, "prompts_in_model_format": False, "counts_reconcile": False}


def test_dpo_candidate_trains_on_the_pairs_and_registers_a_candidate(tmp_path, tiny_checkpoint):
    from repair import registry
    from repair.object_store import LocalObjectStore as Store

    store = Store(tmp_path)
    base = registry.register_model(
        store, tiny_checkpoint, data_version="base", dataset_version=None, config_yaml="", checks={}, details={}
    )
    registry.approve(store, base)
    events = [ev("offered", WRONG), ev("rejected", WRONG, ts=1, user_diff=RIGHT),
              ev("offered", OTHER, "d2", ts=2), ev("rejected", OTHER, "d2", ts=3, user_diff=RIGHT)]  # fmt: skip
    store.write_text(f"sessions/date={DAY}/lsp-1.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    result = dg.materialize(
        [session_logs, preference_pairs, dpo_candidate],
        partition_key=DAY,
        resources={"object_store": resource, "io_manager": ObjectStoreIOManager(object_store=resource)},
        run_config={"ops": {"dpo_candidate": {"config": {"min_pairs": 2, "max_steps": 2, "batch_size": 2}}}},
    )
    assert result.success
    (dpo,) = registry.versions(store, registry.MODEL, registry.CANDIDATE)
    assert dpo.version == 2 and dpo.details["base_version"] == 1 and dpo.details["metrics"]["dpo_pairs"] == 2


def test_dpo_candidate_skips_a_day_with_too_few_pairs(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.write_text(f"sessions/date={DAY}/lsp-1.jsonl", json.dumps(ev("offered", WRONG)) + "\n")
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    result = dg.materialize(
        [session_logs, preference_pairs, dpo_candidate],
        partition_key=DAY,
        resources={"object_store": resource, "io_manager": ObjectStoreIOManager(object_store=resource)},
    )
    assert result.success
    assert not [m for m in result.get_asset_materialization_events() if m.asset_key.path == ["dpo_candidate"]]
    (event,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert "fewer than min_pairs" in event.asset_observation_data.asset_observation.metadata["skipped"].value


def _repair_items() -> pl.DataFrame:
    """Three held-out items of the production-style benchmark: a misspelt name each."""
    from evals.items import REPAIR_BENCHMARK, Item, items_to_frame
    from repair.diagnostic import Diagnostic

    items = []
    for n, (wrong, right) in enumerate((("valeu", "value"), ("totl", "total"), ("nmae", "name"))):
        broken, fixed = f"{right} = 3\nprint({wrong})\n", f"{right} = 3\nprint({right})\n"
        diagnostic = Diagnostic("ruff", "F821", "error", f"Undefined name `{wrong}`", 1, 6, 1, 6 + len(wrong))
        items.append(Item(f"held-{n}", REPAIR_BENCHMARK, "ruff:F821", f"repl-{n}", "main.py", broken, diagnostic,
                          fixed, bug_origin="simulated", reference_source="ground_truth", reference_by=("simulator",)))
    return items_to_frame(items)


@pytest.mark.slow
def test_dpo_evaluation_gates_the_candidate_against_the_model_it_started_from(tmp_path, tiny_checkpoint):
    """feedback -> pairs -> DPO candidate -> the candidate, its base and no_change scored on the same
    items in both modes, and the deployment gate (evals.gate, the base in the serving model's place,
    the candidate's blocking checks) decides; a refused candidate is not approved."""
    from evals.gate import deployment_gate
    from evals.items import ITEM_SCHEMA
    from evals.run import GATE_MODE, blocking_checks
    from repair import registry
    from repair.object_store import LocalObjectStore as Store
    from repair_assets.feedback import dpo_evaluation

    @dg.asset(name="repair_benchmark")
    def stand_in_repair_benchmark() -> pl.DataFrame:
        return _repair_items()

    @dg.asset(name="function_repair_benchmark")
    def stand_in_function_benchmark() -> pl.DataFrame:
        return pl.DataFrame(schema=ITEM_SCHEMA)

    store = Store(tmp_path)
    base = registry.approve(store, registry.register_model(
        store, tiny_checkpoint, data_version="base", dataset_version=None, config_yaml="", checks={}, details={}))
    events = [ev("offered", WRONG), ev("rejected", WRONG, ts=1, user_diff=RIGHT),
              ev("offered", OTHER, "d2", ts=2), ev("rejected", OTHER, "d2", ts=3, user_diff=RIGHT)]  # fmt: skip
    store.write_text(f"sessions/date={DAY}/lsp-1.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    result = dg.materialize(
        [session_logs, preference_pairs, dpo_candidate, stand_in_repair_benchmark, stand_in_function_benchmark,
         dpo_evaluation],
        partition_key=DAY,
        resources={"object_store": resource, "io_manager": ObjectStoreIOManager(object_store=resource)},
        run_config={"ops": {"dpo_candidate": {"config": {"min_pairs": 2, "max_steps": 2, "batch_size": 2}},
                            "dpo_evaluation": {"config": {"max_new_tokens": 16, "k": 2}}}},
    )  # fmt: skip
    assert result.success
    value = result.output_for_node("dpo_evaluation")
    assert (value["candidate_version"], value["base_version"]) == (2, base.version)
    models = {"finetuned:v2", "finetuned:v1", "no_change"}
    assert {(r["model"], r["mode"]) for r in value["summary"]} == {(m, mode) for m in models for mode in MODES}
    assert all(r["n"] == 3 for r in value["summary"] if r["benchmark"] == "repair")

    # The decision is the gate's own on the published per-item results, against the base.
    from evals.run import latest_results

    results = latest_results(store, prefix="evaluations/dpo/v2")
    candidate = registry.get(store, registry.MODEL, 2)
    expected = deployment_gate(results.filter(pl.col("mode") == GATE_MODE), "finetuned:v2", "finetuned:v1",
                               checks=blocking_checks(store, candidate))  # fmt: skip
    assert expected.production == "finetuned:v1" and "model:loss_decreased" in blocking_checks(store, candidate)
    assert (value["passed"], value["reason"]) == (expected.passed, expected.reason)
    # Two untrained tiny models repair nothing: the gate refuses, and the candidate stays a candidate.
    assert value["passed"] is False and candidate.status == registry.CANDIDATE
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "dpo_may_deploy"]
    assert check.passed is False and check.description == expected.reason
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.path == ["dpo_evaluation"]]
    scores = event.materialization.metadata["scores"].value
    assert {(r.data["model"], r.data["mode"]) for r in scores.records} == {(m, mode) for m in models for mode in MODES}
    vs_base = [r.data for r in event.materialization.metadata["vs_base"].value.records]
    assert [(r["benchmark"], r["mode"], r["paired_items"]) for r in vs_base] == [("repair", m, 3) for m in MODES]
