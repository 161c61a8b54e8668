"""Pretrained base benchmark: the shipped base (`models/base-cpu`, `repair pretrain`) zero-shot, then
finetuned with the `cpu-tiny` preset on a demo-sized dataset, against `cpu-tiny-scratch` trained from
nothing on the same data with the same budget; held-out exact match (pass@1 of the served decoding) along the way
(the learning curve). Writes the `## Pretrained base` section of benchmarks/RESULTS.md.

    uv run python -m benchmarks bench_base                                  # the demo's budget (DEMO_TRAIN_DURATION)
    uv run python -m benchmarks.bench_base --data .data/store/datasets/repair_dataset/v1/jsonl   # the demo's own day

Data: `--data` (a `repair_dataset` JSONL folder, e.g. the demo's day), else the simulator's mistakes
in standard-library files verified by ruff (as `repair pretrain` makes its corpus), cut to the demo's
size: the base's corpus is leak-checked against the standard library, so these are held out from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.bench_decoding import add_held_out_option, read_held_out
from benchmarks.results import load_words

SECTION = "## Pretrained base"
DEMO_TRAIN_EXAMPLES = 400  # a simulated demo day's training split: a few hundred verified repairs


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def demo_sized_data(work: Path, train_examples: int, test_items: int, max_files: int) -> dict:
    """The simulator's mistakes in a seeded sample of `max_files` standard-library files (what the
    simulator draws on, and what the base never saw), verified by ruff as `repair pretrain` does, split
    by module, cut to `train_examples` / `test_items`."""
    import random

    from evals.sources import benchmark_sources
    from repair.corpus import iter_source_files, stdlib_dir
    from repair.dataset import build_dataset, write_finetuning_files
    from repair.training.pretrain import candidates_for_file, mistake_weights, verify_candidates

    if (work / "data" / "jsonl" / "test.jsonl").is_file():  # prepared by an earlier run: reuse
        return {
            s: len((work / "data" / "jsonl" / f"{s}.jsonl").read_text().splitlines())
            for s in ("train", "validation", "test")
        }
    rng = random.Random(0)
    root = stdlib_dir()
    paths = sorted(rng.sample(list(iter_source_files(root)), max_files))
    weights = mistake_weights(("ruff",))
    candidates = [c for path in paths for c in candidates_for_file("stdlib", root, path, 4, weights, rng)]
    rows, _ = verify_candidates(candidates, ("ruff",), progress=lambda line: print(line, flush=True))
    built = build_dataset(rows, benchmark_sources())
    by_split = {s: [e for e in built.examples if e["split"] == s] for s in ("train", "validation", "test")}
    keep = {
        "train": by_split["train"][:train_examples],
        "validation": by_split["validation"][: max(16, train_examples // 8)],
        "test": by_split["test"][:test_items],
    }
    write_finetuning_files([e for rows in keep.values() for e in rows], work / "data")
    return {split: len(rows) for split, rows in keep.items()}


def copying(completions: list[str], test: list[dict]) -> dict:
    """The skill exact match hinges on, from the first line of each diff (for a one-line fix, the
    erroneous line copied as `-N TEXT`): how often its line number is the reference's, and how often
    the whole line (sign, number, text) is. A model that ignores the prompt scores 0 on both, even
    when its diffs are well formed."""
    from repair.linediff import DiffError, parse_diff

    number = copied = 0
    for completion, example in zip(completions, test, strict=True):
        reference = parse_diff(example["response"]).ops[0]
        try:
            first = next(iter(parse_diff(completion).ops), None)
        except DiffError:
            first = None
        number += first is not None and first.line == reference.line
        copied += first == reference
    return {
        "line_number_right": round(number / len(test), 4),
        "first_line_exact": round(copied / len(test), 4),
    }


def demo_file_fix(model_dir: Path, window: int) -> dict:
    """What the model proposes (its served decoding) for the demo's final broken file (`repair demo` sends it to the
    served model), and verification's verdict on it: applied, re-linted, the error gone, nothing new."""
    from repair.commands.demo import BROKEN_EXAMPLE
    from repair.lint import lint_project
    from repair.model import RepairModel
    from repair.verify import BatchLinter, Verifier

    (linted,) = lint_project({"broken.py": BROKEN_EXAMPLE}, ["broken.py"])
    diagnostic = next(d for d in linted.diagnostics if d.severity == "error")
    proposal = RepairModel(model_dir, temperature=0.0, window=window).propose(
        BROKEN_EXAMPLE, diagnostic, "broken.py"
    )
    verdict = Verifier(BatchLinter()).verify(BROKEN_EXAMPLE, diagnostic, proposal, "broken.py")
    return {"demo_file_diff": proposal, "demo_file_verdict": verdict.verdict}


def score(model_dir: Path, test: list[dict], window: int) -> dict:
    from repair.model import RepairModel
    from repair.training.heldout import exact_match

    started = time.perf_counter()
    completions: list[str] = []

    def generate(prompts: list[str]) -> list[str]:
        completions.extend(RepairModel(model_dir, temperature=0.0, window=window).generate(prompts))
        return completions

    result = exact_match(generate, test)
    wall_s = round(time.perf_counter() - started, 1)
    return {**result, **copying(completions, test), "wall_s": wall_s, **demo_file_fix(model_dir, window)}


def finetune(
    preset: str, work: Path, base: Path, batches: int, every: int, test: list[dict], window: int
) -> dict:
    """Trains `preset` for `batches` (exports every `every`), scores each export: the learning curve."""
    from omegaconf import OmegaConf

    from repair.model import names_of, response_format_of, write_prompt_settings
    from repair.training.config import SCRATCH_PRESETS, TrainingSettings, render_config, run_training
    from repair.training.scratch import init_scratch_model, train_tokenizer

    data = work / "data" / "jsonl"
    run_dir = work / preset
    model_dir = base
    if preset in SCRATCH_PRESETS:
        rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
        dims = OmegaConf.to_container(
            render_config(TrainingSettings(preset, str(data), "x", "x")).variables.scratch_model
        )
        vocab = dims.pop("vocab_size")
        tokenizer = train_tokenizer((r["prompt"] + r["response"] for r in rows), run_dir / "tokenizer", vocab)
        model_dir = init_scratch_model(run_dir / "scratch_model", tokenizer, **dims)
    settings = TrainingSettings(
        preset=preset,
        data_dir=str(data),
        model_dir=str(model_dir),
        run_dir=str(run_dir / "run"),
        max_duration=f"{batches}ba",
        overrides={
            "callbacks.hf_checkpointer.save_interval": f"{every}ba",
            "save_interval": f"{every}ba",
            "eval_interval": f"{batches}ba",
        },
    )
    cpu = _cpu_s()
    cfg = render_config(settings)
    run = run_training(cfg, keep_exports=None)  # every export: each is a point of the curve
    cpu = _cpu_s() - cpu
    curve = []
    for export in sorted((run_dir / "run" / "huggingface").glob("ba*"), key=lambda p: int(p.name[2:])):
        write_prompt_settings(export, window, response_format_of(cfg), names_of(cfg))
        curve.append({"batches": int(export.name[2:]), **score(export, test, window)})
        print(f"{preset} {export.name}: {json.dumps(curve[-1])}", flush=True)
    lr = OmegaConf.select(cfg, "optimizer.lr")
    return {"training": run.summary(), "lr": lr, "train_cpu_s": round(cpu, 1), "curve": curve}


def _cells(scores: dict) -> str:
    rates = ("exact_match", "well_formed", "line_number_right", "first_line_exact")
    demo = scores.get("demo_file_diff", "").replace("\n", " ").replace("|", "\\|")
    return " | ".join(
        [
            *(f"{scores[k]:.1%}" if k in scores else "" for k in rates),
            f"`{demo}` ({scores.get('demo_file_verdict', '')})",
        ]
    )


def pretraining_batches(card: dict) -> str:
    """ "N pretraining batches", and those of the bases it continued (`repair pretrain --init-from`)."""
    text = f"{card['training']['batches']} pretraining batches"
    parent = card.get("init_from")
    while parent:
        text += f" continuing a base of {parent['max_duration']}"
        parent = parent.get("init_from")
    return text


def markdown(results: dict) -> str:
    base, n = results["base"], results["held_out"]["items"]
    scored = " and ".join(f"{split} split" for split in results["held_out"]["splits"])
    lines = [
        SECTION,
        "",
        (
            f"Measured by `uv run python -m benchmarks.bench_base {' '.join(results['argv'])}` on {results['date']}: "
            f"{results['machine']}, {load_words(results['load_before'][0], results['load_after'][0])}"
            "; CPU seconds are this process's own."
        ),
        "",
        (
            f"Data: {results['data_source']}; train/validation/test {results['data']['train']}/"
            f"{results['data']['validation']}/{results['data']['test']} examples; scored: the {scored}. Base: `{results['base_dir']}` "
            f"({base['card']['parameters']:,} parameters, {pretraining_batches(base['card'])}, "
            f"see its README; it emits {base['card'].get('response', 'diff')} responses, docs/formats.md 2b). Exact match: "
            f"pass@1, the one answer of the served decoding (4 grammar-constrained candidates by ranked headers, docs/formats.md 2b; the first that passes the quick check, else no fix) whose final diff's ops (an edit expanded against the prompt) equal to the "
            f"reference diff's, n={n}."
        ),
        "",
        "| model | batches on this data | training CPU | exact match | well-formed diffs | first diff line: right number | first diff line: exact (the copy) | the demo's broken file: diff (verification) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| base alone, zero-shot | 0 | 0 s | {_cells(base['zero_shot'])} |",
    ]
    for label, preset in (
        ("base finetuned (`cpu-tiny`)", "cpu-tiny"),
        ("from scratch (`cpu-tiny-scratch`)", "cpu-tiny-scratch"),
    ):
        run = results.get(preset)
        for point in run["curve"] if run else []:
            cpu = (
                f"{run['train_cpu_s']} s (all {run['training']['batches']})"
                if point is run["curve"][-1]
                else ""
            )
            lines.append(
                f"| {label}, lr {run.get('lr', '?')} | {point['batches']} | {cpu} | {_cells(point)} |"
            )
    final = {
        p: results[p]["curve"][-1]["exact_match"] for p in ("cpu-tiny", "cpu-tiny-scratch") if p in results
    }
    zero_shot = base["zero_shot"]["exact_match"]
    if "cpu-tiny" not in final:
        return "\n".join([*lines, "", "Zero-shot only: no finetuning arm was run this time.", ""])
    verdict = "met" if final["cpu-tiny"] >= 0.4 else f"missed by {0.4 - final['cpu-tiny']:.1%}"
    lines += [
        "",
        (
            f"Targets: held-out exact match after the demo's finetuning >= 40%: {final['cpu-tiny']:.1%} ({verdict}); "
            f"finetuned beats the base alone: {final['cpu-tiny']:.1%} vs {zero_shot:.1%} "
            f"({'yes' if final['cpu-tiny'] > zero_shot else 'no'})"
            + (
                f"; finetuned base vs from scratch at the same budget: {final['cpu-tiny']:.1%} vs "
                f"{final['cpu-tiny-scratch']:.1%}."
                if "cpu-tiny-scratch" in final
                else "; the from-scratch arm was not run this time (see the Training section for its figures)."
            )
        ),
        "",
    ]
    return "\n".join(lines)


write_run = partial(results.write_run, SECTION)


def main(argv: list[str] | None = None) -> None:
    from repair.commands.demo import DEMO_TRAIN_DURATION
    from repair.dataset import DEFAULT_WINDOW
    from repair.training.config import default_model_dir
    from repair.training.pretrain import batches_of

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(".data/bench_base"))
    parser.add_argument("--base", type=Path, default=None, help="default: the cpu-tiny preset's shipped base")
    parser.add_argument(
        "--data", type=Path, help="a repair_dataset jsonl folder (else demo-sized synthetic stdlib repairs)"
    )
    parser.add_argument("--train-examples", type=int, default=DEMO_TRAIN_EXAMPLES)
    parser.add_argument(
        "--max-files", type=int, default=200, help="stdlib files mined for the synthetic data"
    )
    parser.add_argument("--test-items", type=int, default=100)
    add_held_out_option(parser)
    parser.add_argument(
        "--batches",
        type=int,
        default=batches_of(DEMO_TRAIN_DURATION),
        help="default: the demo's finetuning budget",
    )
    parser.add_argument("--curve-every", type=int, default=50)
    parser.add_argument(
        "--presets",
        nargs="*",
        default=["cpu-tiny", "cpu-tiny-scratch"],
        help="the arms to finetune (none: zero-shot only)",
    )
    parser.add_argument("--prepare-only", action="store_true", help="build the data and stop")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args(argv if argv is not None else [])
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    load_before = [round(x, 1) for x in os.getloadavg()]
    if args.data:
        (work / "data").mkdir(exist_ok=True)
        if not (work / "data" / "jsonl").exists():
            (work / "data" / "jsonl").symlink_to(args.data.resolve())
        sizes = {
            s: len((args.data / f"{s}.jsonl").read_text().splitlines())
            for s in ("train", "validation", "test")
        }
        source = f"the `repair_dataset` at `{args.data}`"
    else:
        sizes = demo_sized_data(work, args.train_examples, args.test_items, args.max_files)
        source = (
            f"the simulator's mistakes in {args.max_files} sampled standard-library files (the code the simulator "
            f"draws on), verified by ruff, split by module, cut to a demo day's size"
        )
    print("data:", sizes, flush=True)
    if args.prepare_only:
        return
    base_dir = args.base or default_model_dir("cpu-tiny")
    test = [{**row, "rule": "all"} for row in read_held_out(work / "data" / "jsonl", args.held_out, args.test_items)]
    window = DEFAULT_WINDOW
    results = {
        "argv": argv or [],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, 1 torch thread",
        "load_before": load_before,
        "data_source": source,
        "data": sizes,
        "held_out": {"splits": args.held_out, "items": len(test)},
        "base_dir": os.path.relpath(base_dir),  # the repository's path, not this checkout's
        "base": {
            "card": json.loads((base_dir / "card.json").read_text()),
            "zero_shot": score(base_dir, test, window),
        },
    }
    print("base zero-shot:", json.dumps(results["base"]["zero_shot"]), flush=True)
    for preset in args.presets:
        results[preset] = finetune(preset, work, base_dir, args.batches, args.curve_every, test, window)
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    (work / "results.json").write_text(json.dumps(results, indent=1))
    body = markdown(results)
    print(body)
    if not args.no_write:
        write_run(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
