"""Scaling experiments: how held-out exact match moves with training data and with model size.

The case study trained on 10K to 75K examples to choose its data budget. Here every arm trains the
from-scratch preset (`cpu-tiny-scratch`, LLM Foundry as `repair train`) for the same number of
batches (the same compute budget per model size), on a seeded subset of the dataset's training split
(a fraction of it) and at one of several model shapes; each export is scored on the same held-out
items of the test split (greedy, pass@1). The validation and test splits are never cut, so every arm
is graded on the same items. All arms share one tokenizer (trained on the whole training split; the
`tokenizer` asset), so the fractions differ in examples seen, not in vocabulary.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCALING_PRESET = "cpu-tiny-scratch"
# Two shapes a 2-core CPU trains in minutes: the preset's own, and one with twice the width.
DEFAULT_MODEL_SIZES: dict[str, dict[str, int]] = {
    "small": {"hidden_size": 128, "num_layers": 3, "num_heads": 4, "intermediate_size": 384},
    "wide": {"hidden_size": 256, "num_layers": 3, "num_heads": 4, "intermediate_size": 768},
}
DEFAULT_FRACTIONS = (0.25, 0.5, 1.0)


@dataclass(frozen=True)
class ScalingPoint:
    """One arm: its data fraction and model, and what it scored on the held-out items."""

    fraction: float
    train_examples: int
    model: str
    parameters: int
    batches: int
    final_loss: float | None
    train_wall_s: float
    heldout_items: int
    exact_match: float | None
    well_formed: float | None


def subset_data(data_dir: Path, out_dir: Path, fraction: float, seed: int) -> int:
    """Writes `out_dir` with a seeded `fraction` (at least one row) of `train.jsonl` and the
    validation and test files unchanged; returns the training rows kept."""
    if not 0 < fraction <= 1:
        raise ValueError(f"data fraction {fraction} is not in (0, 1]")
    rows = (data_dir / "train.jsonl").read_text().splitlines()
    if not rows:
        raise ValueError(f"{data_dir / 'train.jsonl'} is empty: nothing to scale")
    keep = sorted(random.Random(seed).sample(range(len(rows)), max(1, round(fraction * len(rows)))))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "train.jsonl").write_text("".join(rows[i] + "\n" for i in keep))
    for split in ("validation", "test"):
        shutil.copy2(data_dir / f"{split}.jsonl", out_dir / f"{split}.jsonl")
    return len(keep)


def run_scaling(
    data_dir: str | Path,
    tokenizer_dir: str | Path,
    work: str | Path,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    model_sizes: Mapping[str, Mapping[str, int]] = DEFAULT_MODEL_SIZES,
    batches: int = 200,
    heldout_items: int = 50,
    window: int | None = None,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] = print,
) -> list[ScalingPoint]:
    """Trains every (fraction, model size) arm for `batches` on a subset of `data_dir`'s training
    split and scores it on the first `heldout_items` of its test split. Each arm's run folder is
    `<work>/<model>-<fraction>` and resumes when the experiment is run again."""
    from repair.training.config import TrainingSettings
    from repair.training.pipeline import init_scratch, train
    from repair.training.scratch import count_parameters

    data_dir, work = Path(data_dir), Path(work)
    if not (data_dir / "test.jsonl").is_file() or not (data_dir / "test.jsonl").read_text().strip():
        raise ValueError(f"{data_dir} has no test split: the experiments would have nothing to score")
    points = []
    for fraction in sorted(fractions):
        data = work / f"data-{fraction:g}"
        train_examples = subset_data(data_dir, data, fraction, seed)
        for model, shape in model_sizes.items():
            arm = work / f"{model}-{fraction:g}"
            settings = TrainingSettings(
                preset=SCALING_PRESET,
                data_dir=str(data),
                model_dir=str(arm / "model"),
                run_dir=str(arm / "run"),
                run_name=f"scaling-{model}-{fraction:g}",
                max_duration=f"{batches}ba",
                seed=seed,
                overrides={
                    **{f"variables.scratch_model.{k}": v for k, v in shape.items()},
                    # One export, at the end; no checkpoint or eval in between (the budget is the arm's).
                    "save_interval": f"{batches}ba",
                    "callbacks.hf_checkpointer.save_interval": f"{batches}ba",
                    "eval_interval": f"{batches}ba",
                    **(overrides or {}),
                },
            )
            init_scratch(settings, tokenizer_dir)
            progress(
                f"scaling: {model} on {fraction:.0%} of the data ({train_examples} examples), {batches} batches"
            )
            trained = train(settings, heldout_items=heldout_items, window=window)
            summary, heldout = trained.run.summary(), trained.heldout
            points.append(
                ScalingPoint(
                    fraction=fraction,
                    train_examples=train_examples,
                    model=model,
                    parameters=count_parameters(settings.model_dir),
                    batches=summary["batches"],
                    final_loss=summary["final_loss"],
                    train_wall_s=summary["wall_s"],
                    heldout_items=heldout.get("items", 0),
                    exact_match=heldout.get("exact_match"),
                    well_formed=heldout.get("well_formed"),
                )
            )
            progress(f"scaling: {json.dumps(asdict(points[-1]))}")
    return points


def scaling_plots(points: Sequence[ScalingPoint], metric: str = "exact_match") -> dict[str, bytes]:
    """Two PNGs: `metric` against training examples (a line per model) and against parameters (a
    line per data fraction)."""
    from repair.training.plots import rate_over_time_png

    by_model: dict[str, list[tuple[str, float]]] = {}
    by_fraction: dict[str, list[tuple[str, float]]] = {}
    for point in sorted(points, key=lambda p: (p.train_examples, p.parameters)):
        value = getattr(point, metric) or 0.0
        by_model.setdefault(f"{point.model} ({point.parameters / 1e6:.2f}M)", []).append(
            (str(point.train_examples), value)
        )
    for point in sorted(points, key=lambda p: (p.parameters, p.train_examples)):
        value = getattr(point, metric) or 0.0
        by_fraction.setdefault(f"{point.fraction:.0%} of the data", []).append(
            (f"{point.parameters / 1e6:.2f}M", value)
        )
    label = metric.replace("_", " ")
    return {
        "by_data_size": rate_over_time_png(by_model, f"held-out {label} vs training examples", label),
        "by_parameters": rate_over_time_png(by_fraction, f"held-out {label} vs parameters", label),
    }
