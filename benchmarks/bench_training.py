"""Training benchmark: the `cpu-tiny` preset on synthetic repairs of standard-library files
(`benchmarks/make_synthetic_repairs.py`), then its exact-match fix rate on the held-out test split.

    uv run python -m benchmarks bench_training                # the demo budget
    uv run python -m benchmarks.bench_training --epochs 1     # a quick look
    uv run python -m benchmarks.bench_training --epochs 1100ba --per-file 48 \
        --set variables.scratch_model.vocab_size=1024 --set optimizer.lr=0.005   # a variant

Prints the dataset counts, the training wall time, tokens/s, the loss curve's ends and the
exact-match rate (greedy decoding, and the case study's temperature 0.1 sampling), and writes them
to `<work>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def benchmark_sources() -> list[str]:
    """The evaluation stage's benchmark sources when it is present (kept out of training)."""
    try:
        from evals.sources import stdlib_programs
    except ImportError:
        return []
    return [program.code for program in stdlib_programs()]


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the data-loader worker): on a shared
    machine the honest measure of the training budget, where wall time depends on the neighbours."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(
    work: Path, epochs: str, window: int, per_file: int, test_items: int, overrides: dict, extra_roots: tuple = ()
) -> dict:
    from omegaconf import OmegaConf

    from benchmarks.make_synthetic_repairs import synthetic_repairs
    from repair.dataset import build_dataset, write_finetuning_files
    from repair.model import RepairModel, write_prompt_settings
    from repair.training.config import TrainingSettings, render_config, run_training
    from repair.training.heldout import exact_match
    from repair.training.scratch import init_scratch_model, train_tokenizer

    work.mkdir(parents=True, exist_ok=True)
    repairs = synthetic_repairs(per_file=per_file, extra_roots=extra_roots)
    built = build_dataset(repairs, benchmark_sources(), window=window)
    print("dataset:", json.dumps(built.counts), flush=True)
    write_finetuning_files(built.examples, work / "data")
    train = [e for e in built.examples if e["split"] == "train"]
    test = [e for e in built.examples if e["split"] == "test"][:test_items]

    settings = TrainingSettings(
        preset="cpu-tiny",
        data_dir=str(work / "data" / "jsonl"),
        model_dir=str(work / "scratch"),
        run_dir=str(work / "run"),
        max_duration=epochs,
        overrides=overrides,
    )
    config = render_config(settings)
    dims = OmegaConf.to_container(config.variables.scratch_model)
    vocab_size = dims.pop("vocab_size")
    train_tokenizer((e["prompt"] + e["response"] for e in train), work / "tokenizer", vocab_size)
    init_scratch_model(work / "scratch", work / "tokenizer", **dims)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    trained = run_training(config)
    train_s, train_cpu_s = time.perf_counter() - start, _cpu_seconds() - cpu_start
    summary = trained.summary()
    print("training:", json.dumps(summary), flush=True)

    results = {
        "dataset": built.counts,
        "model": {**dims, "vocab_size": vocab_size, "window": window},
        "epochs": epochs,
        "extra_roots": [str(root) for root in extra_roots],
        "overrides": overrides,
        "train_wall_s": round(train_s, 1),
        "train_cpu_s": round(train_cpu_s, 1),
        "training": summary,
    }
    for label, temperature in (("greedy", 0.0), ("t0.1", 0.1)):
        write_prompt_settings(trained.export_dir, window)
        model = RepairModel(trained.export_dir, temperature=temperature)
        start = time.perf_counter()
        results[f"test_{label}"] = {
            **exact_match(model.generate, test),
            "wall_s": round(time.perf_counter() - start, 1),
        }
        print(f"test ({label}):", json.dumps(results[f"test_{label}"]), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    return results


def evaluate(
    export_dir: Path, window: int, per_file: int, test_items: int, extra_roots: tuple = (), test_jsonl: Path | None = None
) -> dict:
    """Scores an existing export (e.g. a mid-run epoch checkpoint) on the same test split, or on the
    examples of `test_jsonl` (another run's `data/jsonl/test.jsonl`: models trained on different data,
    scored on the same items)."""
    from repair.model import RepairModel
    from repair.training.heldout import exact_match

    if test_jsonl is not None:
        test = [{**json.loads(line), "rule": "all"} for line in test_jsonl.read_text().splitlines()][:test_items]
    else:
        from benchmarks.make_synthetic_repairs import synthetic_repairs
        from repair.dataset import build_dataset

        repairs = synthetic_repairs(per_file=per_file, extra_roots=extra_roots)
        built = build_dataset(repairs, benchmark_sources(), window=window)
        test = [e for e in built.examples if e["split"] == "test"][:test_items]
    results = {}
    for label, temperature in (("greedy", 0.0), ("t0.1", 0.1)):
        model = RepairModel(export_dir, temperature=temperature, window=window)
        start = time.perf_counter()
        results[f"test_{label}"] = {
            **exact_match(model.generate, test),
            "wall_s": round(time.perf_counter() - start, 1),
        }
        print(f"test ({label}):", json.dumps(results[f"test_{label}"]), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(".data/bench_training"))
    parser.add_argument("--epochs", default="4ep")
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--per-file", type=int, default=16)
    parser.add_argument("--test-items", type=int, default=300)
    parser.add_argument("--evaluate", type=Path, help="only score this Hugging Face export")
    parser.add_argument("--test-jsonl", type=Path, help="with --evaluate: score on these examples instead")
    parser.add_argument(
        "--extra-root", type=Path, action="append", default=[],
        help="a package folder whose files add synthetic repairs (e.g. an installed package)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a dotted key of the cpu-tiny preset (YAML value), e.g. variables.scratch_model.hidden_size=192",
    )
    args = parser.parse_args(argv if argv is not None else [])
    if args.evaluate:
        evaluate(args.evaluate, args.window, args.per_file, args.test_items, tuple(args.extra_root), args.test_jsonl)
        return
    import yaml

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    run(args.work, args.epochs, args.window, args.per_file, args.test_items, overrides, tuple(args.extra_root))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
