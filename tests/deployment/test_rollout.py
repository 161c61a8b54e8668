"""Rollouts against a REAL Triton server: a version swap under continuous requests with none
failing, a failed gate or a broken candidate leaving the previous version serving, and the
`triton_deployment` asset end to end."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from benchmarks.rollout_registry import approved_models
from repair import registry
from repair.serving import rollout
from repair.serving.client import RepairClient
from repair.serving.repository import DeployRepository
from repair.serving.rollout import ModelControl, RolloutError, roll_out
from repair.serving.server import EmbeddedTritonServer
from repair.serving.traffic import Traffic
from resources.object_store import LocalObjectStore

from ..conftest import LEARNED_CASE

pytestmark = pytest.mark.slow


def traffic(url: str, clients: int = 3) -> Traffic:
    """Clients sending the learned case back to back until stopped; records every outcome."""
    return Traffic([url], clients_per_url=clients, case=LEARNED_CASE)


def test_swap_under_continuous_requests_drops_nothing(tmp_path, tiny_checkpoint, learned_checkpoint):
    store = LocalObjectStore(tmp_path / "store")
    repository = DeployRepository(store)
    pointer = approved_models(store, [1, 2, 3])
    with EmbeddedTritonServer(repository.local_path(), log_path=tmp_path / "server.log") as server:
        control = ModelControl(server.grpc_url)
        try:
            assert roll_out(
                control, repository, 1, learned_checkpoint, gate_passed=True, pointer=pointer
            ).promoted
            with traffic(server.grpc_url) as load:
                time.sleep(1)
                result = roll_out(
                    control, repository, 2, learned_checkpoint, gate_passed=True, pointer=pointer
                )
                deadline = time.monotonic() + 60
                while "2" not in load.versions[-3:] and time.monotonic() < deadline:
                    time.sleep(0.5)
            assert result.promoted and result.previous_version == 1 and result.served_version == 2
            assert load.errors == [], load.errors[:3]
            assert "1" in load.versions and load.versions[-1] == "2"
            # Requests reached version 2 only after the swap: no interleaving back to 1.
            first_two = load.versions.index("2")
            assert set(load.versions[first_two + 3 :]) == {"2"}

            # The gate fails for version 3: it is smoke-tested but version 2 keeps serving.
            with traffic(server.grpc_url, clients=1) as load:
                kept = roll_out(control, repository, 3, tiny_checkpoint, gate_passed=False, pointer=pointer)
            assert not kept.promoted and kept.served_version == 2 and "gate" in kept.reason
            assert kept.candidate_smoke.ok
            assert load.errors == [] and set(load.versions) == {"2"}
            assert repository.served_versions() == [2]
            assert not control.is_ready(repository.staging_name)
        finally:
            control.close()


def test_broken_candidate_is_refused_and_previous_keeps_serving(tmp_path, learned_checkpoint):
    store = LocalObjectStore(tmp_path / "store")
    repository = DeployRepository(store)
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in Path(learned_checkpoint).iterdir():
        if item.name != "model.safetensors":
            (broken / item.name).write_bytes(item.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    pointer = approved_models(store, [1, 2])
    with EmbeddedTritonServer(repository.local_path(), log_path=tmp_path / "server.log") as server:
        control = ModelControl(server.grpc_url)
        try:
            assert roll_out(
                control, repository, 1, learned_checkpoint, gate_passed=True, pointer=pointer
            ).promoted
            with pytest.raises(RolloutError, match="could not load 'code_repair_staging'"):
                roll_out(control, repository, 2, broken, gate_passed=True, pointer=pointer)
            assert repository.served_versions() == [1]
            with RepairClient(server.grpc_url) as client:
                assert client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic).model_version == "1"
        finally:
            control.close()


def test_triton_deployment_asset(tmp_path, learned_checkpoint, tiny_checkpoint):
    from repair_assets.deployment import triton_deployment
    from resources.io_manager import ObjectStoreIOManager
    from resources.object_store import ObjectStoreResource
    from resources.triton import TritonResource

    store = LocalObjectStore(tmp_path / "store")
    for version, checkpoint in ((1, learned_checkpoint), (2, tiny_checkpoint)):
        assert registry.claim_version(store, registry.MODEL) == version
        store.upload_dir(checkpoint, f"models/code_repair/v{version}/model")
        registry.approve(store, registry.record_candidate(store, registry.MODEL, version, data_version=str(version),
                                                          checks={}))  # fmt: skip
    gate = {"passed": True}

    @dg.asset(group_name="training")
    def approved_model() -> registry.VersionRecord:
        return registry.get(store, registry.MODEL, gate["version"])

    @dg.asset(group_name="deployment")
    def deployment_gate() -> dict:
        return {"passed": gate["passed"], "reason": "test"}

    object_store = ObjectStoreResource(backend="local", root=str(store.root))
    resources = {
        "object_store": object_store,
        "io_manager": ObjectStoreIOManager(object_store=object_store),
        "triton": TritonResource(),
    }
    assets = [approved_model, deployment_gate, triton_deployment]

    gate["version"] = 1
    first = dg.materialize(assets, resources=resources)
    assert first.success
    metadata = first.asset_materializations_for_node("triton_deployment")[0].metadata
    assert metadata["promoted"].value is True and metadata["served_version"].value == 1
    assert metadata["nv_inference_metrics"].value["served"]["nv_inference_request_success"] >= 1
    assert registry.serving_version(store) == 1
    checks = {c.check_name: c.passed for c in first.get_asset_check_evaluations()}
    assert checks == {"candidate_smoke_test": True, "served_version_consistent": True}

    gate.update(version=2, passed=False)
    second = dg.materialize(assets, resources=resources)
    assert second.success
    metadata = second.asset_materializations_for_node("triton_deployment")[0].metadata
    assert metadata["promoted"].value is False and metadata["served_version"].value == 1
    assert registry.serving_version(store) == 1
    assert len(store.list(registry.SERVING_HISTORY + "/")) == 1


class SpyControl(ModelControl):
    """Records, at each load of the served model, what the store said then."""

    def __init__(self, url: str, repository: DeployRepository):
        super().__init__(url)
        self.repository = repository
        self.at_load: list[tuple[bool, list[int], int | None]] = []

    def load(self, model: str, config: str | None = None) -> float:
        if model == self.repository.model_name:
            self.at_load.append(
                (
                    config is not None,
                    self.repository.served_versions(),
                    registry.serving_version(self.repository.store),
                )
            )
        return super().load(model, config)


def test_promotion_has_no_window_and_served_folders_are_never_rewritten(
    tmp_path, learned_checkpoint, monkeypatch
):
    store = LocalObjectStore(tmp_path / "store")
    repository = DeployRepository(store)
    pointer = approved_models(store, [1, 2])
    with EmbeddedTritonServer(repository.local_path(), log_path=tmp_path / "server.log") as server:
        control = SpyControl(server.grpc_url, repository)
        try:
            assert roll_out(
                control, repository, 1, learned_checkpoint, gate_passed=True, pointer=pointer
            ).promoted
            assert registry.serving_version(store) == 1

            # Version 2 passes staging but fails its smoke test as the served model: the result is
            # checked, the stored config and the pointer never named 2, version 1 serves again.
            real_smoke = rollout.smoke_test

            def failing_when_served(client, cases=rollout.SMOKE_CASES):
                result = real_smoke(client, cases)
                if client.model == repository.model_name:
                    result.answered, result.errors = 0, ["injected: served smoke test failed"]
                return result

            monkeypatch.setattr(rollout, "smoke_test", failing_when_served)
            with pytest.raises(RolloutError, match="injected.*version 1 keeps serving"):
                roll_out(control, repository, 2, learned_checkpoint, gate_passed=True, pointer=pointer)
            assert repository.served_versions() == [1] and registry.serving_version(store) == 1
            with RepairClient(server.grpc_url) as client:
                assert client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic).model_version == "1"

            monkeypatch.setattr(rollout, "smoke_test", real_smoke)
            control.at_load.clear()
            assert roll_out(
                control, repository, 2, learned_checkpoint, gate_passed=True, pointer=pointer
            ).promoted
            # The candidate config travelled in the load call while the store still named version 1.
            assert control.at_load == [(True, [1], 1)]
            assert repository.served_versions() == [2] and registry.serving_version(store) == 2

            # Rolling out the served version again rewrites nothing in its folder.
            served_files = {
                p: (p.stat().st_mtime_ns, p.stat().st_ino)
                for p in (repository.local_path() / "code_repair" / "2").rglob("*")
            }
            again = roll_out(
                control,
                repository,
                2,
                Path(tmp_path / "no-such-checkpoint"),
                gate_passed=True,
                pointer=pointer,
            )
            assert not again.promoted and "already served" in again.reason
            assert {
                p: (p.stat().st_mtime_ns, p.stat().st_ino)
                for p in (repository.local_path() / "code_repair" / "2").rglob("*")
            } == served_files
        finally:
            control.close()
