"""The done-when test of the gate and the publication path: the deployment graph (candidate model ->
approval -> evaluation -> gate -> Triton) materialized again and again. A good candidate deploys;
a worse one, one that fails a blocking check and one evaluated on too few items are each refused
with the reason in the metadata, and the serving version stays.

The model's training and the benchmark scoring are stand-ins (their real assets are tested in
tests/training and tests/evaluation); the registry, approval, gate and deployment are the real
assets. Only the good candidate starts Triton: a refused one never reaches it."""

from __future__ import annotations

import dagster as dg
import pytest

from repair import registry
from repair.deployment import DeploymentRecord
from repair.object_store import LocalObjectStore
from repair_assets.deployment import deployment_gate, triton_deployment
from repair_assets.training import approved_model
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource
from resources.triton import TritonResource

ITEMS = 40
GOOD = [1, 0, 1, 1] * 10  # 75%
WORSE = [1, 0, 0, 0] * 10  # 25%: beats no_change, far below the serving model


def _results(scores: dict[str, list[int]]) -> list[dict]:
    return [{"item_id": f"i{index}", "benchmark": "repair", "model": model, "ast_or_string": bool(value),
             "tests_pass": None} for model, values in scores.items() for index, value in enumerate(values)]  # fmt: skip


def _graph(scenario: dict, checkpoint):
    @dg.asset(name="finetuned_model", group_name="training", check_specs=[
        dg.AssetCheckSpec("loss_decreased", asset="finetuned_model", blocking=True)])  # fmt: skip
    def stand_in_model(object_store: ObjectStoreResource):
        store = object_store.get_store()
        version = registry.claim_version(store, registry.MODEL)
        store.upload_dir(checkpoint, f"{registry.version_prefix(registry.MODEL, version)}/model")
        passed = scenario.get("loss_decreased", True)
        record = registry.record_candidate(store, registry.MODEL, version, data_version=f"m{version}",
                                           checks={"loss_decreased": registry.CheckOutcome(passed)})  # fmt: skip
        yield dg.Output(record)
        yield dg.AssetCheckResult(check_name="loss_decreased", passed=passed,
                                  metadata={"reason": "planted: the loss rose" if not passed else "ok"})  # fmt: skip

    @dg.asset(name="model_evaluation", group_name="evaluation")
    def stand_in_evaluation(object_store: ObjectStoreResource, approved_model: registry.VersionRecord) -> dict:
        serving = registry.serving_version(object_store.get_store())
        scores = {f"finetuned:v{approved_model.version}": scenario["candidate"], "no_change": [0] * ITEMS}
        if serving is not None:
            scores[f"finetuned:v{serving}"] = GOOD[: scenario.get("paired", ITEMS)]
        return {"results": _results(scores)}

    return [stand_in_model, approved_model, stand_in_evaluation, deployment_gate, triton_deployment]


def _run(store_root, scenario, checkpoint):
    object_store = ObjectStoreResource(root=str(store_root))
    resources = {"object_store": object_store, "io_manager": ObjectStoreIOManager(object_store=object_store),
                 "triton": TritonResource()}  # fmt: skip
    return dg.materialize(_graph(scenario, checkpoint), resources=resources, raise_on_error=False)


def _metadata(result, node: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


def _refusals(store, checkpoint):
    """Each bad candidate after v1 serves: refused, with the reason where an operator looks."""
    worse = _run(store.root, {"candidate": WORSE}, checkpoint)
    gate = _metadata(worse, "deployment_gate")
    assert gate["passed"] is False and "worse than the serving `finetuned:v1`" in gate["reason"]
    assert "REFUSED" in gate["decision"]
    deployment = _metadata(worse, "triton_deployment")
    assert deployment["promoted"] is False and deployment["served_version"] == 1
    assert "refused by the deployment gate" in deployment["reason"]
    assert registry.serving_version(store) == 1
    # The asset's value is the typed deployment record, as the IO manager hands it downstream.
    io_manager = ObjectStoreIOManager(object_store=ObjectStoreResource(root=str(store.root)))
    value = io_manager._load_one(dg.AssetKey("triton_deployment"), None)
    assert isinstance(value, DeploymentRecord)
    assert (value.candidate_version, value.served_version, value.promoted) == (2, 1, False)

    failed = _run(store.root, {"candidate": GOOD, "loss_decreased": False}, checkpoint)
    check = next(c for c in failed.get_asset_check_evaluations() if c.check_name == "loss_decreased")
    assert check.passed is False and check.metadata["reason"].value == "planted: the loss rose"
    for downstream in ("approved_model", "model_evaluation", "deployment_gate", "triton_deployment"):
        assert not failed.asset_materializations_for_node(downstream), downstream
    assert registry.get(store, registry.MODEL, 3).status == registry.CANDIDATE
    assert registry.serving_version(store) == 1

    few = _run(store.root, {"candidate": GOOD[:12], "paired": 12}, checkpoint)
    gate = _metadata(few, "deployment_gate")
    assert gate["passed"] is False and gate["reason"].startswith("insufficient evidence: 12 items")
    assert _metadata(few, "triton_deployment")["promoted"] is False
    assert registry.serving_version(store) == 1


def test_refused_candidates_leave_the_serving_version(tmp_path, tiny_checkpoint):
    store = LocalObjectStore(tmp_path / "store")
    # v1 serves (deployed by hand here: the slow test below deploys it through Triton).
    first = registry.claim_version(store, registry.MODEL)
    store.upload_dir(tiny_checkpoint, f"{registry.version_prefix(registry.MODEL, first)}/model")
    registry.approve(store, registry.record_candidate(store, registry.MODEL, first, data_version="m1", checks={}))
    registry.set_serving(store, first, reason="test")
    _refusals(store, tiny_checkpoint)

    # `repair deploy` calls the same library functions: the worse v2 is refused there too.
    import json

    import polars as pl
    from click.testing import CliRunner

    from repair.commands.deploy import command

    results = tmp_path / "results.parquet"
    pl.DataFrame(_results({"finetuned:v2": WORSE, "no_change": [0] * ITEMS, "finetuned:v1": GOOD})).write_parquet(results)
    cli = CliRunner().invoke(command, ["--store", str(store.root), "--version", "2", "--results", str(results)])
    assert cli.exit_code == 1, cli.output
    record = json.loads(cli.stdout[cli.stdout.index("{"):])
    assert record["promoted"] is False and record["served_version"] == 1
    assert "worse than the serving `finetuned:v1`" in record["reason"]
    assert registry.serving_version(store) == 1


@pytest.mark.slow
def test_the_graph_deploys_a_good_candidate_and_refuses_bad_ones(tmp_path, tiny_checkpoint):
    store = LocalObjectStore(tmp_path / "store")
    good = _run(store.root, {"candidate": GOOD}, tiny_checkpoint)
    assert good.success
    assert _metadata(good, "deployment_gate")["passed"] is True
    deployment = _metadata(good, "triton_deployment")
    assert deployment["promoted"] is True and deployment["served_version"] == 1
    assert registry.serving_version(store) == 1
    _refusals(store, tiny_checkpoint)
