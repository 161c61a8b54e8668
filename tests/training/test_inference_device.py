"""Evaluation generates on the GPU when one is present (bf16, batches of 64) and falls back to the
CPU in fp32 (batches of 16) when none is: the decision is tested both ways, the fallback end to end
(no GPU is lent to this machine)."""

from __future__ import annotations

import pytest
import torch

from repair import model as repair_model
from repair.model import RepairModel, placement


def test_auto_picks_the_gpu_in_bf16_when_one_is_visible(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert placement("auto") == ("cuda", "bfloat16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert placement("cuda:1") == ("cuda:1", "float16")  # pre-Ampere GPUs


def test_auto_falls_back_to_the_cpu_in_fp32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert placement("auto") == ("cpu", "float32")
    assert placement("cpu") == ("cpu", "float32")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the fallback: this machine has a GPU")
def test_without_a_gpu_evaluation_generates_on_the_cpu_in_fp32(tiny_checkpoint):
    model = RepairModel(tiny_checkpoint, temperature=0.0, max_new_tokens=4)
    assert (model.device, model.dtype, model.batch_size) == ("cpu", "float32", repair_model.CPU_BATCH_SIZE)
    assert next(model.model.parameters()).dtype == torch.float32
    prompts = ["x = 1\n"] * 3
    assert len(model.generate(prompts)) == 3  # batched generation, one completion per prompt
    assert RepairModel(tiny_checkpoint, batch_size=2).batch_size == 2


def test_threads_can_share_one_model(tiny_checkpoint):
    """The evaluation proposes from a thread pool: a fast tokenizer used by two threads at once
    raised "RuntimeError: Already borrowed" (5 of 14 items of a demo day's repair benchmark)."""
    from concurrent.futures import ThreadPoolExecutor

    model = RepairModel(tiny_checkpoint, temperature=0.0, max_new_tokens=4)
    prompts = [f"x = {'y' * n}\n" for n in range(1, 40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda p: model.generate([p, p + p]), prompts))
    assert all(len(a) == 2 for a in answers)
