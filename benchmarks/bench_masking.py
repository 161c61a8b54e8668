"""How many verified repairs the masking-aware re-lint rule adds on a simulated day (issue 13 item 4).

Simulates a small day and materializes the data pipeline up to `verified_repairs` in a throwaway
store and an ephemeral Dagster instance, with `repair.verify.judge_lint` wrapped so that every
re-lint is judged twice: by today's rule (one problem whichever linter reported it, see
`repair.verify`) and by the rule before it (diagnostics compared as (source, rule, message) counts,
kept below as `judge_lint_before_masking`). Writes the `## Verification masking` section.

    uv run python -m benchmarks bench_masking                 # 40 sessions
    uv run python -m benchmarks.bench_masking --sessions 20 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Verification masking"
DAY = "2026-11-30"


def judge_lint_before_masking(target, before, after) -> str:
    """The re-lint rule as it was before issue 13: the verdict name (`accepted` or the rejection)."""
    from repair.verify import diagnostic_counts

    key = (target.source, target.code, target.message)
    if diagnostic_counts(after)[key] >= max(diagnostic_counts(before)[key], 1):
        return "diagnostic_remains"
    new = diagnostic_counts(after, "error") - diagnostic_counts(before, "error")
    new.pop(key, None)
    return "new_error" if new else "accepted"


write_section = partial(results.write_section, SECTION)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv or [])
    load_before = os.getloadavg()[0]

    store_root = str(Path(".data/bench_masking/store").resolve())
    shutil.rmtree(store_root, ignore_errors=True)  # a fresh day (kept afterwards for bench_eval)
    os.environ["REPAIR_STORE_ROOT"] = store_root
    os.environ["REPAIR_ENV"] = "local"
    import dagster as dg

    from jobs.definitions import build_definitions
    from repair import verify

    # One entry per distinct (target, lint before, lint after): the search teacher's own checks and
    # the verification stage re-lint the same fix of the same state; it counts once.
    judged: dict[tuple, tuple[str, str]] = {}
    rule = verify.judge_lint

    def both_rules(target, before, after):
        verdict = rule(target, before, after)
        now = "accepted" if verdict is None else verdict.verdict
        judged[(target, tuple(before), tuple(after))] = (
            judge_lint_before_masking(target, before, after),
            now,
        )
        return verdict

    verify.judge_lint = both_rules
    defs = build_definitions("local")
    started = time.monotonic()
    with dg.instance_for_test() as instance:
        for job, config in (
            (
                "simulate_day",
                {"simulated_sessions": {"config": {"sessions": args.sessions, "seed": args.seed}}},
            ),
            ("data_refresh", {}),
        ):
            result = defs.resolve_job_def(job).execute_in_process(
                partition_key=DAY,
                instance=instance,
                run_config={"ops": config},
                raise_on_error=False,
            )
            if not result.success:
                raise SystemExit(f"{job} failed")
    verify.judge_lint = rule
    minutes = (time.monotonic() - started) / 60
    counts = Counter(judged.values())
    unmasked = Counter(
        f"{target.source} {target.code}" for (target, _, _), (then, now) in judged.items() if then != now
    )
    relints = len(judged)
    accepted_now = sum(n for (_, now), n in counts.items() if now == "accepted")
    accepted_then = sum(n for (then, _), n in counts.items() if then == "accepted")
    added = sum(n for (then, now), n in counts.items() if now == "accepted" and then != "accepted")
    lost = sum(n for (then, now), n in counts.items() if then == "accepted" and now != "accepted")
    transitions = "\n".join(f"| {then} | {now} | {n} |" for (then, now), n in sorted(counts.items()))
    body = f"""
Command: `uv run python -m benchmarks bench_masking` ({args.sessions} simulated sessions, seed {args.seed},
the `simulate_day` and `data_refresh` jobs up to `verified_repairs`; {minutes:.1f} min).
Machine: {os.cpu_count()}-core CPU, {load_words(load_before)}, {platform.python_implementation()}
{platform.python_version()}; {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.

Every distinct re-lint of the day (a fix of a state, whichever stage checked it: the search teacher's own
checks and the verification stage) judged by both rules: {relints} re-lints; accepted by the rule before
masking: {accepted_then}; accepted by the masking-aware rule: {accepted_now}. **{added} verified
repairs added** (rejected before as a `new_error` that another linter had reported all along),
{lost} lost. Added, by target rule: {dict(unmasked) or "none"}.

| rule before | masking-aware rule | re-lints |
|---|---|---|
{transitions}
"""
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
