"""The evaluation assets materialized with Dagster over a temporary object store: the benchmarks
from stand-in upstream assets, and (slow) the model evaluation with its gate on a tiny checkpoint."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from repair_assets import evaluation
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource
from resources.teacher_lm import TeacherLMResource


def _verified_row(diagnostic_id: str, repl: str) -> dict:
    return {"diagnostic_id": diagnostic_id, "repl": repl, "file": "main.py", "source": "ruff", "code": "F821",
            "severity": "error", "message": "Undefined name `y`", "start_line": 0, "start_character": 4,
            "end_line": 0, "end_character": 5, "content": "x = y\n", "fixed_content": "x = 1\n",
            "verdict": "accepted", "diff": "<diff>\n-1 x = y\n+1 x = 1\n</diff>", "teacher": "search"}


@dg.asset(name="verified_repairs")
def stand_in_verified_repairs() -> pl.DataFrame:
    return pl.DataFrame([_verified_row("d-test", "repl-test"), _verified_row("d-train", "repl-train")])


@dg.asset(name="repair_dataset")
def stand_in_repair_dataset() -> pl.DataFrame:
    return pl.DataFrame({"prompt": ["p", "p"], "response": ["r", "r"], "split": ["test", "train"],
                         "repl": ["repl-test", "repl-train"], "rule": ["ruff:F821"] * 2, "teacher": ["search"] * 2,
                         "diagnostic_id": ["d-test", "d-train"]})


@dg.asset(name="finetuned_model")
def stand_in_finetuned_model() -> dict:
    return {"version": 1}


def _resources(root) -> dict:
    store = ObjectStoreResource(root=str(root))
    return {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
            "teacher_lm": TeacherLMResource()}


def _benchmark_run_config() -> dict:
    return {"ops": {"function_repair_benchmark": {"config": {
        "stdlib": False, "only_programs": ["problem:two_sum"], "functions_per_program": 1,
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


@pytest.mark.slow
def test_model_evaluation_gates_the_tiny_model(tmp_path):
    from repair.serving.demo import tiny_checkpoint

    store = LocalObjectStore(tmp_path / "store")
    store.upload_dir(tiny_checkpoint(tmp_path / "tiny"), "models/code_repair/v1/model")
    store.write_text("models/code_repair/v1/registry.json", json.dumps({"version": 1}))
    assets = [stand_in_verified_repairs, stand_in_repair_dataset, stand_in_finetuned_model,
              evaluation.repair_benchmark, evaluation.function_repair_benchmark, evaluation.model_evaluation]
    run_config = _benchmark_run_config()
    run_config["ops"]["model_evaluation"] = {"config": {
        "models": ["no_change"], "max_items_per_benchmark": 2, "max_new_tokens": 16,
    }}
    for serving in (None, 1):
        if serving is not None:
            store.write_text("deployments/code_repair/current.json", json.dumps({"version": serving}))
        result = dg.materialize(assets, resources=_resources(store.root), run_config=run_config)
        assert result.success
        gate = next(e for e in result.get_asset_check_evaluations() if e.asset_check_key.name == "not_worse_than_production")
        assert gate.passed
        value = result.output_for_node("model_evaluation")
        assert value["candidate"] == "finetuned:v1"
        assert value["production"] == (None if serving is None else "finetuned:v1")
        if serving is None:
            assert "no model in production" in value["gate"]["reason"]
        assert store.exists(value["report"])
        assert {row["model"] for row in value["summary"]} == {"finetuned:v1", "no_change"}
