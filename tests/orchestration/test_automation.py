"""The schedule, the sensor and the instance settings, asserted with Dagster's own test contexts."""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jobs.automation import new_session_shards, nightly_lifecycle, shard_fingerprints
from jobs.definitions import build_definitions
from resources.object_store import LocalObjectStore, ObjectStoreResource

ROOT = Path(__file__).resolve().parents[2]


def test_nightly_schedule_runs_at_two_utc_for_the_previous_day():
    assert nightly_lifecycle.cron_schedule == "0 2 * * *"
    assert nightly_lifecycle.execution_timezone in (None, "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
    )
    requests = list(nightly_lifecycle.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2026-11-25"]


def _sensor(tmp_path, cursor=None):
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    context = dg.build_sensor_context(cursor=cursor, resources={"object_store": resource})
    return new_session_shards(context)


def test_sensor_requests_a_refresh_per_new_day_and_only_once(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.write_text("sessions/date=2026-11-24/shard-000.jsonl.gz", "")
    store.write_text("sessions/date=2026-11-25/shard-000.jsonl", "")
    store.write_text("sessions/date=2026-11-25/REALISM.md", "not a shard")
    first = _sensor(tmp_path)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-11-24", "2026-11-25"]

    second = _sensor(tmp_path, cursor=first.cursor)
    assert isinstance(second, dg.SkipReason)

    store.write_text("sessions/date=2026-11-25/shard-001.jsonl", "")
    third = _sensor(tmp_path, cursor=first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2026-11-25"]


def test_sensor_ignores_days_outside_the_partition_range(tmp_path):
    LocalObjectStore(tmp_path).write_text("sessions/date=1999-01-01/a.jsonl", "")
    result = _sensor(tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "1999-01-01" in str(result.skip_message)


def test_shard_fingerprints_change_with_the_shard_set():
    a = shard_fingerprints(["sessions/date=2026-11-25/a.jsonl"])
    b = shard_fingerprints(["sessions/date=2026-11-25/a.jsonl", "sessions/date=2026-11-25/b.jsonl"])
    assert a.keys() == b.keys() == {"2026-11-25"}
    assert a != b


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
