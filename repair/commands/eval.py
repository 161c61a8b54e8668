"""`repair eval`: the evaluation stage from the command line, the same code the `model_evaluation`
asset runs: build (or load) the benchmarks, evaluate repairers on them, write the table, plots and
markdown report into `--out`.

    repair eval --model search --model no_change --limit 40
    repair eval --model finetuned:/path/to/checkpoint --function-source debugbench.json --no-stdlib
    repair eval --model finetuned:v3 --model finetuned:v2 --gate finetuned:v3 finetuned:v2
    repair eval --model 'command:ruff check --fix --quiet {file}' --model search --json

Every repairer is scored in both modes (`pass@1`, `verified@k` with `--k` proposals). `--json`
prints one JSON object on stdout instead of the report: `{"results": [{"model", "benchmark",
"mode", "metric", "value", "n"}, ...]}` (progress stays on stderr).

The production-style benchmark is read from the store's materialized `repair_benchmark`
(`assets/repair_benchmark/all.parquet`) or `--repair-items FILE.parquet`; without either, only the
executable benchmark runs.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import click

REPAIR_BENCHMARK_KEY = "assets/repair_benchmark/all.parquet"


@click.command()
@click.option("--model", "models", multiple=True, default=("search", "no_change"), show_default=True,
              help="Repairer spec (repeatable): no_change, search, finetuned[:vN|:PATH], triton:HOST:PORT, "
                   "dspy:MODEL, dspy-fewshot:MODEL, 'command:CMD {file} {line}' (rewrites {file} in place).")
@click.option("--benchmark", type=click.Choice(["both", "function", "repair"]), default="both", show_default=True)
@click.option("--store", "store_uri", default=lambda: os.environ.get("REPAIR_STORE_ROOT", ".data/store"),
              show_default=".data/store", help="Object store (local path or gs://bucket/prefix).")
@click.option("--function-source", "function_sources", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="DebugBench JSON or HumanEvalPack JSONL file to add (repeatable).")
@click.option("--no-stdlib", is_flag=True, help="Leave out the reserved stdlib modules and their Lib/test suites.")
@click.option("--no-problems", is_flag=True, help="Leave out this project's problems (evals/problems).")
@click.option("--no-handwritten", is_flag=True, help="Leave out the hand-written bugs (evals/problems/handwritten).")
@click.option("--program", "only_programs", multiple=True,
              help="Keep only this program (repeatable), e.g. problem:two_sum, stdlib:textwrap.")
@click.option("--kind", "kinds", multiple=True, help="Bug kind to inject (repeatable; default: all).")
@click.option("--functions-per-program", default=3, show_default=True)
@click.option("--repair-items", type=click.Path(exists=True, dir_okay=False),
              help="Parquet file of repair_benchmark items (default: the store's materialized asset).")
@click.option("--limit", type=int, default=None, help="At most this many items per benchmark (seeded sample).")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Items evaluated at once per model.")
@click.option("--k", "k", default=5, show_default=True,
              help="Proposals per item in the verified@k mode (the search repairer's candidates, a model's samples).")
@click.option("--temperature", default=0.1, show_default=True)
@click.option("--top-p", default=0.95, show_default=True)
@click.option("--top-k", default=50, show_default=True)
@click.option("--few-shot", default=4, show_default=True, help="Demonstrations for dspy-fewshot models.")
@click.option("--gate", nargs=2, metavar="CANDIDATE PRODUCTION", default=None,
              help="Also decide the deployment gate between two of the evaluated models.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default .data/eval/<UTC time>).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"results": [{"model", "benchmark", "mode", "metric", "value", "n"}, ...]} instead of the report.')
def command(models, benchmark, store_uri, function_sources, no_stdlib, no_problems, no_handwritten, only_programs,
            kinds, functions_per_program, repair_items, limit, seed, workers, k, temperature, top_p, top_k, few_shot,
            gate, out_dir, as_json) -> None:
    """Evaluate repairers on the executable and the production-style benchmark."""
    import json
    import random

    import polars as pl

    from evals.function_items import function_benchmark_items
    from evals.inject import KINDS
    from evals.items import items_from_frame
    from evals.models import Decoding, parse_model_spec
    from evals.run import REPORT_NAME, run_evaluation
    from repair.object_store import open_store

    store = open_store(store_uri)
    try:
        specs = [parse_model_spec(m) for m in models]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--model") from error
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise click.BadParameter(f"unknown kinds {unknown}; kinds: {', '.join(KINDS)}", param_hint="--kind")

    def sample(items):
        if limit is None or len(items) <= limit:
            return items
        return sorted(random.Random(seed).sample(items, limit), key=lambda item: item.item_id)

    items = []
    if benchmark in ("both", "function"):
        built = function_benchmark_items(
            stdlib=not no_stdlib, problems=not no_problems, handwritten=not no_handwritten, files=function_sources,
            only_programs=only_programs or None, kinds=kinds, functions_per_program=functions_per_program, seed=seed,
            workers=workers, progress=lambda message: click.echo(message, err=True),
        )
        if only_programs and not built.collected.programs:
            raise click.BadParameter(f"no program named {', '.join(only_programs)}", param_hint="--program")
        for record in built.collected.quarantined:
            click.echo(f"quarantined {record['record']} ({record['file']}): {record['reason']}", err=True)
        click.echo(f"function benchmark: {len(built.items)} items; dropped {dict(built.report.dropped)}", err=True)
        items += sample(built.items)
    if benchmark in ("both", "repair"):
        if repair_items:
            frame = pl.read_parquet(repair_items)
        elif store.exists(REPAIR_BENCHMARK_KEY):
            frame = pl.read_parquet(io.BytesIO(store.read_bytes(REPAIR_BENCHMARK_KEY)))
        else:
            frame = None
            message = f"no repair benchmark: {store.uri(REPAIR_BENCHMARK_KEY)} is not materialized"
            if benchmark == "repair":
                raise click.ClickException(message + " (materialize repair_benchmark or pass --repair-items)")
            click.echo(message + "; evaluating the function benchmark only", err=True)
        if frame is not None:
            items += sample(items_from_frame(frame))
    if not items:
        raise click.ClickException("no benchmark items to evaluate")
    out_dir = out_dir or Path(".data/eval") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    outcome = run_evaluation(
        items, specs, out_dir, store=store, decoding=Decoding(temperature, top_p, top_k), few_shot=few_shot,
        workers=workers, k=k, candidate=gate[0] if gate else None, production=gate[1] if gate else None,
        gate=bool(gate), progress=lambda message: click.echo(message, err=True),
    )
    if as_json:
        fields = ("model", "benchmark", "mode", "metric", "value", "n")
        click.echo(json.dumps({"results": [{f: row[f] for f in fields} for row in outcome.summary.iter_rows(named=True)]}))
    else:
        click.echo(outcome.report)
    click.echo(f"report: {out_dir / REPORT_NAME}", err=True)
    if outcome.gate is not None and not outcome.gate.passed:
        raise SystemExit(1)
