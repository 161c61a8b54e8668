"""A LoRA export becomes a servable checkpoint (issue 17): LLM Foundry's checkpointer writes only the
adapter of a `peft_config` run, which `RepairModel` and the Triton model cannot load; merged into its
base with peft, the same fix comes back through a REAL Triton server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repair.model import RepairModel
from repair.training.lora import adapter_base, is_adapter, merge_adapter

from ..conftest import LEARNED_CASE, LEARNED_DIFF, overfit, serving

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def train_adapter(base: Path, out_dir: Path, prompt: str, response: str) -> Path:
    """A LoRA adapter on every projection (the single-gpu-lora preset's targets) trained until the
    frozen base plus adapter reproduces `response`; saved as peft saves it (adapter and tokenizer,
    the layout of LLM Foundry's LoRA exports)."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
    )
    return overfit(
        base, out_dir, prompt, response, steps=80, lr=1e-2, wrap=lambda model: get_peft_model(model, lora)
    )


@pytest.fixture(scope="module")
def adapter(tiny_checkpoint, tmp_path_factory) -> Path:
    from repair.dataset import DEFAULT_WINDOW
    from repair.serving.handler import RepairRequest, build_prompt

    request = RepairRequest(LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name)
    prompt = build_prompt(request, DEFAULT_WINDOW)
    return train_adapter(tiny_checkpoint, tmp_path_factory.mktemp("adapter"), prompt, LEARNED_DIFF)


def test_an_adapter_alone_is_not_servable(adapter, tiny_checkpoint):
    assert is_adapter(adapter) and not is_adapter(tiny_checkpoint)
    assert Path(adapter_base(adapter)) == tiny_checkpoint
    with pytest.raises(FileNotFoundError, match="not a Hugging Face checkpoint"):
        RepairModel(adapter)


def test_merge_equals_base_plus_adapter(adapter, tiny_checkpoint, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged_dir = merge_adapter(adapter, tmp_path / "merged")
    assert (merged_dir / "config.json").is_file() and not is_adapter(merged_dir)
    assert not (merged_dir / "adapter_config.json").exists()
    ids = torch.tensor([list(range(5, 45))])
    with torch.inference_mode():
        expected = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_checkpoint), adapter)(
            ids
        ).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir)(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)(ids).logits
    assert torch.allclose(merged, expected, atol=1e-4)
    assert not torch.allclose(merged, base, atol=1e-2)  # the adapter changed something
    with pytest.raises(ValueError, match="not a LoRA adapter"):
        merge_adapter(tiny_checkpoint, tmp_path / "again")
    config = json.loads((adapter / "adapter_config.json").read_text())
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in adapter.iterdir():
        (moved / path.name).write_bytes(path.read_bytes())
    (moved / "adapter_config.json").write_text(
        json.dumps({**config, "base_model_name_or_path": str(tmp_path / "gone")})
    )
    with pytest.raises(FileNotFoundError, match="base model .*gone.* is missing"):
        merge_adapter(moved, tmp_path / "nothing")


def test_merged_adapter_serves_its_fix_through_triton(adapter, tiny_checkpoint, tmp_path):
    """End to end: adapter -> merged checkpoint -> a deploy repository version -> a real Triton
    server -> the fix the adapter learned (the base alone does not write it)."""
    from repair.serving.client import RepairClient

    merged = merge_adapter(adapter, tmp_path / "merged")
    with serving(merged, tmp_path / "store") as (server, _), RepairClient(server.grpc_url) as client:
        result = client.repair(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
    assert result.status == "fixed", result
    assert result.diff == LEARNED_DIFF
    assert result.fixed_code == LEARNED_CASE.code.replace("turtle.screen", "turtle.Screen()")
    base_answer = RepairModel(tiny_checkpoint, temperature=0.0, max_new_tokens=40).propose(
        LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name
    )
    assert base_answer != LEARNED_DIFF
