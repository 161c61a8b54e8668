"""Runs repairers over benchmark items and scores them: the model x benchmark table with confidence
intervals, the per-rule breakdown, throughput, PNG plots and the markdown report.

Every repairer sees the same items. Per item: the repairer's raw answer is parsed and applied like
verification does it (`repair.verify.prepare`), the repaired file is compared with the reference
(`evals.metrics`), re-linted in one batch per model (diagnostic resolved), and, for executable
items, the program's tests run on it in the sandbox. A repairer that raises on an item scores zero
on it with the error recorded (`status = error: ...`); nothing is dropped.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from evals.function_benchmark import Linter, Progress, default_linter
from evals.items import FUNCTION_BENCHMARK, REPAIR_BENCHMARK, Item
from evals.metrics import ast_exact_match, ast_match_with_string_fallback, wilson_interval
from evals.sandbox import Limits, run_python
from repair.repairer import Repairer
from repair.verify import ACCEPTED, LintFailure, judge_lint, prepare

METRICS: dict[str, tuple[str, ...]] = {
    FUNCTION_BENCHMARK: ("tests_pass", "ast_exact", "ast_or_string", "resolved"),
    REPAIR_BENCHMARK: ("ast_exact", "ast_or_string", "resolved"),
}
# The metric each benchmark is ranked and gated on.
MAIN_METRIC: dict[str, str] = {FUNCTION_BENCHMARK: "tests_pass", REPAIR_BENCHMARK: "ast_or_string"}
METRIC_TITLES = {
    "tests_pass": "functional correctness (tests pass)",
    "ast_exact": "AST exact match",
    "ast_or_string": "AST match with string fallback",
    "resolved": "diagnostic resolved",
}
RESULT_SCHEMA = {
    "model": pl.String, "benchmark": pl.String, "item_id": pl.String, "group": pl.String, "origin": pl.String,
    "status": pl.String, "raw_output": pl.String, "ast_exact": pl.Boolean, "ast_or_string": pl.Boolean,
    "resolved": pl.Boolean, "tests_pass": pl.Boolean, "latency_s": pl.Float64,
}


class NoChange:
    """The "no change" baseline: never proposes a fix (every score is the floor)."""

    name = "no_change"

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        return ""


@dataclass
class _Scored:
    item: Item
    status: str
    raw_output: str
    repaired: str
    latency_s: float
    tests_pass: bool | None = None


def _propose(repairer: Repairer, item: Item) -> tuple[str, float, str | None]:
    started = time.perf_counter()
    try:
        raw = repairer.propose(item.content, item.diagnostic, item.file, dict(item.context) or None)
        return raw or "", time.perf_counter() - started, None
    except Exception as error:  # noqa: BLE001 - one failing call scores zero, is recorded, the run goes on
        return "", time.perf_counter() - started, f"error: {type(error).__name__}: {error}"[:300]


def _score_one(repairer: Repairer, item: Item, limits: Limits | None = None) -> _Scored:
    raw, latency, error = _propose(repairer, item)
    if error:
        return _Scored(item, error, raw, item.content, latency, False if item.executable else None)
    verdict = prepare(item.content, raw)
    repaired = verdict.fixed_content if verdict.fixed_content is not None else item.content
    # The serving interface's vocabulary (docs/formats.md section 4): fixed, no_fix, rejected: <reason>.
    if verdict.verdict == ACCEPTED:
        status = "fixed"
    elif not raw.strip() or verdict.verdict == "empty_diff":
        status = "no_fix"
    else:
        status = f"rejected: {verdict.verdict}"
    tests_pass = None
    if item.executable:
        if repaired == item.content:
            tests_pass = False  # the benchmark kept only bugs the tests reject
        else:
            run_limits = limits or Limits(wall_s=item.timeout_s, cpu_s=int(item.timeout_s))
            files = {**item.support_files, item.file: repaired}
            tests_pass = run_python(files, item.argv, run_limits).ok
    return _Scored(item, status, raw, repaired, latency, tests_pass)


def _failures(repairer: Repairer) -> int:
    """Calls a repairer absorbed as "no fix" itself (the DSPy repairer counts them in `usage`)."""
    usage = getattr(repairer, "usage", None)
    return int(getattr(usage, "failures", 0) or 0)


class BeforeLints:
    """The broken files' diagnostics, linted once per evaluation and shared by every model."""

    def __init__(self, items: Sequence[Item], linter: Linter):
        projects = [{**item.context, item.file: item.content} for item in items]
        linted = linter(projects, [item.file for item in items]) if items else []
        self.by_id = dict(zip((item.item_id for item in items), linted, strict=True))


def _resolved(scored: Sequence[_Scored], before: BeforeLints, linter: Linter) -> list[bool]:
    changed = [i for i, s in enumerate(scored) if s.repaired != s.item.content]
    flags = [False] * len(scored)
    if not changed:
        return flags
    projects = [{**scored[i].item.context, scored[i].item.file: scored[i].repaired} for i in changed]
    after = linter(projects, [scored[i].item.file for i in changed])
    for index, diagnostics in zip(changed, after, strict=True):
        previous = before.by_id[scored[index].item.item_id]
        if isinstance(diagnostics, Exception) or isinstance(previous, LintFailure | Exception):
            continue
        flags[index] = judge_lint(scored[index].item.diagnostic, previous, diagnostics) is None
    return flags


def evaluate(
    repairers: Sequence[Repairer],
    items: Sequence[Item],
    *,
    workers: int = 2,
    linter: Linter = default_linter,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-item results, per-model throughput) of every repairer on every item."""
    say = progress or (lambda message: None)
    before = BeforeLints(items, linter)
    rows: list[dict] = []
    throughput: list[dict] = []
    benchmarks = sorted({item.benchmark for item in items})
    for repairer in repairers:
        name = getattr(repairer, "name", type(repairer).__name__)
        # One benchmark at a time, so that each one's throughput is its own.
        for benchmark in benchmarks:
            subset = [item for item in items if item.benchmark == benchmark]
            failures_before = _failures(repairer)
            started = time.perf_counter()
            scored: list[_Scored] = []
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                score = functools.partial(_score_one, repairer, limits=limits)
                for done, result in enumerate(pool.map(score, subset), 1):
                    scored.append(result)
                    if done % 25 == 0 or done == len(subset):
                        say(f"{name} on {benchmark}: {done}/{len(subset)} items")
            resolved = _resolved(scored, before, linter)
            elapsed = time.perf_counter() - started
            for result, is_resolved in zip(scored, resolved, strict=True):
                item = result.item
                rows.append({
                    "model": name, "benchmark": item.benchmark, "item_id": item.item_id, "group": item.group,
                    "origin": item.origin, "status": result.status, "raw_output": result.raw_output,
                    "ast_exact": ast_exact_match(result.repaired, item.fixed_content),
                    "ast_or_string": ast_match_with_string_fallback(result.repaired, item.fixed_content),
                    "resolved": is_resolved, "tests_pass": result.tests_pass, "latency_s": result.latency_s,
                })
            throughput.append({"model": name, "benchmark": benchmark, "items": len(subset), "seconds": elapsed,
                               "items_per_minute": 60.0 * len(subset) / elapsed if elapsed else 0.0,
                               "call_failures": _failures(repairer) - failures_before})
            say(f"{name} on {benchmark}: {len(subset)} items in {elapsed:.1f} s")
    return pl.DataFrame(rows, schema=RESULT_SCHEMA), pl.DataFrame(
        throughput, schema={"model": pl.String, "benchmark": pl.String, "items": pl.Int64,
                            "seconds": pl.Float64, "items_per_minute": pl.Float64, "call_failures": pl.Int64})


def summary_table(results: pl.DataFrame) -> pl.DataFrame:
    """model x benchmark x metric: n, successes, value and its 95% Wilson interval."""
    rows = []
    for (model, benchmark), frame in results.group_by(["model", "benchmark"], maintain_order=True):
        for metric in METRICS.get(benchmark, ()):
            values = frame[metric].drop_nulls()
            successes, total = int(values.sum()), len(values)
            low, high = wilson_interval(successes, total)
            rows.append({"model": model, "benchmark": benchmark, "metric": metric, "n": total,
                         "successes": successes, "value": successes / total if total else 0.0,
                         "ci_low": low, "ci_high": high, "main": metric == MAIN_METRIC[benchmark]})
    return pl.DataFrame(rows, schema={"model": pl.String, "benchmark": pl.String, "metric": pl.String,
                                      "n": pl.Int64, "successes": pl.Int64, "value": pl.Float64,
                                      "ci_low": pl.Float64, "ci_high": pl.Float64, "main": pl.Boolean})


def rule_breakdown(results: pl.DataFrame) -> pl.DataFrame:
    """The main metric per model, benchmark and rule (bug kind or `source rule`)."""
    rows = []
    for (model, benchmark, group), frame in results.group_by(["model", "benchmark", "group"], maintain_order=True):
        values = frame[MAIN_METRIC[benchmark]].drop_nulls()
        successes, total = int(values.sum()), len(values)
        low, high = wilson_interval(successes, total)
        rows.append({"model": model, "benchmark": benchmark, "group": group, "n": total,
                     "value": successes / total if total else 0.0, "ci_low": low, "ci_high": high})
    frame = pl.DataFrame(rows, schema={"model": pl.String, "benchmark": pl.String, "group": pl.String,
                                       "n": pl.Int64, "value": pl.Float64, "ci_low": pl.Float64,
                                       "ci_high": pl.Float64})
    return frame.sort(["benchmark", "group", "model"])


def plot_scores(summary: pl.DataFrame, path: Path) -> Path:
    """One panel per benchmark: each model's main metric with its confidence interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = summary.filter(pl.col("main"))
    benchmarks = sorted(main["benchmark"].unique().to_list())
    figure, axes = plt.subplots(1, max(1, len(benchmarks)), figsize=(5.5 * max(1, len(benchmarks)), 4), squeeze=False)
    for axis, benchmark in zip(axes[0], benchmarks, strict=False):
        frame = main.filter(pl.col("benchmark") == benchmark)
        values = frame["value"].to_list()
        errors = [[v - lo for v, lo in zip(values, frame["ci_low"], strict=True)],
                  [hi - v for v, hi in zip(values, frame["ci_high"], strict=True)]]
        axis.bar(frame["model"].to_list(), [100 * v for v in values],
                 yerr=[[100 * e for e in errors[0]], [100 * e for e in errors[1]]], capsize=4, color="#4c72b0")
        axis.set_title(f"{benchmark}: {METRIC_TITLES[MAIN_METRIC[benchmark]]}", fontsize=9)
        axis.set_ylim(0, 100)
        axis.set_ylabel("% of items")
        axis.tick_params(axis="x", labelrotation=30, labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_rules(breakdown: pl.DataFrame, path: Path) -> Path:
    """Heat map per benchmark: models x rules, the main metric in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = sorted(breakdown["benchmark"].unique().to_list()) or ["(none)"]
    figure, axes = plt.subplots(len(benchmarks), 1, figsize=(10, 2.5 + 2.2 * len(benchmarks)), squeeze=False)
    for axis, benchmark in zip(axes[:, 0], benchmarks, strict=False):
        frame = breakdown.filter(pl.col("benchmark") == benchmark)
        models = sorted(frame["model"].unique().to_list())
        groups = sorted(frame["group"].unique().to_list())
        cells = {(r["model"], r["group"]): r["value"] for r in frame.iter_rows(named=True)}
        grid = [[100 * cells.get((m, g), float("nan")) for g in groups] for m in models]
        image = axis.imshow(grid, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(groups)), groups, rotation=35, ha="right", fontsize=7)
        axis.set_yticks(range(len(models)), models, fontsize=8)
        axis.set_title(f"{benchmark}: {METRIC_TITLES.get(MAIN_METRIC.get(benchmark, ''), '')} by rule (%)", fontsize=9)
        figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown_table(summary: pl.DataFrame) -> str:
    """model x benchmark metric columns, each `value [low, high]` in percent."""
    columns = [(b, m) for b in (FUNCTION_BENCHMARK, REPAIR_BENCHMARK) for m in METRICS[b]
               if not summary.filter((pl.col("benchmark") == b) & (pl.col("metric") == m)).is_empty()]
    header = "| model | " + " | ".join(f"{b}: {METRIC_TITLES[m]}" for b, m in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    cells = {(r["model"], r["benchmark"], r["metric"]): r for r in summary.iter_rows(named=True)}
    for model in summary["model"].unique(maintain_order=True).to_list():
        row = [model]
        for benchmark, metric in columns:
            cell = cells.get((model, benchmark, metric))
            row.append(
                f"{_percent(cell['value'])} [{_percent(cell['ci_low'])}, {_percent(cell['ci_high'])}] (n={cell['n']})"
                if cell else "-"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def rules_markdown(breakdown: pl.DataFrame) -> str:
    """The per-rule breakdown as a markdown table (percent, 95% interval)."""
    lines = ["| benchmark | rule | model | n | score [95% CI] |", "|---|---|---|---|---|"]
    for row in breakdown.iter_rows(named=True):
        lines.append(f"| {row['benchmark']} | {row['group']} | {row['model']} | {row['n']} | "
                     f"{_percent(row['value'])} [{_percent(row['ci_low'])}, {_percent(row['ci_high'])}] |")
    return "\n".join(lines)


def render_report(
    summary: pl.DataFrame,
    breakdown: pl.DataFrame,
    throughput: pl.DataFrame,
    *,
    title: str = "Repair model evaluation",
    settings: dict[str, object] | None = None,
    gate_text: str | None = None,
    plots: Sequence[str] = (),
) -> str:
    parts = [f"# {title}", "", "Scores in percent with 95% Wilson intervals; `n` items per cell.", "",
             markdown_table(summary), ""]
    if gate_text:
        parts += ["## Deployment gate", "", gate_text, ""]
    parts += ["## Per rule (main metric, %)", "", rules_markdown(breakdown)]
    parts += ["", "## Throughput", "", "| model | benchmark | items | seconds | items/minute | failed calls |",
              "|---|---|---|---|---|---|"]
    for row in throughput.iter_rows(named=True):
        parts.append(f"| {row['model']} | {row['benchmark']} | {row['items']} | {row['seconds']:.1f} | "
                     f"{row['items_per_minute']:.1f} | {row['call_failures']} |")
    if settings:
        parts += ["", "## Settings", ""] + [f"- `{key}`: {value}" for key, value in settings.items()]
    for plot in plots:
        parts += ["", f"![{Path(plot).stem}]({Path(plot).name})"]
    return "\n".join(parts) + "\n"


