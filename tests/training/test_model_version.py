"""The library call of the `tokenizer` and `finetuned_model` assets (`repair.training.model_version`),
the parts that decide without training: which base a preset finetunes, and that a model of the same
inputs, settings and code is reused instead of trained again. Training itself: test_assets.py (slow)."""

from __future__ import annotations

import pytest

from repair import registry
from repair.object_store import LocalObjectStore
from repair.training import model_version
from repair.training.config import SHIPPED_MODELS_DIR
from repair.training.model_version import ModelTrainingOptions


def test_a_preset_finetunes_the_given_base_its_shipped_base_or_none():
    assert model_version.base_model_dir("cpu-tiny-scratch", None) is None
    assert model_version.base_model_dir("cpu-tiny", None) == str(SHIPPED_MODELS_DIR / "base-cpu")
    assert model_version.base_model_dir("cpu-tiny", "/models/mine") == "/models/mine"
    with pytest.raises(ValueError, match="single-gpu-lora finetunes a pretrained model"):
        model_version.base_model_dir("single-gpu-lora", "")


def _record(kind: str, data_version: str) -> registry.VersionRecord:
    return registry.VersionRecord(kind, 1, registry.APPROVED, data_version, f"{kind}/v1", f"mem://{kind}/v1", "now")


def test_a_model_of_the_same_inputs_and_code_is_reused_not_trained(tmp_path):
    store = LocalObjectStore(tmp_path / "store")
    dataset, tokenizer = _record(registry.DATASET, "rows-a"), _record("tokenizer", "vocab-a")
    options = ModelTrainingOptions(preset="cpu-tiny", run_root=str(tmp_path / "runs"))
    made_before = registry.record_candidate(
        store, registry.MODEL, registry.claim_version(store, registry.MODEL),
        data_version=model_version.model_data_version(dataset, tokenizer, options), checks={},
    )  # fmt: skip

    def runner(command, env):
        raise AssertionError(f"trained again: {command}")

    outcome = model_version.train_model_version(store, dataset, tokenizer, options, runner=runner, log=lambda _: None)
    assert outcome.reused and outcome.record == made_before
    assert not (tmp_path / "runs").exists()
    # Anything that changes what training makes changes the data version: that one would train.
    for changed in (
        model_version.model_data_version(_record(registry.DATASET, "rows-b"), tokenizer, options),
        model_version.model_data_version(dataset, tokenizer, ModelTrainingOptions("cpu-tiny", learning_rate=1e-3)),
        model_version.model_data_version(dataset, tokenizer, ModelTrainingOptions("cpu-tiny", max_duration="9ba")),
    ):
        assert changed != made_before.data_version
