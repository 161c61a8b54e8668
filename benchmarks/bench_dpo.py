"""Preference training on a simulated day: feedback events -> preference pairs -> a DPO candidate
evaluated against the model it started from, through the same evaluation and gate as
`model_evaluation` (`evals.run.run_evaluation` with the paired-bootstrap gate).

    uv run repair demo --no-serve                      # a store with a day, a model and benchmarks
    uv run python -m benchmarks.bench_dpo              # writes the "Preference training (DPO)" section
    uv run python -m benchmarks.bench_dpo --no-write --steps 10 --limit 10

Inputs from the store (default `.data/store`, `$REPAIR_STORE_ROOT`): the day's session logs (the
`repair_feedback` events the simulator wrote), the base model (the serving version, else the newest
approved one that is not itself a DPO result), and the materialized `function_repair_benchmark` and `repair_benchmark`
(sampled like `model_evaluation`, by hashed item id). The verdict says "better" or "worse" only
when the gate's 95% confidence interval of the difference excludes zero, else "within noise".
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Preference training (DPO)"
BENCHMARK_KEYS = ("assets/function_repair_benchmark/all.parquet", "assets/repair_benchmark/all.parquet")


write_section = partial(results.write_section, SECTION)


def verdict(comparison) -> str:
    """better / worse only when the paired difference's confidence interval excludes zero."""
    if comparison is None:
        return "not compared (no item scored for both)"
    if comparison.ci_low > 0:
        return "better"
    if comparison.ci_high < 0:
        return "worse"
    return "within noise"


def _latest_day(store) -> str:
    days = sorted({k.split("/")[1].removeprefix("date=") for k in store.list("sessions/date=")})
    if not days:
        raise SystemExit(f"no session logs in {store.uri('sessions')}: run `repair demo` first")
    return days[-1]


def main(argv: list[str] | None = None) -> None:
    from evals.harness import markdown_table
    from evals.items import items_from_frame, sample_frame
    from evals.models import Decoding
    from evals.run import evaluate_against_base, paired_comparisons
    from repair.ingest.logs import read_partition
    from repair.object_store import open_store
    from repair.preferences import acceptance_rate, build_preference_pairs
    from repair.training.dpo import DpoSettings, NoBaseModel, train_dpo_candidate

    parser = argparse.ArgumentParser(
        description="DPO on a simulated day's feedback, evaluated against its base"
    )
    parser.add_argument("--store", default=os.environ.get("REPAIR_STORE_ROOT", ".data/store"))
    parser.add_argument("--day", default=None, help="the log day (default: the newest in the store)")
    parser.add_argument("--limit", type=int, default=40, help="items per benchmark (the demo's budget)")
    parser.add_argument("--steps", type=int, default=-1, help="DPO steps (default: --epochs over the pairs)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--k", type=int, default=5, help="proposals per item in verified@k")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args(argv or [])
    load_before = os.getloadavg()[0]

    def say(message: str) -> None:
        print(message, flush=True)

    store = open_store(args.store)
    day = args.day or _latest_day(store)
    started = time.perf_counter()
    partition = read_partition(store, day)
    events = [
        json.loads(raw) for raw in partition.events.filter(pl.col("kind") == "repair_feedback")["event"]
    ]
    preferences = build_preference_pairs(events)
    counts = preferences.counts
    say(
        f"{day}: {counts['feedback_events']} feedback events, {counts['offers']} offers, {counts['pairs']} pairs"
    )
    if not preferences.pairs:
        raise SystemExit("no preference pairs on that day: nothing to train on")
    rows = preferences.acceptance()
    overall = acceptance_rate(rows, "model_version")

    settings = DpoSettings(
        beta=args.beta, learning_rate=args.learning_rate, epochs=args.epochs, max_steps=args.steps
    )
    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        try:
            entry, base, run = train_dpo_candidate(store, preferences.pairs, tmp, settings, progress=say)
        except NoBaseModel as error:
            raise SystemExit(f"{error}: run `repair demo` first") from error
    say(f"registered v{entry.version} (DPO of v{base.version}, a candidate) in {run.wall_s:.0f} s")

    frames = [pl.read_parquet(io.BytesIO(store.read_bytes(k))) for k in BENCHMARK_KEYS if store.exists(k)]
    if not frames:
        raise SystemExit("no materialized benchmarks in the store: run `repair demo` first")
    items = [item for frame in frames for item in items_from_frame(sample_frame(frame, args.limit))]
    with tempfile.TemporaryDirectory(prefix="bench-dpo-eval-") as tmp:
        # What the `dpo_evaluation` asset runs: the same items, models, modes and gate.
        outcome = evaluate_against_base(
            items, entry, base.version, Path(tmp), store=store,
            decoding=Decoding(max_new_tokens=args.max_new_tokens), k=args.k, workers=2, progress=say,
        )  # fmt: skip
    decision = outcome.gate
    assert decision is not None
    total_s = time.perf_counter() - started
    candidate, base_name = f"finetuned:v{entry.version}", f"finetuned:v{base.version}"
    compared = paired_comparisons(outcome.results, candidate, base_name)
    # The headline: the gate's metric (its benchmark, pass@1), whether or not the gate got that far.
    headline_benchmark = decision.benchmark or "repair"
    headline = next((c for b, m, c in compared if b == headline_benchmark and m == "pass@1"), None)
    result = verdict(headline)
    against = headline.describe() if headline else "no paired items"
    comparison_rows = "\n".join(
        f"| {b} | {m} | {c.items} | {100 * c.candidate_score:.1f} | {100 * c.other_score:.1f} | "
        f"{100 * c.difference:+.1f} [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}] | {verdict(c)} |"
        for b, m, c in compared
    )

    acceptance = "; ".join(
        f"model v{k[0]}: {rate:.1%} of {n} decided offers" for k, (rate, n) in overall.items()
    )
    metrics = run.metrics()
    body = f"""Measured by `benchmarks/bench_dpo.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()},
{os.cpu_count()} cores, no GPU, {load_words(load_before)}. Store `{args.store}`, log day {day} (the simulated demo day).

**Feedback -> pairs.** {counts["feedback_events"]} `repair_feedback` events, {counts["offers"]} offers
(accepted {counts["offers_accepted"]}, rejected {counts["offers_rejected"]}, undone {counts["offers_undone"]});
acceptance: {acceptance}. {counts["pairs"]} preference pairs ({counts["pairs_dropped_equal_sides"]} dropped with
equal sides, {counts["events_quarantined"]} events quarantined).

**DPO.** TRL `DPOTrainer` on the Hugging Face export of `code_repair` v{base.version} (the serving version,
else the newest approved non-DPO one), beta {settings.beta}, learning rate {settings.learning_rate}, {metrics["dpo_steps"]} steps of batch
{settings.batch_size}, {run.wall_s:.0f} s; loss {metrics["dpo_first_loss"]} -> {metrics["dpo_final_loss"]},
last reward accuracy {metrics["dpo_reward_accuracy"]}. Registered as candidate v{entry.version} with
`details.base_version = {base.version}`.

**Evaluation** (both modes, `pass@1` and `verified@k` with k={args.k}; temperature {asdict(Decoding())["temperature"]};
what the `dpo_evaluation` asset runs: the same harness and gate as `model_evaluation`, with the base in the serving
model's place; up to {args.limit} items per benchmark, sampled like the demo's evaluation; % with 95% Wilson
intervals and n):

{markdown_table(outcome.summary)}

DPO v{entry.version} against its base v{base.version}, main metric of each benchmark, paired over the items both
were scored on (difference in points, 95% paired bootstrap interval):

| benchmark | mode | paired items | DPO % | base % | difference [95% CI] | verdict |
|---|---|---|---|---|---|---|
{comparison_rows}

On the gate's metric ({headline_benchmark}, pass@1): {against}.

**Result: {result}** (the DPO candidate against the model it started from; "better"/"worse" only when the
95% interval of the paired difference excludes zero).

The deployment gate on the candidate, as `deployment_gate` decides it:

{decision.describe()}

Whole run {total_s / 60:.1f} min.
"""
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
