"""Every preset renders from typed settings and passes LLM Foundry's own config validation without
running; a bad key or a CPU-incompatible value is caught."""

import pytest
from omegaconf import OmegaConf

from repair.training import config as tc

PRESETS = ("cpu-tiny", "cpu-tiny-scratch", "deepseek-coder-7b-8xh100", "single-gpu-lora")


def _settings(preset: str, tmp_path, **kwargs) -> tc.TrainingSettings:
    return tc.TrainingSettings(
        preset=preset,
        data_dir=str(tmp_path / "data"),
        model_dir=str(tmp_path / "model"),
        run_dir=str(tmp_path / "run"),
        **kwargs,
    )


def test_the_presets_are_all_there():
    assert set(PRESETS) <= set(tc.preset_names())


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_passes_llm_foundry_validation(preset, tmp_path):
    cfg = tc.render_config(_settings(preset, tmp_path, max_duration="2ep", overrides={"seed": 3}))
    tc.validate_config(cfg)
    written = OmegaConf.load(tc.write_config(cfg, tmp_path / "train.yaml"))
    resolved = OmegaConf.to_container(written, resolve=True)
    assert resolved["max_duration"] == "2ep" and resolved["seed"] == 3
    assert resolved["model"]["pretrained_model_name_or_path"] == str(tmp_path / "model")
    assert resolved["train_loader"]["dataset"]["hf_name"] == str(tmp_path / "data")
    assert resolved["callbacks"]["hf_checkpointer"]["save_folder"] == str(tmp_path / "run")
    assert resolved["autoresume"] is True


def test_the_case_study_recipe_is_exact(tmp_path):
    cfg = OmegaConf.to_container(
        tc.render_config(_settings("deepseek-coder-7b-8xh100", tmp_path)), resolve=True
    )
    assert cfg["fsdp_config"]["sharding_strategy"] == "FULL_SHARD"
    assert cfg["fsdp_config"]["activation_checkpointing"] is True
    assert cfg["precision"] == "amp_bf16" and cfg["model"]["use_flash_attention_2"] is True
    assert cfg["optimizer"] == {
        "name": "decoupled_adamw", "lr": 1.0e-5, "betas": [0.9, 0.99], "eps": 1.0e-8, "weight_decay": 0.0
    }  # fmt: skip
    assert cfg["scheduler"] == {"name": "cosine_with_warmup", "t_warmup": "100ba", "alpha_f": 0.01}
    assert cfg["global_train_batch_size"] == 16 and cfg["max_duration"] == "4ep"
    assert cfg["algorithms"]["gradient_clipping"] == {"clipping_type": "norm", "clipping_threshold": 1.0}
    assert cfg["train_loader"]["dataset"]["packing_ratio"] == 6.0
    lora = OmegaConf.to_container(tc.render_config(_settings("single-gpu-lora", tmp_path)), resolve=True)
    assert lora["model"]["peft_config"]["peft_type"] == "LORA" and "fsdp_config" not in lora


@pytest.mark.parametrize("preset", ["cpu-tiny", "cpu-tiny-scratch"])
def test_cpu_presets_are_cpu_safe(preset, tmp_path):
    cfg = OmegaConf.to_container(tc.render_config(_settings(preset, tmp_path)), resolve=True)
    assert cfg["precision"] == "fp32"
    assert isinstance(cfg["device_train_microbatch_size"], int)
    assert cfg["train_loader"]["num_workers"] >= 1


def test_cpu_tiny_finetunes_the_shipped_base_and_scratch_trains_from_nothing(tmp_path):
    tiny = OmegaConf.to_container(tc.render_config(_settings("cpu-tiny", tmp_path)), resolve=True)
    assert tiny["model"]["pretrained"] is True
    assert tiny["tokenizer"]["name"] == str(tmp_path / "model")  # the base's own tokenizer
    scratch = OmegaConf.to_container(tc.render_config(_settings("cpu-tiny-scratch", tmp_path)), resolve=True)
    assert scratch["model"]["pretrained"] is False
    assert tc.SCRATCH_PRESETS == ("cpu-tiny-scratch",)
    base = tc.default_model_dir("cpu-tiny")
    assert base == tc.SHIPPED_MODELS_DIR / "base-cpu" and (base / "model.safetensors").is_file()
    assert tc.default_model_dir("cpu-tiny-scratch") is None


def test_unknown_keys_and_bad_presets_are_rejected(tmp_path):
    cfg = tc.render_config(_settings("cpu-tiny", tmp_path, overrides={"not_a_foundry_key": 1}))
    with pytest.raises(Exception, match="not_a_foundry_key"):
        tc.validate_config(cfg)
    with pytest.raises(ValueError, match="unknown training preset"):
        tc.load_preset("gpt-9")


def test_tokenizer_asset_and_cpu_preset_agree_on_the_vocabulary():
    from repair.training.scratch import DEFAULT_VOCAB_SIZE
    from repair_assets.training import TokenizerConfig

    preset = tc.load_preset("cpu-tiny-scratch")
    assert preset.variables.scratch_model.vocab_size == DEFAULT_VOCAB_SIZE == TokenizerConfig().vocab_size
