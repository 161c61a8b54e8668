"""Training benchmark: the `cpu-tiny` preset on synthetic repairs of standard-library files
(`benchmarks/make_synthetic_repairs.py`), then its exact-match fix rate on the held-out test split.

    uv run python -m benchmarks bench_training                # the demo budget
    uv run python -m benchmarks.bench_training --epochs 1     # a quick look
    uv run python -m benchmarks.bench_training --epochs 1100ba --per-file 48 \
        --set variables.scratch_model.vocab_size=1024 --set optimizer.lr=0.005   # a variant

Prints the dataset counts, the training wall time, tokens/s, the loss curve's ends and the
exact-match rate (greedy decoding, and the case study's temperature 0.1 sampling), and writes them
to `<work>/results.json`.

    uv run python -m benchmarks.bench_training --processes 1,2      # 1 vs 2 training processes

launches the same tiny run through `repair.training.launch` (`composer -n N`, gloo on CPU) once per
process count, with the same global batch, and writes the loss curves and tokens/s side by side
to its section of `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.results import load_words


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
    work: Path,
    epochs: str,
    window: int,
    per_file: int,
    test_items: int,
    overrides: dict,
    extra_roots: tuple = (),
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
    export_dir: Path,
    window: int,
    per_file: int,
    test_items: int,
    extra_roots: tuple = (),
    test_jsonl: Path | None = None,
) -> dict:
    """Scores an existing export (e.g. a mid-run epoch checkpoint) on the same test split, or on the
    examples of `test_jsonl` (another run's `data/jsonl/test.jsonl`: models trained on different data,
    scored on the same items)."""
    from repair.model import RepairModel
    from repair.training.heldout import exact_match

    if test_jsonl is not None:
        test = [{**json.loads(line), "rule": "all"} for line in test_jsonl.read_text().splitlines()][
            :test_items
        ]
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


PROCESSES_SECTION = "## Training: 1 vs 2 processes"
# The tiny run the process comparison launches (cpu-tiny-scratch's recipe, a smaller model).
PROCESSES_DIMS = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}


def compare_processes(
    work: Path, counts: list[int], batches: int, per_file: int, global_batch: int, max_files: int
) -> dict:
    """One launch per process count on the same data, model and global batch; loss per batch."""
    import platform
    from datetime import UTC, datetime

    from benchmarks.make_synthetic_repairs import synthetic_repairs
    from repair.dataset import build_dataset, write_finetuning_files
    from repair.training.config import TrainingSettings
    from repair.training.launch import launch
    from repair.training.scratch import init_scratch_model, train_tokenizer

    load_before = [round(x, 1) for x in os.getloadavg()]
    built = build_dataset(synthetic_repairs(per_file=per_file, max_files=max_files), benchmark_sources())
    write_finetuning_files(built.examples, work / "data")
    train = [e for e in built.examples if e["split"] == "train"]
    train_tokenizer((e["prompt"] + e["response"] for e in train), work / "tokenizer", 1024)
    init_scratch_model(work / "scratch", work / "tokenizer", **PROCESSES_DIMS, max_seq_len=320)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, 1 torch thread per process",
        "load_before": load_before, "train_examples": len(train), "batches": batches,
        "global_batch": global_batch, "model": PROCESSES_DIMS, "runs": {},
    }  # fmt: skip
    for count in counts:
        settings = TrainingSettings(
            preset="cpu-tiny-scratch", data_dir=str(work / "data" / "jsonl"), model_dir=str(work / "scratch"),
            run_dir=str(work / f"run-{count}"), max_duration=f"{batches}ba", global_batch_size=global_batch,
            microbatch_size=global_batch // max(counts),
            overrides={"scheduler.t_warmup": "5ba", "eval_interval": f"{batches}ba", "save_interval": f"{batches}ba",
                       "callbacks.hf_checkpointer.save_interval": f"{batches}ba",
                       "callbacks.repair_progress.log_every": 1},
        )  # fmt: skip
        start = time.perf_counter()
        run = launch(settings, processes=count).run
        results["runs"][count] = {
            "launch_wall_s": round(time.perf_counter() - start, 1),
            "train_wall_s": round(run.wall_s, 1),
            "tokens_per_s": run.tokens_per_s,
            "losses": run.losses,
        }
        print(f"{count} processes:", json.dumps(results["runs"][count]), flush=True)
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    curves = [[loss for _, loss in r["losses"]] for r in results["runs"].values()]
    results["max_abs_loss_diff"] = round(
        max(abs(a - b) for a, b in zip(curves[0], curves[-1], strict=True)), 5
    )
    (work / "results.json").write_text(json.dumps(results, indent=1))
    return results


def processes_markdown(results: dict) -> str:
    runs = results["runs"]
    counts = list(runs)
    lines = [
        (
            f"Measured {results['date']} by `uv run python -m benchmarks.bench_training --processes "
            f"{','.join(map(str, counts))}` on {results['machine']}, {load_words(results['load_before'][0], results['load_after'][0])}"
            ". Wall times and tokens/s follow the load; what the run shows for certain is the launch: the same command "
            "(`composer -n N -m repair.training.worker`), the same global batch "
            f"({results['global_batch']} examples, divided across ranks by LLM Foundry), ranks talking over gloo, "
            f"and the same loss curve. Data: {results['train_examples']} training examples of "
            "`make_synthetic_repairs`; model: cpu-tiny-scratch's recipe at "
            f"{results['model']['hidden_size']} wide, {results['model']['num_layers']} layers; "
            f"{results['batches']} batches; loss is the global batch's (reduced over ranks)."
        ),
        "",
        "| processes | tokens/s (last batch, all ranks) | training wall s | launch wall s (imports included) | first loss | final loss |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for count, run in runs.items():
        lines.append(
            f"| {count} | {run['tokens_per_s']} | {run['train_wall_s']} | {run['launch_wall_s']} | "
            f"{run['losses'][0][1]} | {run['losses'][-1][1]} |"
        )
    lines += ["", "Loss curves (loss per batch):", "", "| batch | " + " | ".join(f"{c} proc." for c in counts) + " |",
              "| --- | " + " | ".join("---" for _ in counts) + " |"]  # fmt: skip
    for index, (batch, _) in enumerate(runs[counts[0]]["losses"]):
        lines.append(f"| {batch} | " + " | ".join(str(runs[c]["losses"][index][1]) for c in counts) + " |")
    lines += ["", f"Largest difference between the curves: {results['max_abs_loss_diff']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(".data/bench_training"))
    parser.add_argument("--epochs", default="4ep")
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--per-file", type=int, default=16)
    parser.add_argument("--test-items", type=int, default=300)
    parser.add_argument("--evaluate", type=Path, help="only score this Hugging Face export")
    parser.add_argument(
        "--processes", help="e.g. 1,2: compare training launches on this many processes (and write RESULTS)"
    )
    parser.add_argument("--batches", type=int, default=30, help="with --processes: batches per launch")
    parser.add_argument("--global-batch", type=int, default=16, help="with --processes: examples per step")
    parser.add_argument(
        "--max-files", type=int, default=60, help="with --processes: standard-library files used"
    )
    parser.add_argument("--no-write", action="store_true", help="with --processes: do not touch RESULTS.md")
    parser.add_argument("--test-jsonl", type=Path, help="with --evaluate: score on these examples instead")
    parser.add_argument(
        "--extra-root",
        type=Path,
        action="append",
        default=[],
        help="a package folder whose files add synthetic repairs (e.g. an installed package)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted key of the cpu-tiny preset (YAML value), e.g. variables.scratch_model.hidden_size=192",
    )
    args = parser.parse_args(argv if argv is not None else [])
    if args.processes:
        counts = [int(c) for c in args.processes.split(",")]
        results = compare_processes(
            args.work / "processes", counts, args.batches, args.per_file, args.global_batch, args.max_files
        )
        body = processes_markdown(results)
        print(body)
        if not args.no_write:
            from benchmarks.results import write_section

            write_section(PROCESSES_SECTION, body)
        return
    if args.evaluate:
        evaluate(
            args.evaluate,
            args.window,
            args.per_file,
            args.test_items,
            tuple(args.extra_root),
            args.test_jsonl,
        )
        return
    import yaml

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    run(
        args.work, args.epochs, args.window, args.per_file, args.test_items, overrides, tuple(args.extra_root)
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
