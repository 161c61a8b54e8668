"""A tokenizer and an untrained model for training from scratch (the `cpu-tiny` preset, the GPU
benchmark). A pretrained base model brings both itself; these exist so that LLM Foundry's
`hf_causal_lm` can build a model without the hub: it reads the saved config with
`pretrained: false` and initialises the weights at random.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"


# The cpu-tiny preset's vocabulary (its `variables.scratch_model.vocab_size`). Small on purpose: at
# 1024 tokens the output layer is a quarter of 4096's cost and the model learned more per CPU-minute
# (benchmarks/RESULTS.md, Training).
DEFAULT_VOCAB_SIZE = 1024


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = DEFAULT_VOCAB_SIZE) -> Path:
    """Trains a byte-level BPE tokenizer on `texts` and saves it in Hugging Face format (loadable
    with `AutoTokenizer.from_pretrained(out_dir)`), with `<|endoftext|>` as end of sequence and a
    separate pad token. Byte level, so any text round-trips, and whitespace is kept exactly (the
    numbered diff must reproduce indentation)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=1 << 20,
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return out_dir


def init_scratch_model(
    out_dir: str | Path,
    tokenizer_dir: str | Path,
    *,
    hidden_size: int = 256,
    num_layers: int = 4,
    num_heads: int = 4,
    intermediate_size: int | None = None,
    max_seq_len: int = 512,
) -> Path:
    """Saves a small `LlamaConfig` sized to the tokenizer in `tokenizer_dir` (and a copy of the
    tokenizer) into `out_dir`, for `model: {name: hf_causal_lm, pretrained_model_name_or_path:
    out_dir, pretrained: false}`. No weights are written: LLM Foundry initialises them."""
    from transformers import AutoTokenizer, LlamaConfig

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_seq_len,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def count_parameters(model_dir: str | Path) -> int:
    """Parameters of the model a saved config describes (for sizing runs and MFU), without building it."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    h, layers, inter, vocab = (
        config["hidden_size"],
        config["num_hidden_layers"],
        config["intermediate_size"],
        config["vocab_size"],
    )
    kv = h * config.get("num_key_value_heads", config["num_attention_heads"]) // config["num_attention_heads"]
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * inter + 2 * h
    embeddings = vocab * h * (1 if config.get("tie_word_embeddings") else 2)
    return layers * per_layer + embeddings + h
