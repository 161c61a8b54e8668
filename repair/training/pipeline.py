"""One training run from a finetuning JSONL folder, the steps `repair train` and the
`finetuned_model` asset share: a scratch model shaped by the rendered config (when the preset trains
from scratch), the validated LLM Foundry config, the run, and the held-out exact-match score."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from repair.training import config as training_config
from repair.training.lora import is_adapter, merge_adapter


@dataclass
class TrainedModel:
    cfg: Any  # the rendered LLM Foundry config (OmegaConf)
    run: training_config.TrainingRun
    heldout: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        scores = {f"heldout_{k}": v for k, v in self.heldout.items() if k != "exact_match_by_rule"}
        return {**self.run.summary(), **scores}


def init_scratch(settings: training_config.TrainingSettings, tokenizer_dir: str | Path) -> Path:
    """A randomly initialised model at `settings.model_dir`, shaped by the rendered config (so that
    overrides change it too) and sized to the tokenizer."""
    from omegaconf import OmegaConf

    from repair.training.scratch import init_scratch_model

    dims = OmegaConf.to_container(training_config.render_config(settings).variables.scratch_model)
    dims.pop("vocab_size", None)  # the tokenizer decides
    return init_scratch_model(settings.model_dir, tokenizer_dir, **dims)


def heldout_exact_match(export_dir: str | Path, data_dir: str | Path, items: int) -> dict[str, Any]:
    """Exact match of the export on the first `items` rows of `test.jsonl` ({} when none)."""
    from repair.model import RepairModel
    from repair.training.heldout import exact_match

    path = Path(data_dir) / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()][:items] if path.is_file() else []
    if not rows:
        return {}
    model = RepairModel(export_dir, temperature=0.0)
    return exact_match(model.generate, [{**row, "rule": "all"} for row in rows])


def train(
    settings: training_config.TrainingSettings,
    *,
    heldout_items: int = 0,
    window: int | None = None,
    sink: Callable[[dict], None] | None = None,
) -> TrainedModel:
    """Renders and validates the config, trains (resuming a run of the same folder), merges a LoRA
    adapter into its base (`repair.training.lora`), records the prompt window the data was built
    with in the export (`window`), scores."""
    from repair.model import names_of, read_prompt_window, response_format_of, write_prompt_settings

    cfg = training_config.render_config(settings)
    training_config.validate_config(cfg)
    run = training_config.run_training(cfg, sink=sink)
    if not training_config.is_main_process():
        return TrainedModel(cfg, run)  # rank 0 finishes the run's export and scores it
    if is_adapter(run.export_dir):  # a LoRA run: serve base + adapter merged
        shutil.rmtree(run.run_dir / "merged", ignore_errors=True)  # one merged export per run, as for exports
        merged = merge_adapter(run.export_dir, run.run_dir / "merged" / run.export_dir.name)
        run = replace(run, export_dir=merged)
    # The export records the window and what the model emits (RepairModel reads both).
    window = window if window is not None else read_prompt_window(run.export_dir)
    write_prompt_settings(run.export_dir, window, response_format_of(cfg), names_of(cfg))
    heldout = heldout_exact_match(run.export_dir, settings.data_dir, heldout_items) if heldout_items else {}
    return TrainedModel(cfg, run, heldout)
