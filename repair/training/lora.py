"""LoRA exports made servable: LLM Foundry's Hugging Face checkpointer writes only the adapter of a
`peft_config` run (`adapter_config.json` + `adapter_model.safetensors`), which neither `RepairModel`
nor the Triton model can load; `merge_adapter` folds it into its base with peft's `merge_and_unload`
and saves a plain checkpoint (weights, config, tokenizer, prompt settings)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ADAPTER_CONFIG = "adapter_config.json"
# Files of an export that travel with the merged weights (the tokenizer's and the prompt settings).
CARRIED_SUFFIXES = (".json", ".txt", ".model")
NOT_CARRIED = {ADAPTER_CONFIG, "config.json", "generation_config.json"}


def is_adapter(export_dir: str | Path) -> bool:
    """An adapter-only export (no full model beside it)."""
    export_dir = Path(export_dir)
    return (export_dir / ADAPTER_CONFIG).is_file() and not (export_dir / "config.json").is_file()


def adapter_base(adapter_dir: str | Path) -> str:
    """The base model the adapter was trained on, as its config records it."""
    return json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]


def merge_adapter(
    adapter_dir: str | Path, out_dir: str | Path, base_model_dir: str | Path | None = None
) -> Path:
    """Writes base + adapter, merged, as a plain Hugging Face checkpoint into `out_dir` (the base's
    dtype kept). `base_model_dir` defaults to the base the adapter names; a missing one is an error
    that says which."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if not is_adapter(adapter_dir):
        raise ValueError(f"{adapter_dir} is not a LoRA adapter export (no {ADAPTER_CONFIG}, or a full model)")
    base = Path(base_model_dir or adapter_base(adapter_dir))
    if not (base / "config.json").is_file():
        raise FileNotFoundError(
            f"the base model {base} of adapter {adapter_dir} is missing: pass base_model_dir"
        )
    model = AutoModelForCausalLM.from_pretrained(str(base), torch_dtype="auto")
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    has_tokenizer = (adapter_dir / "tokenizer_config.json").is_file()
    AutoTokenizer.from_pretrained(str(adapter_dir if has_tokenizer else base)).save_pretrained(tmp)
    for path in adapter_dir.iterdir():
        if (
            path.is_file()
            and path.suffix in CARRIED_SUFFIXES
            and path.name not in NOT_CARRIED
            and not (tmp / path.name).exists()
        ):
            shutil.copy2(path, tmp / path.name)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)
    return out_dir
