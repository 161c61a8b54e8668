"""`repair_dataset`, `approved_dataset` and `tokenizer` materialized with Dagster on synthetic
verified repairs (their checks included, and a failing one that must publish nothing);
`finetuned_model` and `approved_model` end to end is the slow test."""

import json

import dagster as dg
import polars as pl
import pytest

from repair import registry
from repair.object_store import LocalObjectStore
from repair_assets.dataset import approved_dataset, repair_dataset
from repair_assets.training import approved_model, finetuned_model, tokenizer
from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource

from .test_leaks import planted_leak, train_repl


def _stub_verified_repairs(rows):
    @dg.asset(name="verified_repairs")
    def verified_repairs() -> pl.DataFrame:
        return pl.DataFrame(rows)

    return verified_repairs


def _resources(tmp_path):
    store = ObjectStoreResource(backend="local", root=str(tmp_path / "store"))
    return {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
            "benchmark_sources": BenchmarkSourcesResource()}


def test_dataset_and_tokenizer_materialize_with_passing_checks(repair_rows, tmp_path):
    rows = [*repair_rows, {**repair_rows[0], "diagnostic_id": "broken", "diff": "not a diff"}]
    assets = [_stub_verified_repairs(rows), repair_dataset, approved_dataset, tokenizer]
    run_config = {"ops": {"tokenizer": {"config": {"vocab_size": 600}}}}
    result = dg.materialize(assets, resources=_resources(tmp_path), run_config=run_config)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"no_leaks": True, "well_formed_examples": True}
    metadata = result.asset_materializations_for_node("repair_dataset")[0].metadata
    assert metadata["quarantined"].value == 1
    assert metadata["dataset_version"].value == 1
    assert "data:image/png;base64," in metadata["token_length_histogram"].value
    tokenizer_record = result.output_for_node("tokenizer")
    assert tokenizer_record.parents == {"dataset": 1} and tokenizer_record.details["vocab_size"] <= 600

    store = LocalObjectStore(tmp_path / "store")
    approved = registry.latest_approved(store, registry.DATASET)
    assert approved.version == 1 and {n: c.passed for n, c in approved.checks.items()} == checks
    assert store.exists("datasets/repair_dataset/v1/jsonl/train.jsonl")
    assert store.exists("datasets/repair_dataset/v1/mds/train/index.json")
    assert store.exists("datasets/repair_dataset/v1/tokenizer/tokenizer.json")
    quarantine = pl.read_parquet(store.uri("quarantine/repair_dataset/all.parquet").removeprefix("file://"))
    assert quarantine["diagnostic_id"].to_list() == ["broken"]

    # The same repairs and code again: the same version, no new copy.
    again = dg.materialize(assets, resources=_resources(tmp_path), run_config=run_config)
    assert again.success and again.output_for_node("approved_dataset").version == 1
    assert [r.version for r in registry.versions(store, registry.DATASET)] == [1]


@pytest.mark.slow  # two dataset builds; the leak finder itself is tested fast in test_leaks.py
def test_a_planted_leak_fails_the_check_and_publishes_nothing(repair_rows, tmp_path):
    """A benchmark function copied into a training file (commented, so the dedup misses it) fails
    `no_leaks`: the version stays a candidate, and neither approval nor the tokenizer (nor, so,
    training) ever reads it; v1 stays current."""
    resources = _resources(tmp_path)
    rows = repair_rows[:60]
    assert dg.materialize([_stub_verified_repairs(rows), repair_dataset, approved_dataset, tokenizer],
                          resources=resources).success  # fmt: skip
    leaky = [*rows, planted_leak(train_repl())]
    bad = dg.materialize([_stub_verified_repairs(leaky), repair_dataset, approved_dataset, tokenizer],
                         resources=resources, raise_on_error=False)  # fmt: skip
    check = next(c for c in bad.get_asset_check_evaluations() if c.check_name == "no_leaks")
    assert check.passed is False and check.metadata["first_leaks"].value[0]["item"] == "planted-leak"
    assert not bad.asset_materializations_for_node("approved_dataset")
    assert not bad.asset_materializations_for_node("tokenizer")
    store = LocalObjectStore(tmp_path / "store")
    candidate = registry.get(store, registry.DATASET, 2)
    assert candidate.status == registry.CANDIDATE and candidate.failed_blocking_checks == ["no_leaks"]
    assert registry.latest_approved(store, registry.DATASET).version == 1
    with pytest.raises(registry.RegistryError):
        registry.approve(store, candidate)


def metadata_well_formed(result) -> float:
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "generates_diffs")
    return check.metadata["well_formed"].value or 0.0


@pytest.mark.slow
def test_finetuned_model_trains_registers_and_checks(repair_rows, tmp_path):
    resources = _resources(tmp_path)
    upstream = [_stub_verified_repairs(repair_rows), repair_dataset, approved_dataset, tokenizer]
    dg.materialize(upstream, resources=resources)
    overrides = {
        "variables.scratch_model.hidden_size": 64,
        "variables.scratch_model.num_layers": 2,
        "variables.scratch_model.num_heads": 2,
        "variables.scratch_model.intermediate_size": 128,
        "scheduler.t_warmup": "5ba",
        "eval_interval": "30ba",
        "save_interval": "30ba",
        "callbacks.hf_checkpointer.save_interval": "30ba",
    }
    result = dg.materialize(
        [*upstream, finetuned_model, approved_model],
        resources=resources,
        run_config={
            "ops": {
                "finetuned_model": {
                    "config": {
                        "max_duration": "30ba",
                        "global_batch_size": 8,
                        "microbatch_size": 8,
                        "overrides_json": json.dumps(overrides),
                        "heldout_items": 8,
                        "run_root": str(tmp_path / "training"),
                    }
                }
            }
        },
        selection=[finetuned_model, approved_model],
        # 30 batches teach the diff format only sometimes: `generates_diffs` (blocking) may fail here,
        # which must not hide what this test checks, that training ran, registered and was checked.
        raise_on_error=False,
    )
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["loss_decreased"] is True
    assert checks["generates_diffs"] is (metadata_well_formed(result) >= 0.5)
    metadata = result.asset_materializations_for_node("finetuned_model")[0].metadata
    assert metadata["model_version"].value == 1 and metadata["tokens_per_s"].value > 0
    store = LocalObjectStore(tmp_path / "store")
    record = registry.get(store, registry.MODEL, 1)
    assert record.parents == {"dataset": 1} and record.details["metrics"]["heldout_items"] == 8
    # Approved exactly when both blocking checks passed: nothing else may publish it.
    assert (record.status == registry.APPROVED) == all(checks.values())
    assert bool(result.asset_materializations_for_node("approved_model")) == all(checks.values())
    assert store.exists("models/code_repair/v1/model/repair_prompt.json")
