"""Lineage in the UI: a model's materialization records the dataset version and the code versions
that made it (Dagster's data provenance), and editing a stage's code marks it stale, and what it
feeds once it is rebuilt with a new data version (Dagster's stale-status resolver, which the UI
reads, on the instance; Dagster 1.11 does not mark descendants stale before the edited asset reruns).

The dataset, its approval and the tokenizer are the real assets; the repairs and the model are
stand-ins declared like the real ones (same keys and inputs), so no training runs here."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from repair import registry
from repair_assets.dataset import approved_dataset, repair_dataset
from repair_assets.training import tokenizer
from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource
from tests.training.conftest import synthetic_rows

DATASET, MODEL = dg.AssetKey("approved_dataset"), dg.AssetKey("finetuned_model")


class NoBenchmarks(BenchmarkSourcesResource):
    """No benchmark sources to index: the leak check is tested in tests/training, not here."""

    def named_sources(self) -> dict[str, str]:
        return {}


def _graph(edited: str | None = None) -> list:
    rows = synthetic_rows(files=2)

    @dg.asset(name="verified_repairs", code_version="stand-in")
    def verified_repairs() -> pl.DataFrame:
        return pl.DataFrame(rows)

    @dg.asset(name="finetuned_model", group_name="training", code_version="model-1")
    def finetuned_model(
        object_store: ObjectStoreResource, approved_dataset: registry.VersionRecord, tokenizer: registry.VersionRecord
    ):
        store = object_store.get_store()
        version = registry.claim_version(store, registry.MODEL)
        record = registry.record_candidate(
            store, registry.MODEL, version, data_version=f"from-{approved_dataset.data_version}",
            checks={}, parents={registry.DATASET: approved_dataset.version},
        )  # fmt: skip
        return dg.Output(record, metadata={"dataset_version": approved_dataset.version})

    assets = [verified_repairs, repair_dataset, approved_dataset, tokenizer, finetuned_model]
    # What editing a stage does to its code version (declared, or its module's source hash).
    return [
        a.map_asset_specs(lambda spec: spec.replace_attributes(code_version="edited")) if a.key.path[0] == edited else a
        for a in assets
    ]


def _defs(root, assets) -> dg.Definitions:
    store = ObjectStoreResource(root=str(root))
    return dg.Definitions(
        assets=assets,
        resources={"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
                   "benchmark_sources": NoBenchmarks()},
    )


@pytest.mark.slow  # a real dataset build and approval: minutes on a loaded machine
def test_a_model_records_its_dataset_version_and_a_code_edit_makes_it_stale(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    assets = _graph()
    defs = _defs(tmp_path, assets)
    run_config = {"ops": {"tokenizer": {"config": {"vocab_size": 600}}}}
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=instance, run_config=run_config).success

    dataset_event = instance.get_latest_materialization_event(DATASET).asset_materialization
    model_event = instance.get_latest_materialization_event(MODEL).asset_materialization
    record = registry.get(ObjectStoreResource(root=str(tmp_path)).get_store(), registry.MODEL, 1)
    # Provenance: the model's materialization names the dataset version it read and its code version.
    assert model_event.tags["dagster/code_version"] == "model-1"
    assert model_event.tags["dagster/input_data_version/approved_dataset"] == dataset_event.tags["dagster/data_version"]
    assert "dagster/input_data_version/tokenizer" in model_event.tags
    assert model_event.metadata["dataset_version"].value == 1 == record.parents[registry.DATASET]
    # The dataset's data version is its content's: the registry record's.
    content = instance.get_latest_materialization_event(dg.AssetKey("repair_dataset")).asset_materialization
    dataset_record = registry.get(ObjectStoreResource(root=str(tmp_path)).get_store(), registry.DATASET, 1)
    assert content.tags["dagster/data_version"] == dataset_record.data_version
    assert content.tags["dagster/code_version"] == repair_dataset.code_versions_by_key[repair_dataset.key]

    everything = [dg.AssetKey(k) for k in ("repair_dataset", "approved_dataset", "tokenizer", "finetuned_model")]
    resolver = get_stale_status_resolver(instance, assets)  # what the UI's asset graph reads
    assert {k.path[0]: resolver.get_status(k) for k in everything} == dict.fromkeys(
        (k.path[0] for k in everything), StaleStatus.FRESH
    )

    # Editing the approval stage marks it stale ("has a new code version"); once it is rematerialized
    # with the edited code, its data version changes and what it feeds is stale, the cause named.
    edited = _graph(edited="approved_dataset")
    resolver = get_stale_status_resolver(instance, edited)
    assert resolver.get_status(DATASET) == StaleStatus.STALE
    assert [c.category.name for c in resolver.get_stale_causes(DATASET)] == ["CODE"]
    rerun = _defs(tmp_path, edited).resolve_implicit_global_asset_job_def()
    assert rerun.execute_in_process(instance=instance, asset_selection=[DATASET]).success
    resolver = get_stale_status_resolver(instance, edited)
    statuses = {k.path[0]: resolver.get_status(k) for k in everything}
    assert statuses == {"repair_dataset": StaleStatus.FRESH, "approved_dataset": StaleStatus.FRESH,
                        "tokenizer": StaleStatus.STALE, "finetuned_model": StaleStatus.STALE}  # fmt: skip
    causes = resolver.get_stale_root_causes(MODEL)
    assert [(c.asset_key.path[0], c.category.name) for c in causes] == [("approved_dataset", "DATA")], causes

    # The dataset's version is its content's: an edit of its code marks it stale, and what it feeds
    # becomes stale only if rebuilding it changes the content (same content: no retraining).
    resolver = get_stale_status_resolver(instance, _graph(edited="repair_dataset"))
    assert resolver.get_status(dg.AssetKey("repair_dataset")) == StaleStatus.STALE
