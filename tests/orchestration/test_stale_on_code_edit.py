"""What editing a stage's code shows in the UI on this Dagster version, checked on the instance's
stale-status resolver (what the asset graph reads): the edited asset is stale at once ("has a new
code version"); its direct children turn stale only once it is rebuilt with a new data version (and
stay fresh if the rebuild gives the same data version: a content-versioned asset), their children
once they are rebuilt, and so on down. Dagster 1.11 propagates staleness one materialization at a
time, never ahead of it; docs/architecture.md says so."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

STAGES = ("dataset", "model", "evaluation")


def _graph(dataset_code: str, dataset_content: str) -> list[dg.AssetsDefinition]:
    @dg.asset(code_version=dataset_code)
    def dataset() -> dg.Output:
        # A content-versioned asset: its data version is its content's, as `repair_dataset`'s is.
        return dg.Output(dataset_content, data_version=dg.DataVersion(dataset_content))

    @dg.asset(code_version="model-1")
    def model(dataset: str) -> str:
        return dataset + "+model"

    @dg.asset(code_version="evaluation-1")
    def evaluation(model: str) -> str:
        return model + "+evaluation"

    return [dataset, model, evaluation]


def _statuses(instance: dg.DagsterInstance, assets: list) -> dict[str, StaleStatus]:
    resolver = get_stale_status_resolver(instance, assets)
    return {name: resolver.get_status(dg.AssetKey(name)) for name in STAGES}


def _materialize(instance: dg.DagsterInstance, assets: list, selection: list[str]) -> None:
    assert dg.materialize(assets, instance=instance, selection=selection).success


def test_a_code_edit_marks_the_stage_stale_and_its_downstream_once_rebuilt_with_new_content():
    instance = dg.DagsterInstance.ephemeral()
    original = _graph("dataset-1", "rows-a")
    _materialize(instance, original, list(STAGES))
    assert _statuses(instance, original) == dict.fromkeys(STAGES, StaleStatus.FRESH)

    edited = _graph("dataset-2", "rows-b")
    resolver = get_stale_status_resolver(instance, edited)
    assert [c.reason for c in resolver.get_stale_causes(dg.AssetKey("dataset"))] == ["has a new code version"]
    # Dagster 1.11: the descendants of the edited stage are still FRESH before it reruns.
    assert _statuses(instance, edited) == {
        "dataset": StaleStatus.STALE, "model": StaleStatus.FRESH, "evaluation": StaleStatus.FRESH,
    }  # fmt: skip

    _materialize(instance, edited, ["dataset"])
    assert _statuses(instance, edited) == {
        "dataset": StaleStatus.FRESH, "model": StaleStatus.STALE, "evaluation": StaleStatus.FRESH,
    }  # fmt: skip
    root_causes = get_stale_status_resolver(instance, edited).get_stale_root_causes(dg.AssetKey("model"))
    assert [(c.asset_key.path[0], c.reason) for c in root_causes] == [("dataset", "has a new data version")]

    _materialize(instance, edited, ["model"])  # the model's rebuild passes the staleness one step on
    assert _statuses(instance, edited) == {
        "dataset": StaleStatus.FRESH, "model": StaleStatus.FRESH, "evaluation": StaleStatus.STALE,
    }  # fmt: skip


def test_a_code_edit_that_rebuilds_the_same_content_leaves_the_downstream_fresh():
    instance = dg.DagsterInstance.ephemeral()
    original = _graph("dataset-1", "rows-a")
    _materialize(instance, original, list(STAGES))

    edited = _graph("dataset-2", "rows-a")  # new code, same content: same data version
    _materialize(instance, edited, ["dataset"])
    assert _statuses(instance, edited) == dict.fromkeys(STAGES, StaleStatus.FRESH)
