"""A small checkpoint of the `cpu-tiny` shape with random weights, for tests and benchmarks that
exercise serving before (or without) a trained model: it loads and generates like the real one,
so interface, statuses, batching and latency can be checked; its diffs are garbage."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from repair.corpus import iter_source_files


def tiny_checkpoint(
    out_dir: str | Path, *, hidden_size: int = 128, num_layers: int = 2, vocab_size: int = 1024, seed: int = 0
) -> Path:
    """Tokenizer trained on a few standard-library files, a Llama config (E's scratch helpers) and
    randomly initialised weights, saved as a Hugging Face checkpoint in `out_dir`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from repair.training.scratch import init_scratch_model, train_tokenizer

    out_dir = Path(out_dir)
    if (out_dir / "model.safetensors").is_file():
        return out_dir
    texts = [p.read_text(errors="replace") for p in itertools.islice(iter_source_files(), 20)]
    tokenizer_dir = train_tokenizer(texts, out_dir / "_tokenizer", vocab_size=vocab_size)
    init_scratch_model(
        out_dir, tokenizer_dir, hidden_size=hidden_size, num_layers=num_layers, num_heads=4, max_seq_len=1024
    )
    shutil.rmtree(tokenizer_dir)  # init_scratch_model copied it into the checkpoint
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(out_dir))
    model.save_pretrained(out_dir)
    return out_dir
