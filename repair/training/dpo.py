"""The `dpo` stage: post-train the serving model on preference pairs (`repair.preferences`) with
TRL's `DPOTrainer` on the model's Hugging Face export, and register the result as a new version
whose registry entry names the version it started from (docs/training.md says why TRL).

The pairs' prompts are the model input of docs/formats.md; training conditions on
`repair.dataset.model_input(prompt)` exactly as supervised training and serving do, and each side is
the `<diff>` block followed by end of sequence (TRL appends the tokenizer's EOS). The reference model
is a frozen copy of the starting model. On CPU the run is fp32 and one process, sized for the tiny
model of the demo.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from repair.dataset import model_input
from repair.model import (
    DIFF_RESPONSE,
    EDIT_RESPONSE,
    PROMPT_SETTINGS_FILE,
    read_prompt_names,
    read_response_format,
)

STAGE = "dpo"


@dataclass(frozen=True)
class DpoSettings:
    beta: float = 0.1  # strength of the pull towards the reference model
    learning_rate: float = 5e-5
    epochs: float = 2.0
    max_steps: int = -1  # > 0 caps the run (overrides epochs)
    batch_size: int = 4
    max_length: int = 1024  # prompt + answer tokens; longer pairs are truncated (prompt from the left)
    seed: int = 0


@dataclass
class DpoRun:
    export_dir: Path
    pairs: int
    steps: int
    wall_s: float
    losses: list[tuple[int, float]] = field(default_factory=list)
    reward_accuracy: float | None = None  # last logged share of pairs whose chosen side the policy prefers
    reward_margin: float | None = None

    def metrics(self) -> dict[str, Any]:
        return {
            "dpo_pairs": self.pairs,
            "dpo_steps": self.steps,
            "dpo_wall_s": round(self.wall_s, 1),
            "dpo_first_loss": self.losses[0][1] if self.losses else None,
            "dpo_final_loss": self.losses[-1][1] if self.losses else None,
            "dpo_reward_accuracy": self.reward_accuracy,
            "dpo_reward_margin": self.reward_margin,
        }


def preference_dataset(
    pairs: Sequence[dict[str, Any]], response_format: str = DIFF_RESPONSE, names: bool = False
):
    """The TRL dataset (`prompt`, `chosen`, `rejected`) of the pairs, prompts as the model sees them
    (with the names like the flagged one for a model that reads them) and each side in the form the
    model emits (the compact edit for an `EDIT_RESPONSE` model)."""
    from datasets import Dataset

    from repair.edits import edit_response

    if not pairs:
        raise ValueError("no preference pairs to train on")

    def side(prompt: str, diff: str) -> str:
        return edit_response(prompt, diff, names) if response_format == EDIT_RESPONSE else diff

    return Dataset.from_list(
        [
            {
                "prompt": model_input(p["prompt"], names),
                "chosen": side(p["prompt"], p["chosen"]),
                "rejected": side(p["prompt"], p["rejected"]),
            }
            for p in pairs
        ]
    )


def train_dpo(
    base_dir: str | Path,
    pairs: Sequence[dict[str, Any]],
    out_dir: str | Path,
    settings: DpoSettings = DpoSettings(),
    progress: Callable[[str], None] | None = None,
) -> DpoRun:
    """DPO of the checkpoint in `base_dir` on `pairs`; the result (weights, tokenizer, the prompt
    settings of the base) is saved in `out_dir/export`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    base_dir, out_dir = Path(base_dir), Path(out_dir)
    dataset = preference_dataset(pairs, read_response_format(base_dir), read_prompt_names(base_dir))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(settings.seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    ref_model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    model.config.use_cache = False
    args = DPOConfig(
        output_dir=str(out_dir / "trainer"),
        beta=settings.beta,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        max_length=settings.max_length,
        truncation_mode="keep_end",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=settings.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    logged: list[dict[str, float]] = []

    class Record(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                logged.append({"step": state.global_step, **logs})
                if progress:
                    progress(f"dpo step {state.global_step}/{state.max_steps}: loss {logs['loss']:.4f}")

    trainer = DPOTrainer(
        model=model, ref_model=ref_model, args=args, train_dataset=dataset, processing_class=tokenizer,
        callbacks=[Record()],
    )  # fmt: skip
    started = time.monotonic()
    trainer.train()
    wall = time.monotonic() - started
    export = out_dir / "export"
    if export.exists():
        shutil.rmtree(export)
    trainer.model.config.use_cache = True
    trainer.save_model(str(export))
    tokenizer.save_pretrained(export)
    if (base_dir / PROMPT_SETTINGS_FILE).is_file():  # the window the base was trained with
        shutil.copy(base_dir / PROMPT_SETTINGS_FILE, export / PROMPT_SETTINGS_FILE)
    shutil.rmtree(out_dir / "trainer", ignore_errors=True)
    last = logged[-1] if logged else {}
    return DpoRun(
        export_dir=export,
        pairs=len(pairs),
        steps=int(trainer.state.global_step),
        wall_s=wall,
        losses=[(int(r["step"]), float(r["loss"])) for r in logged],
        reward_accuracy=last.get("rewards/accuracies"),
        reward_margin=last.get("rewards/margins"),
    )


def register_dpo_candidate(store, run: DpoRun, base, settings: DpoSettings, pairs_digest: str):
    """Registers the DPO export as a new *candidate* model version (`repair.registry`), its details
    naming the stage and the version it started from; approval is the gate's business, as for any
    candidate. `base` is the base's `VersionRecord`; `pairs_digest` identifies the training pairs."""
    import hashlib

    from repair.registry import DATASET, CheckOutcome, register_model

    losses = run.losses
    data_version = hashlib.sha256(
        json.dumps([STAGE, base.version, pairs_digest, asdict(settings)], sort_keys=True).encode()
    ).hexdigest()[:16]
    return register_model(
        store,
        run.export_dir,
        data_version=data_version,
        dataset_version=base.parents.get(DATASET),
        config_yaml=json.dumps({"stage": STAGE, **asdict(settings)}, indent=1),
        checks={"loss_decreased": CheckOutcome(len(losses) >= 2 and losses[-1][1] < losses[0][1])},
        details={
            "stage": STAGE,
            "base_version": base.version,
            "preset": base.details.get("preset"),
            "settings": {"stage": STAGE, **asdict(settings)},
            "metrics": run.metrics(),
        },
    )


class NoBaseModel(LookupError):
    """No model version to start preference training from."""


def dpo_base(store):
    """The version preference training starts from: the serving one, else the newest approved one
    that is not itself a DPO result."""
    from repair import registry

    serving = registry.serving_version(store)
    if serving is not None:
        return registry.get(store, registry.MODEL, serving)
    approved = [r for r in registry.versions(store, registry.MODEL, registry.APPROVED) if r.details.get("stage") != STAGE]
    if not approved:
        raise NoBaseModel(f"no approved model in {store.uri('models')} to start from: train and approve one first")
    return approved[-1]


def train_dpo_candidate(
    store,
    pairs: Sequence[dict[str, Any]],
    work_dir: str | Path,
    settings: DpoSettings = DpoSettings(),
    progress: Callable[[str], None] | None = None,
):
    """(registered candidate, its base, the run): DPO of `dpo_base` on `pairs`, registered as a
    candidate naming its base (what the `dpo_candidate` asset and `bench_dpo` both run)."""
    import hashlib

    from repair import registry

    base = dpo_base(store)
    rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]
    work_dir = Path(work_dir)
    base_dir = registry.fetch_model(store, work_dir / "base", version=base.version)
    run = train_dpo(base_dir, rows, work_dir / "dpo", settings, progress=progress)
    return register_dpo_candidate(store, run, base, settings, digest), base, run
