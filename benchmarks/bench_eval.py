"""Evaluation benchmark: every repairer available here x benchmark x mode x bug origin, with 95%
intervals and n, and the evaluation's throughput; writes the `## Evaluation` section of RESULTS.md.

    uv run repair demo --no-serve                               # a store with a trained model
    uv run python -m benchmarks.bench_eval --store .data/store  # writes the Evaluation section
    uv run python -m benchmarks.bench_eval --limit 20 --no-write

Repairers: `no_change` (the floor), `search` (its candidates, cheapest first), a peer tool measured
side by side as an external fixer (`command:ruff check --fix ... {file}`), the finetuned model when
one is trained here (`--finetuned PATH`, else the `--store`'s serving registry version, else its
newest approved one, else the newest `bench_training` export; an untrained checkpoint's scores are
noise, so none is evaluated then),
and the `REPAIR_TEACHER_MODEL` LLM zero- and few-shot when one is configured (none here: no
network). Each in both modes with the same budget: `pass@1` and `verified@k`.

Benchmarks:
- executable (`function_repair`): bugs our injector put into this project's problems (`injected`,
  a seeded sample of `--limit`), every hand-written bug (`handwritten`), and DebugBench /
  HumanEvalPack files given with `--function-source` (`external`); `--stdlib` adds the reserved
  stdlib modules (ten minutes more to build here);
- production-style (`repair`): the `--store`'s materialized `repair_benchmark` (a demo's: held out
  from the dataset its model was trained on, references from the simulator's truth or two agreeing
  sources); without one, the simulated day `bench_masking` leaves in `.data/bench_masking/store`
  with the simulator's recorded fixes as references (`ground_truth`): the dataset's held-out
  diagnostics, or every diagnostic of the day with such a reference when the held-out split is
  too small to say anything (no model trained on that day is evaluated here, so nothing leaks);
  without that store, a stand-in of synthetic repairs of stdlib files whose reference is the
  original file (`benchmarks.make_synthetic_repairs`).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import re
import shutil
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Evaluation"
SIMULATED_STORE = Path(".data/bench_masking/store")
MIN_HELD_OUT = 20
PEER_NAME = "command:ruff --fix"


def _simulated_day_items(per_rule: int, seed: int):
    """Items from the simulated day's verified repairs, references from its ground truth."""
    from evals.repair_benchmark import held_out_diagnostics, select_repair_benchmark
    from repair.ground_truth import TruthIndex, read_all_mistakes
    from repair.object_store import LocalObjectStore

    store = LocalObjectStore(SIMULATED_STORE)
    verified_keys = [k for k in store.list("assets/verified_repairs/") if k.endswith(".parquet")]
    dataset_key = "assets/repair_dataset/all.parquet"
    if not verified_keys or not store.exists(dataset_key):
        return None
    verified = pl.concat(
        [pl.read_parquet(io.BytesIO(store.read_bytes(k))) for k in verified_keys], how="diagonal"
    )
    truth = TruthIndex(read_all_mistakes(store))
    held_out = held_out_diagnostics(pl.read_parquet(io.BytesIO(store.read_bytes(dataset_key))))
    items, report = select_repair_benchmark(verified, held_out, truth=truth, max_per_rule=per_rule, seed=seed)
    scope = "the dataset's held-out diagnostics"
    if len(items) < MIN_HELD_OUT:
        every = set(verified["diagnostic_id"].to_list())
        items, report = select_repair_benchmark(
            verified, every, truth=truth, max_per_rule=per_rule, seed=seed
        )
        scope = (
            f"every diagnostic of the day (the held-out split gave {len(held_out)} diagnostics, too few; no "
            f"model trained on this day is evaluated here)"
        )
    return items, (
        f"the simulated day in `{SIMULATED_STORE}` (`bench_masking`): {len(items)} items from {scope}; "
        f"references {dict(report.by_reference_source)}; dropped {dict(report.dropped)}"
    )


def _stand_in_repair_items(per_rule: int, seed: int):
    import dataclasses

    from benchmarks.make_synthetic_repairs import synthetic_repairs
    from evals.function_benchmark import default_linter, new_diagnostic
    from evals.inject import Bug
    from evals.repair_benchmark import select_repair_benchmark
    from repair.dataset import split_of

    rows = [
        r for r in synthetic_repairs(per_file=4, max_files=400, seed=seed) if split_of(r["repl"]) == "test"
    ]
    linted = default_linter(
        [{r["file"]: r["fixed_content"]} for r in rows] + [{r["file"]: r["content"]} for r in rows],
        [r["file"] for r in rows] * 2,
    )
    kept = []
    for row, clean, broken in zip(rows, linted[: len(rows)], linted[len(rows) :], strict=True):
        if isinstance(clean, Exception) or isinstance(broken, Exception):
            continue
        diagnostic = new_diagnostic(
            Bug(row["repl"], "", "", row["start_line"] + 1, row["content"], ""), clean, broken
        )
        if diagnostic is not None:
            # The original file is the true fix; the user's fix and itself stand in for two agreeing sources.
            state = {
                **row,
                **{
                    k: getattr(diagnostic, k)
                    for k in (
                        "source",
                        "code",
                        "severity",
                        "message",
                        "start_line",
                        "start_character",
                        "end_line",
                        "end_character",
                    )
                },
                "verdict": "accepted",
                "teacher": "user_fix",
            }
            kept += [state, {**state, "teacher": "synthesizer", "verdict": "duplicate"}]
    items, _ = select_repair_benchmark(
        pl.DataFrame(kept), {r["diagnostic_id"] for r in kept}, max_per_rule=per_rule, seed=seed
    )
    items = [
        dataclasses.replace(
            i, reference_source="ground_truth", reference_by=("synthesizer",), bug_origin="injected"
        )
        for i in items
    ]
    return items, f"stand-in: {len(items)} synthetic repairs of stdlib files, the original file as reference"


def _store_repair_items(store, label: str):
    """The store's materialized `repair_benchmark` (the demo's: held out from the dataset its model
    was trained on, checked by `held_out_from_training`), or None."""
    from evals.items import items_from_frame

    key = "assets/repair_benchmark/all.parquet"
    if not store.exists(key):
        return None
    items = items_from_frame(pl.read_parquet(io.BytesIO(store.read_bytes(key))))
    sources = dict(sorted(pl.DataFrame({"s": [i.reference_source for i in items]}).group_by("s").len().iter_rows()))
    return items, (
        f"the materialized `repair_benchmark` of the store `{label}`: {len(items)} items held out from the "
        f"dataset its model was trained on (checked by `held_out_from_training`), references {sources}"
    )


def _finetuned_spec(explicit: str | None, store) -> tuple[str | None, str]:
    from repair import registry

    if explicit:
        return f"finetuned:{explicit}", f"checkpoint {explicit}"
    serving = registry.serving_version(store)
    approved = [r for r in registry.versions(store, registry.MODEL, registry.APPROVED) if r.details.get("stage") != "dpo"]
    if serving is not None or approved:
        version = serving if serving is not None else approved[-1].version
        record = registry.get(store, registry.MODEL, version)
        return f"finetuned:v{version}", (
            f"`finetuned:v{version}`, registry version v{version} of the store ({'the serving version' if serving is not None else 'the newest approved'}; "
            f"preset {record.details.get('preset')}, dataset v{record.parents.get(registry.DATASET)})"
        )
    exports = sorted(
        Path(".data/bench_training/run").glob("**/huggingface/ba*/config.json"),
        key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
    )
    if exports:
        return f"finetuned:{exports[-1].parent}", f"bench_training export {exports[-1].parent}"
    return None, "none trained in this checkout (an untrained checkpoint's scores are noise; not evaluated)"


def _sample(items, limit: int, seed: int):
    if len(items) <= limit:
        return list(items)
    return sorted(random.Random(seed).sample(list(items), limit), key=lambda item: item.item_id)


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def origin_table(results: pl.DataFrame) -> str:
    """repairer x benchmark x mode x bug origin x reference source: the main metric and `resolved`,
    95% CI and n."""
    from evals.harness import MAIN_METRIC, MODES, check_independent, share

    check_independent(results)
    lines = [
        "| repairer | benchmark | mode | bug origin | reference source | n | main metric [95% CI] | diagnostic resolved [95% CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = results.select("model", "benchmark", "bug_origin", "reference_source").unique(maintain_order=True).iter_rows()
    for model, benchmark, origin, reference in keys:
        for mode in MODES:
            frame = results.filter(
                (pl.col("model") == model)
                & (pl.col("benchmark") == benchmark)
                & (pl.col("bug_origin") == origin)
                & (pl.col("reference_source") == reference)
                & (pl.col("mode") == mode)
            )
            main, resolved = share(frame, MAIN_METRIC[benchmark]), share(frame, "resolved")
            lines.append(
                f"| {model} | {benchmark} ({MAIN_METRIC[benchmark]}) | {mode} | {origin} | {reference} | {main['n']} | "
                f"{_percent(main['value'])} [{_percent(main['ci_low'])}, {_percent(main['ci_high'])}] | "
                f"{_percent(resolved['value'])} [{_percent(resolved['ci_low'])}, {_percent(resolved['ci_high'])}] |"
            )
    return "\n".join(lines)


write_section = partial(results.write_section, SECTION)


def main(argv: list[str] | None = None) -> None:
    from evals.function_benchmark import build_function_benchmark
    from evals.harness import (
        breakdown,
        breakdown_markdown,
        evaluate,
        markdown_table,
        summary_table,
        trivial_items,
    )
    from evals.inject import KINDS
    from evals.loaders import collect_programs
    from evals.models import Decoding, open_repairers, parse_model_spec

    parser = argparse.ArgumentParser(description="Evaluation benchmark")
    parser.add_argument("--limit", type=int, default=40, help="injected items and production-style items")
    parser.add_argument("--k", type=int, default=5, help="proposals per item in verified@k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stdlib", action="store_true", help="also the reserved stdlib modules (slow to build)"
    )
    parser.add_argument(
        "--function-source", action="append", default=[], help="DebugBench / HumanEvalPack file"
    )
    parser.add_argument("--finetuned", default=None, help="a local checkpoint to evaluate (default: the store's serving, else newest approved, version)")
    parser.add_argument(
        "--store", default=os.environ.get("REPAIR_STORE_ROOT", ".data/store"),
        help="object store with the trained model and its materialized repair_benchmark (a `repair demo` store)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=192, help="as model_evaluation's default")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="as the served Triton config and model_evaluation decode (0: an edit model's ranked headers; 0.1: the case study's sampling)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    # `python -m benchmarks bench_eval` calls main() with the runner's own argv: no options then.
    args = parser.parse_args(argv or [])

    def say(message: str) -> None:
        print(message, flush=True)

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    collected = collect_programs(stdlib=args.stdlib, files=args.function_source)
    function_items, report = build_function_benchmark(
        collected.programs,
        loaded_bugs=collected.bugs,
        kinds=KINDS,
        functions_per_program=1,
        tries_per_kind=1,
        seed=args.seed,
        progress=say,
    )
    build_s = time.perf_counter() - started
    injected = [i for i in function_items if i.bug_origin == "injected"]
    others = [i for i in function_items if i.bug_origin != "injected"]
    by_origin_built = dict(
        sorted(pl.DataFrame({"o": [i.bug_origin for i in function_items]}).group_by("o").len().iter_rows())
    )
    from repair.object_store import open_store

    store = open_store(args.store)
    found = _store_repair_items(store, args.store) or _simulated_day_items(max(4, args.limit // 4), args.seed)
    repair_items, repair_source = (
        found if found else _stand_in_repair_items(max(4, args.limit // 4), args.seed)
    )
    items = _sample(injected, args.limit, args.seed) + others + _sample(repair_items, args.limit, args.seed)
    say(
        f"function benchmark: {len(function_items)} items in {build_s:.0f} s {by_origin_built}; repair: {repair_source}"
    )

    finetuned, finetuned_note = _finetuned_spec(args.finetuned, store)
    ruff = shutil.which("ruff") or str(Path(".venv/bin/ruff").resolve())
    peer = f"command:{ruff} check --fix --unsafe-fixes --quiet {{file}} || true"
    specs = ["no_change", "search", peer] + ([finetuned] if finetuned else [])
    teacher = os.environ.get("REPAIR_TEACHER_MODEL")
    if teacher:
        specs += [f"dspy:{teacher}", f"dspy-fewshot:{teacher}"]
    eval_started = time.perf_counter()
    with open_repairers(
        [parse_model_spec(s) for s in specs], store=store, decoding=Decoding(temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    ) as repairers:
        for repairer in repairers:
            if repairer.name == peer:
                repairer.name = PEER_NAME  # the tables' name for it; the command is in the text
        results, throughput = evaluate(repairers, items, k=args.k, workers=2, progress=say)
    eval_s = time.perf_counter() - eval_started
    summary = summary_table(results)
    by_reference = breakdown(results, "reference_source")
    throughput_rows = "\n".join(
        f"| {r['model']} | {r['benchmark']} | {r['items']} | "
        f"{r['excluded']} | {r['proposals']} | {r['seconds']:.1f} | {r['items_per_minute']:.1f} |"
        for r in throughput.iter_rows(named=True)
    )
    body = f"""
Command: `uv run python -m benchmarks.bench_eval --store {args.store}` (`--limit {args.limit}`, `--k {args.k}`, seed {args.seed}, `--max-new-tokens {args.max_new_tokens}`, `--temperature {args.temperature}`).
Machine: {os.cpu_count()}-core CPU, {load_words(load_before)}, {platform.python_implementation()} {platform.python_version()};
{datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}; {build_s / 60:.1f} min to build, {eval_s / 60:.1f} min to evaluate.

Benchmarks. Executable (`function_repair`, main metric: the tests pass, counted outside the candidate):
{len(function_items)} items built from {len(collected.programs)} programs ({"stdlib modules and " if args.stdlib else ""}the
project's problems{", " + ", ".join(args.function_source) if args.function_source else ""}), by bug origin {by_origin_built}
(candidates dropped: {dict(report.dropped)}); evaluated: a
seeded sample of {min(len(injected), args.limit)} injected items and every other one. External bug files: {", ".join(args.function_source) or "none configured (DebugBench / HumanEvalPack are not stored here: `--function-source FILE`)"}.
Production-style (`repair`, main metric: AST match with string fallback): {repair_source}.
Repairers: `no_change`; `search` (its {args.k} cheapest candidates); ruff as a peer tool, `{PEER_NAME}`
(`ruff check --fix --unsafe-fixes --quiet {{file}} || true`, an external fixer rewriting the file); finetuned: {finetuned_note}; LLMs:
{teacher or "none configured (no network here)"}. Modes: `pass@1` = the first proposal, unverified; `verified@k` = the
first of up to k={args.k} proposals the verifier accepts (the same verifier and budget for every repairer).

By repairer, benchmark, mode, bug origin and reference source (%, 95% Wilson interval, n items):

{origin_table(results)}

Every metric (rows: repairer and mode):

{markdown_table(summary)}

By reference source (main metric):

{breakdown_markdown(by_reference, "reference_source", "reference source")}

Items not scored on a reference metric because the broken file already matches the reference: {trivial_items(items)}.

Throughput (whole pipeline per repairer: proposals, verification re-lint, tests in the sandbox):

| repairer | benchmark | items | left out (wrote the reference) | proposals | seconds | items/minute |
|---|---|---|---|---|---|---|
{throughput_rows}

Reading: `no_change` is 0 everywhere by construction. `search` under `verified@k` is the teacher as
it runs in synthesis; under `pass@1` it is its cheapest guess, the like-for-like comparison with a
model's single sample. `verified@k` can score below `pass@1` on the tests: the verifier (re-lint)
rejects a first proposal that passes the tests but leaves another error in the file, and a later
candidate it accepts can still fail them. Ruff's fixes do not cover these categories (it fixes
unused imports and the like), so it scores 0: the peer tool measured like any repairer.
"""
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
