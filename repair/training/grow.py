"""Deepening a trained base without changing what it computes, so that a longer run buys the
capacity of a larger model without first paying again for what the smaller one learnt (a larger
model trained from nothing on this machine's budget did no better: docs/scaling.md).

Each new decoder layer is a copy of the layer below it whose two output projections (attention's
`o_proj`, the MLP's `down_proj`) are zero: in a pre-norm residual stack such a layer adds nothing,
so the deeper model's logits equal the base's until training moves those projections.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path


def grow_depth(model_dir: str | Path, num_layers: int) -> int:
    """Rewrites the Hugging Face Llama checkpoint in `model_dir` with `num_layers` decoder layers,
    new layers spread evenly after the existing ones (3 -> 6: every layer followed by its zeroed
    copy). Returns the number of layers added. Raises ValueError when `num_layers` is not more than
    the checkpoint has, or the model is not one this knows how to deepen."""
    import torch
    from transformers import AutoModelForCausalLM

    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "llama":
        raise ValueError(f"{model_dir}: only Llama checkpoints can be deepened (model_type {config.get('model_type')!r})")
    current = config["num_hidden_layers"]
    if num_layers <= current:
        raise ValueError(f"{model_dir} already has {current} layers; growing needs more than that, not {num_layers}")
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    layers = model.model.layers
    # How many copies follow each existing layer: the extra layers shared out from the bottom up.
    extra = num_layers - current
    copies = [extra // current + (i < extra % current) for i in range(current)]
    grown = []
    for layer, count in zip(layers, copies, strict=True):
        grown.append(layer)
        for _ in range(count):
            twin = copy.deepcopy(layer)
            with torch.no_grad():
                twin.self_attn.o_proj.weight.zero_()
                twin.mlp.down_proj.weight.zero_()
            grown.append(twin)
    for index, layer in enumerate(grown):
        layer.self_attn.layer_idx = index
    model.model.layers = torch.nn.ModuleList(grown)
    model.config.num_hidden_layers = num_layers
    model.save_pretrained(str(model_dir), safe_serialization=True)
    return extra
