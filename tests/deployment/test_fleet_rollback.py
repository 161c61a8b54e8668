"""The fleet rollout's decisions, replica by replica, with model control recorded instead of sent: a
candidate is staged on every replica before any is switched, and a switch that fails on one
replica puts every replica back on the stored version. (Real servers: tests/deployment/test_fleet.py
and test_rollout.py; this failure, one replica of two failing its switch, is hard to provoke there.)"""

from __future__ import annotations

import json

import pytest

from benchmarks.rollout_registry import approved_models
from repair import registry
from repair.serving import rollout
from repair.serving.repository import DeployRepository
from repair.serving.rollout import ModelControl, RolloutError, SmokeResult, roll_out
from resources.object_store import LocalObjectStore


class RecordedControl(ModelControl):
    """A replica's model control as a record of calls and of what it would have loaded."""

    def __init__(self, url: str, repository: DeployRepository, log: list, fail_switch: bool = False):
        self.url, self.repository, self.log, self.fail_switch = url, repository, log, fail_switch
        self.timeout_s = 5.0
        self.loaded: dict[str, list[int]] = {}
        self.loading: dict[
            str, list[int]
        ] = {}  # a load a killed client sent: seen once, then it replaces `loaded`

    def load(self, model: str, config: str | None = None) -> float:
        self.log.append((self.url, "load", model, config is not None))
        if config is not None:
            if self.fail_switch:
                raise RolloutError(f"Triton at {self.url} could not load {model!r}: injected")
            versions = json.loads(config)["version_policy"]["specific"]["versions"]
        else:
            versions = self.repository.served_versions() if model == self.repository.model_name else [0]
        self.loaded[model] = sorted(int(v) for v in versions)
        return 0.0

    def unload(self, model: str) -> None:
        self.loaded.pop(model, None)

    def version_states(self, model: str) -> dict[int, str]:
        states = {v: "READY" for v in self.loaded.get(model, [])}
        if model in self.loading:
            states.update({v: "LOADING" for v in self.loading[model]})
            self.loaded[model] = self.loading.pop(model)
        return states

    def is_ready(self, model: str, version: int | None = None) -> bool:
        return model in self.loaded and (version is None or version in self.loaded[model])


@pytest.fixture
def checkpoint(tmp_path):
    """A checkpoint's files (nothing loads them here)."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


@pytest.fixture
def smoke_ok(monkeypatch):
    def answered(control, model, cases, timeout_s, version=None):
        served = (control.loaded[model] or [0])[-1] if version is None else version
        return SmokeResult(model, 1, 1, {"rejected": 1}, model_versions=[str(served)])

    monkeypatch.setattr(rollout, "_smoke", answered)


def test_a_switch_failing_on_one_replica_puts_every_replica_back(tmp_path, checkpoint, smoke_ok):
    repository = DeployRepository(LocalObjectStore(tmp_path / "store"))
    pointer = approved_models(repository.store, [1, 2])
    log: list = []
    first, second = (RecordedControl(f"replica-{i}:8001", repository, log) for i in range(2))
    assert roll_out([first, second], repository, 1, checkpoint, gate_passed=True, pointer=pointer).promoted
    assert first.loaded["code_repair"] == second.loaded["code_repair"] == [1]

    # Both replicas staged version 1 before either served it.
    staged = [i for i, call in enumerate(log) if call[2] == "code_repair_staging"]
    switched = [i for i, call in enumerate(log) if call[2] == "code_repair" and call[3]]
    assert len(staged) == 2 and len(switched) == 2 and max(staged) < min(switched)

    second.fail_switch = True
    with pytest.raises(RolloutError, match="replica-1.*injected.*version 1 keeps serving"):
        roll_out([first, second], repository, 2, checkpoint, gate_passed=True, pointer=pointer)
    # The first replica had switched to version 2; it is back on the stored config.
    assert first.loaded["code_repair"] == second.loaded["code_repair"] == [1]
    assert repository.served_versions() == [1] and registry.serving_version(repository.store) == 1
    assert "code_repair_staging" not in first.loaded and "code_repair_staging" not in second.loaded

    second.fail_switch = False
    assert roll_out([first, second], repository, 2, checkpoint, gate_passed=True, pointer=pointer).promoted
    assert first.loaded["code_repair"] == second.loaded["code_repair"] == [2]
    record = registry.serving(repository.store)
    assert record and record["version"] == 2 and record["replicas"] == ["replica-0:8001", "replica-1:8001"]
    # The registry's record is the one place that says which version serves: no second pointer.
    assert [
        key
        for key in repository.store.list("deployments/")
        if key != registry.SERVING_KEY and not key.startswith(f"{registry.SERVING_HISTORY}/")
    ] == []


def test_a_promotion_interrupted_between_config_and_pointer_is_finished(tmp_path, checkpoint, smoke_ok):
    repository = DeployRepository(LocalObjectStore(tmp_path / "store"))
    pointer = approved_models(repository.store, [1, 2])
    replica = RecordedControl("replica-0:8001", repository, [])
    assert roll_out(replica, repository, 1, checkpoint, gate_passed=True, pointer=pointer).promoted
    # What a kill right after the stored config's write leaves: config 2, pointer 1, 2 serving.
    repository.write_version(2, checkpoint)
    repository.write_config(repository.model_name, [2], rollout.DEFAULT_SERVING)
    replica.loaded["code_repair"] = [2]
    replica.log.clear()
    again = roll_out(replica, repository, 2, checkpoint, gate_passed=True, pointer=pointer)
    assert "already served" in again.reason
    assert registry.serving_version(repository.store) == 2 and replica.loaded["code_repair"] == [2]
    assert replica.log == []  # nothing loaded again


def test_a_switch_a_killed_rollout_left_loading_is_waited_for(tmp_path, checkpoint, smoke_ok):
    """bench_faults: a rollout killed during its switch's load call left version 2 loading; the rerun
    saw version 1 ready as stored, staged 2 and switched onto the 2 already serving, a reload under
    traffic that crashed Triton. The rerun waits for the load, goes back to the stored version,
    then stages and switches."""
    repository = DeployRepository(LocalObjectStore(tmp_path / "store"))
    pointer = approved_models(repository.store, [1, 2])
    replica = RecordedControl("replica-0:8001", repository, [])
    assert roll_out(replica, repository, 1, checkpoint, gate_passed=True, pointer=pointer).promoted
    replica.loading["code_repair"] = [2]
    replica.log.clear()
    assert roll_out(replica, repository, 2, checkpoint, gate_passed=True, pointer=pointer).promoted
    served_loads = [(call[1], call[3]) for call in replica.log if call[2] == "code_repair"]
    assert served_loads == [("load", False), ("load", True)]  # back to the stored config, then the switch
    assert replica.loaded["code_repair"] == [2] and registry.serving_version(repository.store) == 2


def test_replicas_must_be_distinct(tmp_path, checkpoint):
    repository = DeployRepository(LocalObjectStore(tmp_path / "store"))
    pointer = approved_models(repository.store, [1])
    same = RecordedControl("replica-0:8001", repository, [])
    with pytest.raises(ValueError, match="distinct"):
        roll_out([same, same], repository, 1, checkpoint, gate_passed=True, pointer=pointer)
    with pytest.raises(ValueError, match="distinct"):
        roll_out([], repository, 1, checkpoint, gate_passed=True, pointer=pointer)


def test_repair_serve_finishes_an_interrupted_promotion_and_serves_the_proven_version(tmp_path, checkpoint):
    """A kill between the stored config's write (version 2, proven on every replica) and the
    registry's serving record (still 1): `repair serve` restarted then serves 2 and the record names
    2; it never serves the newest approved version (3), which no gate passed for serving."""
    from repair.commands.serve import served_repository

    store = LocalObjectStore(tmp_path / "store")
    for _ in range(3):
        registry.approve(store, registry.register_model(
            store, checkpoint, data_version="d", dataset_version=None, config_yaml="", checks={}, details={}))  # fmt: skip
    repository = DeployRepository(store)
    repository.write_version(1, checkpoint)
    repository.write_version(2, checkpoint)
    registry.set_serving(store, 1)
    repository.write_config(repository.model_name, [2], rollout.DEFAULT_SERVING)  # the kill came here

    served, what = served_repository(store, None, str(tmp_path / "tmp"))
    assert served.local_path() == repository.local_path() and what.startswith("deployed version 2"), what
    assert registry.serving_version(store) == 2
    assert registry.serving(store)["reason"] == "finished an interrupted promotion"
