"""`repair simulate --store gs://...` writes a partition that ingest reads back from the bucket."""

import pytest
from click.testing import CliRunner

from repair.cli import main
from repair.ingest.logs import read_partition
from resources.object_store import open_store
from tests.ingest.conftest import gcs_bucket  # noqa: F401  (the emulator fixture, shared)


@pytest.mark.slow
def test_simulate_into_a_gcs_bucket(gcs_bucket):  # noqa: F811
    uri = f"gs://{gcs_bucket.name}/demo"
    args = ["simulate", "--day", "2026-11-20", "--sessions", "1", "--seed", "3", "--store", uri]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    store = open_store(uri)
    assert any(k.startswith("snapshots/") for k in store.list())
    assert store.exists("sessions/date=2026-11-20/REALISM.md")
    partition = read_partition(store, "2026-11-20")
    assert partition.quarantine.is_empty() and partition.events.height > 0
