"""`repair dataset` and the `repair_dataset` asset call the same library function
(`repair.dataset.make_dataset`): on the repairs the graph stored, the command finds the version the
asset published (same data version, no copy)."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest
from click.testing import CliRunner

from repair import registry
from repair.commands.dataset import command
from repair.object_store import LocalObjectStore
from repair_assets.dataset import repair_dataset
from resources.benchmarks import BenchmarkSourcesResource
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import ObjectStoreResource
from tests.training.conftest import synthetic_rows

DAY = "2026-11-20"


@pytest.mark.slow  # two dataset builds over every benchmark source: minutes on a loaded machine
def test_the_command_and_the_asset_make_the_same_version(tmp_path):
    rows = synthetic_rows()

    @dg.asset(name="verified_repairs", partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"))
    def verified_repairs() -> pl.DataFrame:
        return pl.DataFrame(rows)

    store = ObjectStoreResource(root=str(tmp_path))
    resources = {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
                 "benchmark_sources": BenchmarkSourcesResource()}  # fmt: skip
    assert dg.materialize([verified_repairs], resources=resources, partition_key=DAY).success
    assert dg.materialize([verified_repairs.to_source_asset(), repair_dataset], resources=resources,
                          selection=[repair_dataset]).success  # fmt: skip
    made = registry.versions(LocalObjectStore(tmp_path), registry.DATASET)
    assert [r.version for r in made] == [1]

    result = CliRunner().invoke(command, ["--store", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{"):])
    assert (record["version"], record["data_version"]) == (1, made[0].data_version)
    assert [r.version for r in registry.versions(LocalObjectStore(tmp_path), registry.DATASET)] == [1]


def test_the_command_says_what_to_materialize_first(tmp_path):
    result = CliRunner().invoke(command, ["--store", str(tmp_path)])
    assert result.exit_code != 0 and "materialize verified_repairs" in result.output
