"""The schedule, the sensor and the instance settings, asserted with Dagster's own test contexts."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest
import yaml

from jobs.automation import (
    MAX_CATCHUP_DAYS,
    data_refresh,
    days_to_look_at,
    full_lifecycle,
    new_session_shards,
    nightly_training,
    shard_fingerprints,
)
from jobs.definitions import build_definitions
from resources.object_store import LocalObjectStore, ObjectStoreResource

ROOT = Path(__file__).resolve().parents[2]


def test_the_nightly_schedule_trains_and_never_ingests():
    assert nightly_training.cron_schedule == "0 2 * * *"
    assert nightly_training.execution_timezone == "UTC"
    graph = build_definitions("local").resolve_asset_graph()
    trained = nightly_training.job.selection.resolve(graph)
    refreshed = new_session_shards.job.selection.resolve(graph)
    assert dg.AssetKey("finetuned_model") in trained and dg.AssetKey("session_logs") in refreshed
    assert not trained & refreshed  # the schedule and the sensor never do the same work


NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


class CountingStore(LocalObjectStore):
    listed: ClassVar[list[str]] = []

    def list(self, prefix: str = "") -> list[str]:
        CountingStore.listed.append(prefix)
        return super().list(prefix)


@pytest.fixture
def sensor(tmp_path, monkeypatch):
    import jobs.automation

    CountingStore.listed = []
    monkeypatch.setattr(jobs.automation, "_utcnow", lambda: NOW)
    monkeypatch.setattr(ObjectStoreResource, "get_store", lambda self: CountingStore(tmp_path))

    def evaluate(cursor=None):
        resource = ObjectStoreResource(backend="local", root=str(tmp_path))
        return new_session_shards(
            dg.build_sensor_context(cursor=cursor, resources={"object_store": resource})
        )

    return evaluate


def test_sensor_requests_each_finished_day_once_and_again_when_it_changes(tmp_path, sensor):
    store = LocalObjectStore(tmp_path)
    store.write_text("sessions/date=2026-11-24/shard-000.jsonl.gz", "")
    store.write_text("sessions/date=2026-11-25/shard-000.jsonl", "")
    store.write_text("sessions/date=2026-11-25/REALISM.md", "not a shard")
    store.write_text("sessions/date=2026-11-26/shard-000.jsonl", "")  # today: not over yet
    first = sensor()
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-11-24", "2026-11-25"]

    second = sensor(cursor=first.cursor)
    assert not second.run_requests and "no new or changed shards" in second.skip_reason.skip_message

    store.write_text("sessions/date=2026-11-25/shard-001.jsonl", "")  # a late shard
    third = sensor(cursor=second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2026-11-25"]


def test_sensor_lists_a_few_days_not_the_whole_history(tmp_path, sensor):
    store = LocalObjectStore(tmp_path)
    for day in range(1, 26):
        store.write_text(f"sessions/date=2026-11-{day:02d}/shard-000.jsonl", "")
    first = sensor()
    assert "sessions/" not in CountingStore.listed
    assert CountingStore.listed == [f"sessions/date=2026-11-{d}/" for d in (23, 24, 25)]
    assert [r.partition_key for r in first.run_requests] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    # Older days are a backfill's business; a sensor that was off catches up from its cursor.
    CountingStore.listed = []
    cursor = json.dumps({"through": "2026-11-15", "fingerprints": {}})
    assert min(r.partition_key for r in sensor(cursor).run_requests) == "2026-11-14"
    assert len(CountingStore.listed) == 12


def test_days_to_look_at_stay_within_history_and_the_catch_up_bound():
    assert days_to_look_at(None, datetime(2026, 1, 2, tzinfo=UTC)) == ["2026-01-01"]
    assert len(days_to_look_at("2026-01-05", datetime(2026, 11, 26, tzinfo=UTC))) == MAX_CATCHUP_DAYS


def test_shard_fingerprints_change_with_the_shard_set():
    a = shard_fingerprints(["sessions/date=2026-11-25/a.jsonl"])
    b = shard_fingerprints(["sessions/date=2026-11-25/a.jsonl", "sessions/date=2026-11-25/b.jsonl"])
    assert a.keys() == b.keys() == {"2026-11-25"}
    assert a != b


def test_ingest_runs_queue_one_at_a_time_and_data_steps_retry_with_backoff():
    for name in ("dagster.yaml", "dagster.production.yaml"):
        limits = yaml.safe_load((ROOT / name).read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
        assert {"key": "repair/ingests", "value": "true", "limit": 1} in limits
    for job in (data_refresh, full_lifecycle):
        assert job.tags["repair/ingests"] == "true"
    assert data_refresh.op_retry_policy.max_retries >= 2
    assert data_refresh.op_retry_policy.backoff == dg.Backoff.EXPONENTIAL


def test_dataset_and_deployment_steps_run_in_pools_of_one():
    graph = build_definitions("local").resolve_asset_graph()
    pools = {key: graph.get(dg.AssetKey(key)).pools for key in ("repair_dataset", "triton_deployment")}
    assert pools == {"repair_dataset": {"dataset"}, "triton_deployment": {"deployment"}}


def test_production_definitions_build_from_sample_environment(monkeypatch):
    monkeypatch.setenv("REPAIR_GCS_BUCKET", "acme-repair-logs")
    monkeypatch.setenv("REPAIR_GCP_PROJECT", "acme")
    defs = build_definitions("production")
    assert defs.resources["object_store"].backend == "gcs"
    for job in ("full_lifecycle", "data_refresh", "train_evaluate_deploy"):
        assert defs.resolve_job_def(job) is not None
    # The simulator never writes into a production bucket.
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "simulated_sessions" not in keys
    assert "simulate_day" not in {job.name for job in defs.jobs}


def test_unknown_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("REPAIR_ENV", "staging")
    from jobs.environments import current_environment

    with pytest.raises(ValueError, match="REPAIR_ENV='staging'"):
        current_environment()


def test_instance_limits_training_runs_to_one_at_a_time():
    for name in ("dagster.yaml", "dagster.production.yaml"):
        config = yaml.safe_load((ROOT / name).read_text())
        limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
        assert {"key": "repair/trains", "value": "true", "limit": 1} in limits


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.production.yaml"])
def test_instance_files_validate_against_dagsters_schema(name):
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(ROOT), name)
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_code_location_holds_every_contract_asset_in_its_group():
    from jobs.definitions import CONTRACT_GROUPS

    graph = build_definitions("local").resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    for group, keys in CONTRACT_GROUPS.items():
        for key in keys:
            assert groups.get(key) == group, f"{key}: expected in group {group}, found {groups.get(key)}"


def test_asset_checks_sit_beside_assets_of_the_graph():
    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    checks = list(graph.asset_check_keys)
    assert len(checks) >= 13
    assert all(check.asset_key in graph.get_all_asset_keys() for check in checks)


def test_the_code_location_loads_every_job():
    """What the webserver does on load: a job named like an asset (or any other name clash) fails here."""
    import dagster as dg

    from jobs.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert {job.name for job in defs.get_repository_def().get_all_jobs()} >= {"full_lifecycle", "scaling_experiments"}
