"""The dpo stage: TRL's DPOTrainer on a tiny checkpoint moves the model towards the chosen fixes,
and the result is registered as a new version naming the version it started from."""

from __future__ import annotations

import pytest

from repair import registry
from repair.dataset import model_input
from repair.object_store import LocalObjectStore
from repair.training.dpo import DpoSettings, register_dpo_candidate, train_dpo
from tests.ide.test_preferences import OTHER, PROMPT, RIGHT, WRONG

PAIRS = [{"prompt": PROMPT, "chosen": RIGHT, "rejected": WRONG}, {"prompt": PROMPT, "chosen": RIGHT, "rejected": OTHER}]


def margin(model_dir, pair) -> float:
    """log p(chosen | prompt) - log p(rejected | prompt) under the checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt_ids = tokenizer(model_input(pair["prompt"]), add_special_tokens=False)["input_ids"]

    def logp(answer: str) -> float:
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(prompt_ids) - 1 : -1]
        return float(torch.log_softmax(logits, -1).gather(1, torch.tensor(answer_ids)[:, None]).sum())

    return logp(pair["chosen"]) - logp(pair["rejected"])


def test_dpo_prefers_the_chosen_fix_and_registers_a_candidate(tiny_checkpoint, tmp_path):
    before = [margin(tiny_checkpoint, p) for p in PAIRS]
    run = train_dpo(tiny_checkpoint, PAIRS, tmp_path / "dpo", DpoSettings(learning_rate=1e-3, max_steps=8, batch_size=2))
    after = [margin(run.export_dir, p) for p in PAIRS]
    assert all(a > b + 1.0 for a, b in zip(after, before, strict=True)), (before, after)
    assert run.steps == 8 and run.losses and run.losses[-1][1] < run.losses[0][1]

    store = LocalObjectStore(tmp_path / "store")
    base = registry.VersionRecord(
        "model", 3, registry.APPROVED, "d", "models/code_repair/v3", "", "", parents={"dataset": 2},
        details={"preset": "cpu-tiny"},
    )  # fmt: skip
    record = register_dpo_candidate(store, run, base, DpoSettings(), pairs_digest="p1")
    (listed,) = registry.versions(store, registry.MODEL)
    assert listed.version == record.version == 1 and listed.status == registry.CANDIDATE
    assert listed.details["stage"] == "dpo" and listed.details["base_version"] == 3
    assert listed.parents == {"dataset": 2} and listed.details["metrics"]["dpo_pairs"] == 2
    assert listed.checks["loss_decreased"].passed

def test_no_pairs_is_a_clear_error(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="no preference pairs"):
        train_dpo(tiny_checkpoint, [], tmp_path)
