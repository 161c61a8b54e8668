"""Evaluation benchmark: every available model's scores on both benchmarks and the evaluation's
throughput (items per minute), with the naive ways measured side by side in the same run:

- scoring one item at a time (`workers=1`) against the bounded parallel harness (`workers=2`);
- re-linting each repaired file in its own linter run against one batch per model (the
  "diagnostic resolved" metric).

    uv run python -m benchmarks bench_eval                      # writes the Evaluation section
    uv run python -m benchmarks.bench_eval --limit 20 --no-write

Models: `no_change`, `search`, the finetuned model (`--finetuned PATH`, else the store's newest
registry version, else the newest LLM Foundry export under `.data/bench_training/run`), and the
`REPAIR_TEACHER_MODEL` LLM zero- and few-shot when one is configured (none here: no network).
The production-style benchmark is the store's materialized `repair_benchmark` when there is one;
otherwise a stand-in built the same way (held-out split, balanced by rule) from synthetic verified
repairs of standard-library files (`benchmarks.make_synthetic_repairs`), re-diagnosed with the real
linter.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Evaluation"


def _stand_in_repair_items(per_rule: int, seed: int):
    from benchmarks.make_synthetic_repairs import synthetic_repairs
    from evals.function_benchmark import default_linter, new_diagnostic
    from evals.inject import Bug
    from evals.repair_benchmark import select_repair_benchmark
    from repair.dataset import split_of

    rows = synthetic_repairs(per_file=4, max_files=400, seed=seed)
    held_out = {r["diagnostic_id"] for r in rows if split_of(r["repl"]) == "test"}
    rows = [r for r in rows if r["diagnostic_id"] in held_out]
    # Re-diagnose: the diagnostic is the one the real linter reports for the injected error.
    linted = default_linter([{r["file"]: r["fixed_content"]} for r in rows] + [{r["file"]: r["content"]} for r in rows],
                            [r["file"] for r in rows] * 2)
    kept = []
    for row, clean, broken in zip(rows, linted[: len(rows)], linted[len(rows):], strict=True):
        if isinstance(clean, Exception) or isinstance(broken, Exception):
            continue
        bug = Bug(row["repl"], "", "", row["start_line"] + 1, row["content"], "")
        diagnostic = new_diagnostic(bug, clean, broken)
        if diagnostic is not None:
            kept.append({**row, **{k: getattr(diagnostic, k) for k in (
                "source", "code", "severity", "message", "start_line", "start_character", "end_line", "end_character")}})
    items, report = select_repair_benchmark(pl.DataFrame(kept), held_out, max_per_rule=per_rule, seed=seed)
    return items, f"stand-in: {len(items)} held-out synthetic repairs of stdlib files ({len(report.kept_by_rule)} rules)"


def _repair_items(per_rule: int, seed: int):
    from evals.items import items_from_frame
    from repair.object_store import open_store

    store = open_store(os.environ.get("REPAIR_STORE_ROOT", ".data/store"))
    key = "assets/repair_benchmark/all.parquet"
    if store.exists(key):
        frame = pl.read_parquet(io.BytesIO(store.read_bytes(key)))
        if frame.height:
            return items_from_frame(frame), f"materialized repair_benchmark ({store.uri(key)})"
    return _stand_in_repair_items(per_rule, seed)


def _finetuned_spec(explicit: str | None) -> tuple[str | None, str]:
    from repair.object_store import open_store

    if explicit:
        return f"finetuned:{explicit}", f"checkpoint {explicit}"
    store = open_store(os.environ.get("REPAIR_STORE_ROOT", ".data/store"))
    from repair import registry

    versions = registry.versions(store, registry.MODEL, registry.APPROVED)
    if versions:
        return "finetuned", f"registry version v{versions[-1].version}"
    exports = sorted(Path(".data/bench_training/run").glob("**/huggingface/ba*/config.json"),
                     key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
    if exports:
        return f"finetuned:{exports[-1].parent}", f"bench_training export {exports[-1].parent}"
    # No trained model here: an untrained checkpoint of the same shape still measures what
    # in-process evaluation of a model costs (its scores are meaningless).
    from repair.serving.demo import tiny_checkpoint

    tiny = tiny_checkpoint(Path(".data/bench_eval/tiny-untrained"))
    return f"finetuned:{tiny}", ("none trained yet; `finetuned:tiny-untrained` is a 2-layer checkpoint with random "
                                 "weights (throughput only; train one: `uv run python -m benchmarks bench_training`)")


def _sample(items, limit: int, seed: int):
    if len(items) <= limit:
        return list(items)
    return sorted(random.Random(seed).sample(list(items), limit), key=lambda item: item.item_id)


def _naive_vs_batched_relint(items) -> tuple[float, float]:
    """Seconds to lint the reference fixes one linter run per file, and in one batch."""
    from evals.function_benchmark import default_linter

    projects = [{item.file: item.fixed_content} for item in items]
    targets = [item.file for item in items]
    started = time.perf_counter()
    for project, target in zip(projects, targets, strict=True):
        default_linter([project], [target])
    naive = time.perf_counter() - started
    started = time.perf_counter()
    default_linter(projects, targets)
    return naive, time.perf_counter() - started


def write_section(body: str, path: Path = RESULTS) -> None:
    """Replaces the text under `## Evaluation` (up to the next `## `) with `body`."""
    text = path.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following + 1
    path.write_text(text[:start] + "\n\n" + body.strip() + "\n\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    from evals.function_benchmark import build_function_benchmark
    from evals.harness import evaluate, markdown_table, rule_breakdown, summary_table
    from evals.loaders import collect_programs
    from evals.models import Decoding, open_repairers, parse_model_spec

    parser = argparse.ArgumentParser(description="Evaluation benchmark")
    parser.add_argument("--limit", type=int, default=40, help="items per benchmark")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finetuned", default=None, help="a local checkpoint to evaluate")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    # `python -m benchmarks bench_eval` calls main() with the runner's own argv: no options then.
    args = parser.parse_args(argv or [])

    def say(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    collected = collect_programs()
    function_items, report = build_function_benchmark(collected.programs, seed=args.seed, progress=say)
    build_s = time.perf_counter() - started
    kinds = dict(sorted(pl.DataFrame({"kind": [i.group for i in function_items]}).group_by("kind").len().iter_rows()))
    repair_items, repair_source = _repair_items(per_rule=max(4, args.limit // 4), seed=args.seed)
    items = _sample(function_items, args.limit, args.seed) + _sample(repair_items, args.limit, args.seed)
    say(f"function benchmark: {len(function_items)} items in {build_s:.0f} s; repair benchmark: {repair_source}")

    finetuned, finetuned_note = _finetuned_spec(args.finetuned)
    specs = ["no_change", "search"] + ([finetuned] if finetuned else [])
    teacher = os.environ.get("REPAIR_TEACHER_MODEL")
    if teacher:
        specs += [f"dspy:{teacher}", f"dspy-fewshot:{teacher}"]
    decoding = Decoding(max_new_tokens=args.max_new_tokens)
    with open_repairers([parse_model_spec(s) for s in specs], decoding=decoding) as repairers:
        results, throughput = evaluate(repairers, items, workers=2, progress=say)
        search = next(r for r in repairers if r.name == "search")
        function_sample = [i for i in items if i.executable]
        serial_s = time.perf_counter()
        evaluate([search], function_sample, workers=1)
        serial_s = time.perf_counter() - serial_s
        parallel_s = time.perf_counter()
        evaluate([search], function_sample, workers=2)
        parallel_s = time.perf_counter() - parallel_s
    naive_lint_s, batched_lint_s = _naive_vs_batched_relint(items[: min(len(items), 30)])
    summary = summary_table(results)
    by_kind = rule_breakdown(results.filter((pl.col("model") == "search") & (pl.col("benchmark") == "function_repair")))
    search_misses = ", ".join(f"`{g}`" for g in by_kind.filter(pl.col("value") == 0)["group"].to_list())

    throughput_rows = "\n".join(
        f"| {r['model']} | {r['benchmark']} | {r['items']} | {r['seconds']:.1f} | {r['items_per_minute']:.1f} |"
        for r in throughput.iter_rows(named=True)
    )
    dropped = ", ".join(f"{k}: {v}" for k, v in sorted(report.dropped.items()))
    body = f"""
Command: `uv run python -m benchmarks bench_eval` (`--limit {args.limit}` items per benchmark, seed {args.seed}).
Machine: 2-core CPU sandbox shared with six other engineers' jobs, {platform.python_implementation()}
{platform.python_version()}; {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.

Benchmarks. Executable (`function_repair`): {len(function_items)} items built in {build_s:.0f} s from
{len(collected.programs)} programs (12 reserved stdlib modules with their `Lib/test` suites, 34 project
problems) out of {report.candidates} injected candidates (dropped: {dropped}); by kind: {kinds}.
Production-style (`repair`): {repair_source}. Finetuned model: {finetuned_note}. LLM models: {teacher or "none configured (no network here)"}.
Decoding: temperature 0.1, top_p 0.95, top_k 50, pass@1, {args.max_new_tokens} new tokens at most.

Scores (%, 95% Wilson interval, n items):

{markdown_table(summary)}

Evaluation throughput (per model, whole pipeline: propose, apply, tests in the sandbox, re-lint):

| model | benchmark | items | seconds | items/minute |
|---|---|---|---|---|
{throughput_rows}

Side by side, same run:

| what | naive | this harness | ratio |
|---|---|---|---|
| search repairer on {len(function_sample)} executable items | {serial_s:.1f} s one at a time | {parallel_s:.1f} s, 2 workers | {serial_s / parallel_s:.2f}x |
| re-lint {min(len(items), 30)} repaired files | {naive_lint_s:.1f} s, one linter run each | {batched_lint_s:.1f} s, one batch | {naive_lint_s / batched_lint_s:.1f}x |

Reading: `no_change` is the floor (0 by construction: every kept bug breaks its tests and differs
from the reference). Kinds the search repairer never fixed here: {search_misses or "none"}. An
untrained checkpoint's throughput overstates a trained model's: it rarely writes a whole diff before
stopping, and a trained one generates every token of it (up to the `max_new_tokens` cap).
"""
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
