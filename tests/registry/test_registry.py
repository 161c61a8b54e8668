"""The one registry: versions are claimed atomically (locally and on GCS), born candidates, approved
only when their blocking checks passed; readers see approved, complete versions only; one record
says which version serves."""

from __future__ import annotations

import threading

import pytest

from repair import registry
from repair.object_store import GCSObjectStore, LocalObjectStore

PASSED = {"no_leaks": registry.CheckOutcome(True)}
FAILED = {"no_leaks": registry.CheckOutcome(False, detail="2 leaks"), "advice": registry.CheckOutcome(True, False)}


def _model(store, data_version: str, checks=PASSED) -> registry.VersionRecord:
    version = registry.claim_version(store, registry.MODEL)
    store.write_text(f"{registry.version_prefix(registry.MODEL, version)}/model/config.json", "{}")
    return registry.record_candidate(store, registry.MODEL, version, data_version=data_version, checks=checks)


def test_claims_are_exclusive_under_concurrent_writers(tmp_path):
    store = LocalObjectStore(tmp_path)
    claimed: list[int] = []
    threads = [threading.Thread(target=lambda: claimed.append(registry.claim_version(store, registry.DATASET)))
               for _ in range(8)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(1, 9))


def test_gcs_create_uses_a_generation_precondition(gcs_with_preconditions):
    store = GCSObjectStore(gcs_with_preconditions.client, gcs_with_preconditions.name, "reg")
    assert store.create_exclusive("claims/v1", b"a") is True
    assert store.create_exclusive("claims/v1", b"b") is False
    assert store.read_bytes("claims/v1") == b"a"
    assert [registry.claim_version(store, registry.MODEL) for _ in range(3)] == [1, 2, 3]


def test_readers_see_only_approved_complete_versions(tmp_path):
    store = LocalObjectStore(tmp_path)
    with pytest.raises(FileNotFoundError, match="no approved model"):
        registry.latest_approved(store, registry.MODEL)
    first = registry.approve(store, _model(store, "a"))
    candidate = _model(store, "b")
    # A newer version killed mid-upload: files but no record.
    store.write_text("models/code_repair/v9/model/config.json", "{}")
    assert [r.version for r in registry.versions(store, registry.MODEL)] == [1, 2]
    assert registry.latest_approved(store, registry.MODEL).version == first.version == 1
    assert (registry.fetch_model(store, tmp_path / "out") / "config.json").is_file()
    assert registry.approve(store, candidate).status == registry.APPROVED
    assert registry.latest_approved(store, registry.MODEL).version == 2


def test_a_failed_blocking_check_can_never_be_approved_or_serve(tmp_path):
    store = LocalObjectStore(tmp_path)
    good = registry.approve(store, _model(store, "a"))
    bad = _model(store, "b", FAILED)
    assert bad.failed_blocking_checks == ["no_leaks"]  # the non-blocking one does not count
    with pytest.raises(registry.RegistryError, match=r"failed blocking checks \['no_leaks'\]"):
        registry.approve(store, bad)
    assert registry.get(store, registry.MODEL, 2).status == registry.CANDIDATE
    assert registry.latest_approved(store, registry.MODEL).version == good.version
    with pytest.raises(registry.RegistryError, match="not approved"):
        registry.set_serving(store, 2)


def test_one_record_says_which_version_serves(tmp_path):
    store = LocalObjectStore(tmp_path)
    assert registry.serving_version(store) is None
    registry.approve(store, _model(store, "a"))
    registry.approve(store, _model(store, "b"))
    registry.set_serving(store, 1, reason="first")
    entry = registry.set_serving(store, 2, reason="better")
    assert registry.serving_version(store) == 2 and entry["previous_version"] == 1
    assert len(store.list(registry.SERVING_HISTORY + "/")) == 2


def test_same_content_is_found_again_not_copied(tmp_path):
    store = LocalObjectStore(tmp_path)
    record = _model(store, "same")
    assert registry.find_by_data_version(store, registry.MODEL, "same") == record
    assert registry.find_by_data_version(store, registry.MODEL, "other") is None
    assert registry.VersionRecord.from_dict(record.to_dict()) == record


def test_repair_serve_never_takes_a_candidate_or_a_half_written_version(tmp_path):
    from click.testing import CliRunner

    from repair.cli import main

    store = LocalObjectStore(tmp_path)
    _model(store, "candidate-only")  # v1: checks recorded, never approved
    store.write_text("models/code_repair/v2/model/config.json", "{}")  # v2: killed mid-upload
    result = CliRunner().invoke(main, ["serve", "--store", str(tmp_path)])
    assert result.exit_code != 0 and "no approved model version" in result.output
