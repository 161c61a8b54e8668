"""The `spark` executor of reproduction on a `local-cluster` master: executors read the stored
`error_states` partition and its blobs themselves, write the diagnostics they find back to the
store, and the filtered outcome equals the serial executor's."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from repair.ingest import blobs_key
from repair.ingest.frames import read_frame, write_frame
from repair.ingest.states import BLOBS_SCHEMA, blob_id
from repair.reproduce import ReproduceSettings, reproduce
from repair.reproduce_spark import StoredStates, tasks_by_file
from resources.object_store import LocalObjectStore
from tests.diagnostics.states import EXPECTED_COUNTS, HELPER, PARTITION
from tests.diagnostics.test_reproduce import _canonical


@pytest.mark.slow  # executor JVMs and a basedpyright per task: a minute and more on a loaded machine
def test_executors_lint_the_stored_partition_and_agree_with_serial(error_states, local_cluster, tmp_path):
    frame, contexts = error_states
    store = LocalObjectStore(tmp_path)
    states_key = f"assets/error_states/{PARTITION}.parquet"
    write_frame(store, states_key, frame)
    blobs = pl.DataFrame([(blob_id(HELPER), HELPER)], schema=BLOBS_SCHEMA, orient="row")
    write_frame(store, blobs_key(PARTITION), blobs)
    settings = ReproduceSettings(executor="spark", batch_size=2, one_state_per_mistake=False)
    stored = StoredStates(store.location(), states_key, PARTITION)
    # No context texts on the driver: the executors must read them from the store.
    no_texts = [{} for _ in contexts]
    on_spark = reproduce(frame, no_texts, settings, spark=local_cluster, stored=stored)
    serial = reproduce(frame, contexts, dataclasses.replace(settings, executor="serial"))
    assert _canonical(on_spark) == _canonical(serial)
    assert on_spark.counts == EXPECTED_COUNTS
    parts = store.list(stored.results_prefix)
    assert len(parts) >= 2  # tasks of about 2 states
    assert sum(read_frame(store, key).height for key in parts) == on_spark.states_linted


def test_tasks_keep_a_files_states_together():
    rows = [
        (0, "a", "r/x.py"),
        (1, "b", "r/y.py"),
        (2, "c", "r/x.py"),
        (3, "d", "r/z.py"),
        (4, "e", "r/x.py"),
    ]
    assert tasks_by_file(rows, 2) == [[(0, "a"), (2, "c"), (4, "e")], [(1, "b"), (3, "d")]]
    assert tasks_by_file(rows, 10) == [[(0, "a"), (2, "c"), (4, "e"), (1, "b"), (3, "d")]]
    assert tasks_by_file([], 2) == []


def test_the_spark_executor_refuses_to_run_without_the_stored_partition(error_states):
    frame, contexts = error_states
    with pytest.raises(ValueError, match="stored"):
        reproduce(frame, contexts, ReproduceSettings(executor="spark"), spark=object())
