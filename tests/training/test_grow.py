"""Deepening a base (`repair pretrain --grow-layers`): the deeper model starts out computing what the
base computes."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.training.grow import grow_depth

BASE = Path(__file__).resolve().parents[2] / "models" / "base-cpu"


def test_a_deepened_base_computes_the_same_logits_with_more_layers(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    grown_dir = tmp_path / "grown"
    shutil.copytree(BASE, grown_dir)
    before = json.loads((BASE / "config.json").read_text())["num_hidden_layers"]
    assert grow_depth(grown_dir, before + 2) == 2
    base = AutoModelForCausalLM.from_pretrained(str(BASE))
    grown = AutoModelForCausalLM.from_pretrained(str(grown_dir))
    assert grown.config.num_hidden_layers == before + 2
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in base.parameters())
    tokens = torch.randint(0, base.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(base(tokens).logits, grown(tokens).logits)
    # The new layers are not inert copies for good: their output projections are what training moves.
    zeroed = [i for i, layer in enumerate(grown.model.layers) if not layer.mlp.down_proj.weight.any()]
    assert zeroed == [1, 3]  # the extra layers follow the base's lowest ones


def test_growing_to_no_more_layers_is_refused(tmp_path):
    grown_dir = tmp_path / "grown"
    shutil.copytree(BASE, grown_dir)
    layers = json.loads((BASE / "config.json").read_text())["num_hidden_layers"]
    with pytest.raises(ValueError, match=f"already has {layers} layers"):
        grow_depth(grown_dir, layers)
    assert (grown_dir / "model.safetensors").read_bytes() == (BASE / "model.safetensors").read_bytes()


def test_pretrain_grows_only_a_base_it_continues(tmp_path):
    from repair.commands.pretrain import command

    work = tmp_path / "w"
    result = CliRunner().invoke(command, ["--work", str(work), "--out", str(tmp_path / "o"), "--grow-layers", "6"])
    assert result.exit_code == 2 and "give --init-from" in result.output
    layers = json.loads((BASE / "config.json").read_text())["num_hidden_layers"]
    result = CliRunner().invoke(
        command,
        ["--work", str(work), "--out", str(tmp_path / "o"), "--init-from", str(BASE), "--grow-layers", str(layers)],
    )
    assert result.exit_code == 2 and f"already has {layers} layers" in result.output
    assert not (work / "init").exists()  # a later run with a valid --grow-layers starts from the base again


def test_the_card_says_a_continued_base_was_deepened_only_when_it_was():
    from repair.training.pretrain import model_card_markdown

    card = json.loads((BASE / "card.json").read_text())
    same = {**card, "init_from": {**card["init_from"], "parameters": card["parameters"]}}
    assert "deepened" not in model_card_markdown(same)
    deeper = {**same, "parameters": card["parameters"] * 2}
    assert "| continued from |" in model_card_markdown(deeper)
    assert "weights (deepened to this model's layers by `--grow-layers`" in model_card_markdown(deeper)
