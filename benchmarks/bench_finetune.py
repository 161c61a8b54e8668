"""Finetuning's learning rate: the shipped base finetuned on a day's dataset at each learning rate (the
demo's budget), side by side with the base alone, each scored with the served decoding on what the
finetune is for and on what it must not lose:

- the day: the dataset's held-out split (`--held-out test,validation` adds its validation split),
  exact match (pass@1);
- the base's own skill: held-out repairs of a corpus mined as `repair pretrain` mines the base's (a
  fresh seed; the split keeps each project where the base's corpora had it, so these projects were
  never trained on), exact match (pass@1);
- the executable benchmark: `function_repair`'s injected bugs (a seeded sample of `--limit`, as
  `bench_eval`) and every handwritten one, tests pass (pass@1).

    uv run python -m benchmarks bench_finetune        # the store's newest dataset; mines the corpus once (~4 min)
    uv run python -m benchmarks.bench_finetune --data DIR/jsonl --corpus WORK --lrs 3e-4,1e-4,5e-5
    uv run python -m benchmarks.bench_finetune --base OTHER_BASE --lrs 5e-5   # another base, same day

Writes the `## Finetuning learning rate` section of benchmarks/RESULTS.md, above the runs before it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Finetuning learning rate"
# Seven earlier runs: the shipped base and the other bases tried beside it stay readable together.
write_run = partial(results.write_run, SECTION, kept=7)
# The corpus of the base's kind: a seed none of the base's corpora used, 4 files per package.
CORPUS_SEED, CORPUS_FILES_PER_PACKAGE = 11, 4


def base_corpus(work: Path) -> list[dict]:
    """The held-out examples (test and validation splits) of a corpus mined in `work` (kept there)."""
    from repair.training.pretrain import CorpusSettings, build_corpus

    if not (work / "corpus.json").is_file():
        build_corpus(work, CorpusSettings(max_files_per_package=CORPUS_FILES_PER_PACKAGE, seed=CORPUS_SEED, max_file_bytes=40_000))
    return [
        json.loads(line)
        for split in ("test", "validation")
        for line in (work / "data" / "jsonl" / f"{split}.jsonl").read_text().splitlines()
        if line.strip()
    ]


def finetune(base: Path, data: Path, run_dir: Path, duration: str, lr: float) -> Path:
    """The `cpu-tiny` preset (the demo's finetune) at `lr`; its final export."""
    from repair.model import names_of, read_prompt_window, response_format_of, write_prompt_settings
    from repair.training.config import TrainingSettings, render_config, run_training

    settings = TrainingSettings(
        preset="cpu-tiny",
        data_dir=str(data),
        model_dir=str(base),
        run_dir=str(run_dir),
        max_duration=duration,
        overrides={"optimizer.lr": lr, "eval_interval": duration},
    )
    cfg = render_config(settings)
    run = run_training(cfg)
    write_prompt_settings(run.export_dir, read_prompt_window(base), response_format_of(cfg), names_of(cfg))
    return Path(run.export_dir)


def scores(model_dir: Path, day: list[dict], corpus: list[dict], injected, handwritten) -> dict:
    from benchmarks.bench_decoding import function_repair, held_out
    from benchmarks.bench_serving import served_model

    model = served_model(model_dir, None)
    return {
        "day": held_out(model, day)["exact"],
        "corpus": held_out(model, corpus)["exact"],
        "injected": function_repair(model, injected, "model")["passed"],
        "handwritten": function_repair(model, handwritten, "model")["passed"],
    }


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it, else absolute."""
    resolved = path.resolve()
    return os.path.relpath(resolved) if resolved.is_relative_to(Path.cwd()) else str(resolved)


def main(argv: list[str] | None = None) -> None:
    from benchmarks.bench_decoding import add_held_out_option, function_items, newest_dataset, read_held_out
    from repair.commands.demo import DEMO_TRAIN_DURATION
    from repair.training.config import default_model_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=os.environ.get("REPAIR_STORE_ROOT", ".data/store"))
    parser.add_argument("--data", type=Path, help="a repair_dataset jsonl folder (default: the store's newest)")
    parser.add_argument("--corpus", type=Path, default=Path(".data/bench_finetune/corpus"), help="mined here once")
    parser.add_argument("--work", type=Path, default=Path(".data/bench_finetune"))
    parser.add_argument("--base", type=Path, help="the base to finetune (default: the cpu-tiny preset's, models/base-cpu)")
    parser.add_argument("--lrs", default="3e-4,1e-4,5e-5")
    parser.add_argument("--duration", default=DEMO_TRAIN_DURATION, help="default: the demo's finetuning budget")
    parser.add_argument("--limit", type=int, default=40, help="injected function_repair items")
    add_held_out_option(parser)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv or [])

    if args.base and not (args.base / "config.json").is_file():
        parser.error(f"--base {args.base}: no model there (no config.json)")
    data = args.data or newest_dataset(args.store)
    if data is None:
        print(f"no dataset in {args.store} and no --data: nothing to finetune on (run `repair demo`)")
        return
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    day = read_held_out(data, args.held_out)
    corpus = base_corpus(args.corpus.resolve())
    injected, handwritten = function_items(args.limit)
    base = args.base or default_model_dir("cpu-tiny")
    rows = [("base alone, zero-shot", scores(base, day, corpus, injected, handwritten))]
    print(json.dumps(rows[-1]), flush=True)
    for lr in (float(x) for x in args.lrs.split(",")):
        export = finetune(base, data, args.work.resolve() / f"lr{lr:g}", args.duration, lr)
        rows.append((f"finetuned {args.duration}, lr {lr:g}", scores(export, day, corpus, injected, handwritten)))
        print(json.dumps(rows[-1]), flush=True)

    def cell(passed: int, n: int) -> str:
        return f"{passed}/{n} ({100 * passed / n:.1f}%)"

    sizes = {"day": len(day), "corpus": len(corpus), "injected": len(injected), "handwritten": len(handwritten)}
    body = "\n".join([
        SECTION,
        "",
        f"Command: `uv run python -m benchmarks.bench_finetune {' '.join(argv or [])}`  ",
        (f"Machine: {os.cpu_count()}-core CPU, {load_words(load_before)}, "
         f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {(time.perf_counter() - started) / 60:.0f} min  "),
        (f"Base: `{shown_path(base)}`. Day: `{data}` (the `cpu-tiny` preset's finetune, {args.duration}). Corpus: held-out "
         f"splits of `{args.corpus}` (mined as the base's corpora are, seed {CORPUS_SEED})."),
        "",
        f"| model | day {'+'.join(args.held_out)} exact (pass@1) | base's corpus held-out exact (pass@1) | function_repair injected tests pass (pass@1) | function_repair handwritten tests pass (pass@1) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {name} | " + " | ".join(cell(r[k], sizes[k]) for k in sizes) + " |" for name, r in rows),
        "",
        ("- Every answer is the served one (the Triton config's decoding: ranked headers, the first candidate that "
         "passes the quick check, else `no_fix`). What the finetune learns shows in the first column; what it "
         "forgets of the base, in the others."),
        "",
    ])
    print(body)
    if not args.no_write:
        write_run(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
