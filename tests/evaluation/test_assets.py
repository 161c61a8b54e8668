"""The evaluation assets materialized with Dagster over a temporary object store: the benchmarks
from stand-in upstream assets, and (slow) the model evaluation of a candidate against the serving
model (the gate's decision on those results: tests/evaluation/test_gate.py, tests/registry)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from repair import registry
from repair.object_store import LocalObjectStore
from repair_assets import evaluation
from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource
from resources.teacher_lm import TeacherLMResource


def _verified_row(diagnostic_id: str, repl: str, teacher: str = "search", verdict: str = "accepted") -> dict:
    return {"diagnostic_id": diagnostic_id, "repl": repl, "file": "main.py", "source": "ruff", "code": "F821",
            "severity": "error", "message": "Undefined name `y`", "start_line": 0, "start_character": 4,
            "end_line": 0, "end_character": 5, "content": "x = y\n", "fixed_content": "x = 1\n",
            "verdict": verdict, "diff": "<diff>\n-1 x = y\n+1 x = 1\n</diff>", "teacher": teacher}


@dg.asset(name="verified_repairs")
def stand_in_verified_repairs() -> pl.DataFrame:
    # The user's own fix and search's agree: an independent reference (evals.repair_benchmark).
    return pl.DataFrame([_verified_row("d-test", "repl-test", "user_fix"),
                         _verified_row("d-test", "repl-test", verdict="duplicate"),
                         _verified_row("d-train", "repl-train")])


@dg.asset(name="repair_dataset")
def stand_in_repair_dataset() -> pl.DataFrame:
    return pl.DataFrame({"prompt": ["p", "p"], "response": ["r", "r"], "split": ["test", "train"],
                         "repl": ["repl-test", "repl-train"], "rule": ["ruff:F821"] * 2, "teacher": ["search"] * 2,
                         "diagnostic_id": ["d-test", "d-train"]})


def _register(store: LocalObjectStore, checkpoint) -> registry.VersionRecord:
    version = registry.claim_version(store, registry.MODEL)
    store.upload_dir(checkpoint, f"{registry.version_prefix(registry.MODEL, version)}/model")
    record = registry.record_candidate(store, registry.MODEL, version, data_version=f"m{version}", checks={})
    return registry.approve(store, record)


def _resources(root) -> dict:
    store = ObjectStoreResource(root=str(root))
    return {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
            "teacher_lm": TeacherLMResource(), "benchmark_sources": BenchmarkSourcesResource()}


def _benchmark_run_config() -> dict:
    return {"ops": {"function_repair_benchmark": {"config": {
        "stdlib": False, "handwritten": False, "only_programs": ["problem:two_sum"], "functions_per_program": 1,
        "kinds": ["missing colons", "undefined objects", "unclosed parentheses"],
    }}}}


def test_benchmarks_materialize_with_their_checks(tmp_path):
    result = dg.materialize(
        [stand_in_verified_repairs, stand_in_repair_dataset, evaluation.repair_benchmark,
         evaluation.function_repair_benchmark],
        resources=_resources(tmp_path), run_config=_benchmark_run_config(),
    )
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"held_out_from_training": True, "balanced_by_rule": True,
                      "references_pass_their_tests": True, "every_kind_present": True}
    store = LocalObjectStore(tmp_path)
    held_out = pl.read_parquet(store.root / "assets/repair_benchmark/all.parquet")
    assert held_out["item_id"].to_list() == ["d-test"]
    function_items = pl.read_parquet(store.root / "assets/function_repair_benchmark/all.parquet")
    assert set(function_items["group"]) == {"missing colons", "undefined objects", "unclosed parentheses"}
    assert store.exists("quarantine/function_repair_benchmark/all.parquet")


def test_held_out_from_training_fails_on_a_planted_leak(tmp_path):
    """The selection takes the test split; a dataset that (wrongly) also trains on that diagnostic,
    under another project, must fail the blocking check."""

    @dg.asset(name="repair_dataset")
    def leaky_repair_dataset() -> pl.DataFrame:
        return pl.DataFrame({"prompt": ["p"] * 3, "response": ["r"] * 3, "split": ["test", "train", "train"],
                             "repl": ["repl-test", "repl-train", "repl-other"], "rule": ["ruff:F821"] * 3,
                             "teacher": ["search"] * 3, "diagnostic_id": ["d-test", "d-train", "d-test"]})

    result = dg.materialize([stand_in_verified_repairs, leaky_repair_dataset, evaluation.repair_benchmark],
                            resources=_resources(tmp_path), raise_on_error=False)  # fmt: skip
    check = next(e for e in result.get_asset_check_evaluations() if e.asset_check_key.name == "held_out_from_training")
    assert check.passed is False and check.metadata["leaked_items"].value == ["d-test"]


@pytest.mark.slow
def test_model_evaluation_scores_the_candidate_against_the_serving_model(tmp_path):
    """v1 serves; v2 (another untrained checkpoint) is the candidate: both, and no_change, are scored
    on the same items, so the gate gets paired per-item results for each."""
    from repair.serving.demo import tiny_checkpoint

    store = LocalObjectStore(tmp_path / "store")
    registry.set_serving(store, _register(store, tiny_checkpoint(tmp_path / "tiny1", seed=1)).version)
    candidate = _register(store, tiny_checkpoint(tmp_path / "tiny2", seed=2))

    @dg.asset(name="approved_model")
    def stand_in_approved_model() -> registry.VersionRecord:
        return candidate

    assets = [stand_in_verified_repairs, stand_in_repair_dataset, stand_in_approved_model,
              evaluation.repair_benchmark, evaluation.function_repair_benchmark, evaluation.model_evaluation]
    run_config = _benchmark_run_config()
    run_config["ops"]["model_evaluation"] = {"config": {
        "models": ["no_change"], "max_items_per_benchmark": 2, "max_new_tokens": 16,
    }}
    result = dg.materialize(assets, resources=_resources(store.root), run_config=run_config)
    assert result.success
    value = result.output_for_node("model_evaluation")
    assert (value["candidate"], value["production"]) == ("finetuned:v2", "finetuned:v1")
    assert store.exists(value["report"])
    models = {"finetuned:v2", "finetuned:v1", "no_change"}
    assert {row["model"] for row in value["summary"]} == models
    by_model: dict[str, set[str]] = {}
    for row in value["results"]:
        by_model.setdefault(row["model"], set()).add(row["item_id"])
    assert set(by_model) == models and len({frozenset(items) for items in by_model.values()}) == 1

    # The operator's tables: every repairer in both modes, no_change at 0, by bug origin and by
    # reference source, each row with n and its interval.
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.path == ["model_evaluation"]]
    metadata = event.materialization.metadata
    scores = [r.data for r in metadata["scores"].value.records]
    assert {(r["model"], r["mode"]) for r in scores} == {(m, mode) for m in models for mode in ("pass@1", "verified@k")}
    assert all(r["value_%"] == 0.0 for r in scores if r["model"] == "no_change")
    for key, column in (("by_bug_origin", "bug_origin"), ("by_reference_source", "reference_source")):
        rows = [r.data for r in metadata[key].value.records]
        assert {(r["model"], r["mode"]) for r in rows} == {(m, mode) for m in models for mode in ("pass@1", "verified@k")}
        assert all(r["n"] > 0 and r["ci_low_%"] <= r["value_%"] <= r["ci_high_%"] for r in rows)
        assert {r[column] for r in rows} == ({"injected", "real"} if column == "bug_origin" else {"program", "agreement"})
