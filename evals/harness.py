"""Runs repairers over benchmark items and scores them: the model x mode x benchmark table with
confidence intervals, breakdowns by rule, bug origin and reference source, throughput, PNG plots and
the markdown report.

Like for like: every repairer is scored in two modes with the same budget (`MODES`):

- `pass@1`: its first proposal, unverified: what a user sees from a model that answers once;
- `verified@k`: up to `k` proposals (the search repairer's `k` cheapest candidates, a model's `k`
  samples), the first one the verifier accepts (`repair.verify`: applies, parses, target gone, no new
  problem); none accepted leaves the file unchanged. The verifier is the harness's, the same for all.

Per item and proposal the raw answer is parsed and applied like verification does it
(`repair.verify.prepare`), re-linted in one batch per model, compared with the reference
(`evals.metrics`), and for executable items the program's tests run on it in the sandbox with a pass
the candidate cannot forge (`evals.testrun`). A repairer that raises on an item scores zero on it
with the error recorded (`status = error: ...`).

No credit for doing nothing: an item whose broken file already matches the reference under a
metric's normalisation is not scored on that metric (the value is null, `trivial_items` counts
them), so `no_change` scores 0 on every metric by construction. No self-agreement: a repairer is
never scored on an item whose reference it wrote (`producer_of`, `Item.reference_by`): `evaluate`
leaves those items out for it, and `summary_table` refuses results that hold one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from evals.function_benchmark import Linter, Progress, default_linter
from evals.items import FUNCTION_BENCHMARK, REPAIR_BENCHMARK, Item
from evals.metrics import ast_exact_match, ast_match_with_string_fallback, wilson_interval
from evals.sandbox import Limits
from evals.testrun import run_tests
from repair.repairer import Repairer
from repair.verify import ACCEPTED, LintFailure, judge_lint, prepare

PASS_AT_1 = "pass@1"
VERIFIED_AT_K = "verified@k"
MODES = (PASS_AT_1, VERIFIED_AT_K)
DEFAULT_K = 5
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
# Metrics that compare with the reference: the ones a broken file can already satisfy.
REFERENCE_METRICS = {"ast_exact": ast_exact_match, "ast_or_string": ast_match_with_string_fallback}
RESULT_SCHEMA = {
    "model": pl.String, "benchmark": pl.String, "mode": pl.String, "item_id": pl.String, "group": pl.String,
    "origin": pl.String, "bug_origin": pl.String, "reference_source": pl.String, "reference_by": pl.String,
    "status": pl.String, "raw_output": pl.String, "proposals": pl.Int64, "ast_exact": pl.Boolean,
    "ast_or_string": pl.Boolean, "resolved": pl.Boolean, "tests_pass": pl.Boolean, "latency_s": pl.Float64,
}
THROUGHPUT_SCHEMA = {"model": pl.String, "benchmark": pl.String, "items": pl.Int64, "excluded": pl.Int64,
                     "proposals": pl.Int64, "seconds": pl.Float64, "items_per_minute": pl.Float64,
                     "call_failures": pl.Int64}


class NoChange:
    """The "no change" baseline: never proposes a fix (every score is the floor)."""

    name = "no_change"

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        return ""


def producer_of(model: str) -> str:
    """The teacher name a repairer writes references under: `search` for `search`, `dspy` for
    `dspy:M` and `dspy-fewshot(4):M`, `command:...` as is (a teacher of that name)."""
    family = model.split(":", 1)[0].split("(", 1)[0]
    return "dspy" if family in ("dspy", "dspy-fewshot") else (model if family == "command" else family)


def wrote_reference(model: str, reference_by: Sequence[str]) -> bool:
    """Whether `model` wrote (or co-wrote) a reference written by `reference_by`."""
    producer = producer_of(model)
    return any(by == producer or by.split(":", 1)[0] == producer for by in reference_by)


def independent(model: str, item: Item) -> bool:
    """Whether `model` may be scored on `item`: it did not write the item's reference."""
    return not wrote_reference(model, item.reference_by)


def trivial_items(items: Sequence[Item]) -> dict[str, int]:
    """Per reference metric, the items whose broken file already matches the reference: dropped
    from that metric for every repairer, and counted here."""
    return {metric: sum(match(item.content, item.fixed_content) for item in items)
            for metric, match in REFERENCE_METRICS.items()}


def proposals(repairer: Repairer, item: Item, k: int) -> list[str]:
    """Up to `k` raw proposals: `propose_k` when the repairer samples or ranks several, else its one
    answer (a deterministic repairer has nothing more to offer)."""
    context = dict(item.context) or None
    many = getattr(repairer, "propose_k", None)
    if many is not None:
        return [raw or "" for raw in many(item.content, item.diagnostic, item.file, context, k)][:k]
    return [repairer.propose(item.content, item.diagnostic, item.file, context) or ""]


@dataclass
class _Proposed:
    item: Item
    raws: list[str]
    latency_s: float
    error: str | None = None
    repaired: list[str] = field(default_factory=list)  # per raw: the applied file (the broken one when it does not apply)
    statuses: list[str] = field(default_factory=list)
    accepted: list[bool] = field(default_factory=list)  # per raw: the verifier's verdict


def _status(raw: str, verdict) -> str:
    """The serving interface's vocabulary (docs/formats.md section 4): fixed, no_fix, rejected: <reason>."""
    if verdict.verdict == ACCEPTED:
        return "fixed"
    if not raw.strip() or verdict.verdict == "empty_diff":
        return "no_fix"
    return f"rejected: {verdict.verdict}"


def _propose(repairer: Repairer, item: Item, k: int) -> _Proposed:
    started = time.perf_counter()
    try:
        raws = proposals(repairer, item, k) or [""]
    except Exception as error:  # noqa: BLE001 - one failing call scores zero, is recorded, the run goes on
        return _Proposed(item, [""], time.perf_counter() - started, f"error: {type(error).__name__}: {error}"[:300])
    proposed = _Proposed(item, raws, time.perf_counter() - started)
    for raw in raws:
        verdict = prepare(item.content, raw)
        proposed.repaired.append(verdict.fixed_content if verdict.fixed_content is not None else item.content)
        proposed.statuses.append(_status(raw, verdict))
    return proposed


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


def _verify(proposed: Sequence[_Proposed], before: BeforeLints, linter: Linter) -> None:
    """The verifier's verdict on every proposal (`accepted`): the re-lint of every changed, applied
    file in one batch, judged by verification's rule against the broken file's lint."""
    jobs = [(p, i) for p in proposed for i, status in enumerate(p.statuses) if status == "fixed"]
    for p in proposed:
        p.accepted = [False] * len(p.statuses)
    distinct = {(p.item.item_id, p.repaired[i]): (p, i) for p, i in jobs}
    keys = list(distinct)
    if not keys:
        return
    projects = [{**distinct[key][0].item.context, distinct[key][0].item.file: key[1]} for key in keys]
    after = linter(projects, [distinct[key][0].item.file for key in keys])
    verdicts = {}
    for key, diagnostics in zip(keys, after, strict=True):
        item = distinct[key][0].item
        previous = before.by_id[item.item_id]
        verdicts[key] = not (isinstance(diagnostics, Exception) or isinstance(previous, LintFailure | Exception)) \
            and judge_lint(item.diagnostic, previous, diagnostics) is None
    for p, i in jobs:
        p.accepted[i] = verdicts[(p.item.item_id, p.repaired[i])]


def _choice(proposed: _Proposed, mode: str) -> int | None:
    """Which proposal a mode takes: the first (pass@1), the first accepted (verified@k), or None."""
    if mode == PASS_AT_1:
        return 0
    return next((i for i, ok in enumerate(proposed.accepted) if ok), None)


class _TestCache:
    """Tests run once per distinct repaired file of an item (both modes often pick the same)."""

    def __init__(self, limits: Limits | None):
        self.limits = limits
        self.passed: dict[tuple[str, str], bool] = {}

    def __call__(self, item: Item, repaired: str) -> bool:
        if repaired == item.content:
            return False  # the benchmark kept only bugs the tests reject
        key = (item.item_id, hashlib.sha256(repaired.encode()).hexdigest())
        if key not in self.passed:
            limits = self.limits or Limits(wall_s=item.timeout_s, cpu_s=int(item.timeout_s))
            files = {**item.support_files, item.file: repaired}
            self.passed[key] = run_tests(files, item.argv, item.expected_tests, limits).ok
        return self.passed[key]


def _rows(name: str, proposed: _Proposed, tests: _TestCache, pool: ThreadPoolExecutor) -> list[dict]:
    item = proposed.item
    rows = []
    for mode in MODES:
        chosen = None if proposed.error else _choice(proposed, mode)
        repaired = item.content if chosen is None else proposed.repaired[chosen]
        if proposed.error:
            status = proposed.error
        elif chosen is None:
            status = "no_fix: none verified" if any(s == "fixed" for s in proposed.statuses) or \
                any(s.startswith("rejected") for s in proposed.statuses) else "no_fix"
        else:
            status = proposed.statuses[chosen]
        row = {
            "model": name, "benchmark": item.benchmark, "mode": mode, "item_id": item.item_id,
            "group": item.group, "origin": item.origin, "bug_origin": item.bug_origin,
            "reference_source": item.reference_source, "reference_by": json.dumps(list(item.reference_by)),
            "status": status, "raw_output": "" if chosen is None else proposed.raws[chosen],
            "proposals": 0 if proposed.error else len(proposed.raws),
            "resolved": chosen is not None and proposed.accepted[chosen], "latency_s": proposed.latency_s,
            "tests_pass": pool.submit(tests, item, repaired) if item.executable else None,
        }
        for metric, match in REFERENCE_METRICS.items():
            # No credit for doing nothing: a broken file that already matches is not scored.
            row[metric] = None if match(item.content, item.fixed_content) else match(repaired, item.fixed_content)
        rows.append(row)
    return rows


def evaluate(
    repairers: Sequence[Repairer],
    items: Sequence[Item],
    *,
    k: int = DEFAULT_K,
    workers: int = 2,
    linter: Linter = default_linter,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-item results, one row per model, item and mode; per-model throughput) of every repairer
    on every item it did not write the reference of."""
    say = progress or (lambda message: None)
    before = BeforeLints(items, linter)
    rows: list[dict] = []
    throughput: list[dict] = []
    benchmarks = sorted({item.benchmark for item in items})
    for repairer in repairers:
        name = getattr(repairer, "name", type(repairer).__name__)
        # One benchmark at a time, so that each one's throughput is its own.
        for benchmark in benchmarks:
            scope = [item for item in items if item.benchmark == benchmark]
            subset = [item for item in scope if independent(name, item)]
            failures_before = _failures(repairer)
            started = time.perf_counter()
            proposed: list[_Proposed] = []
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for done, result in enumerate(pool.map(functools.partial(_propose, repairer, k=k), subset), 1):
                    proposed.append(result)
                    if done % 25 == 0 or done == len(subset):
                        say(f"{name} on {benchmark}: {done}/{len(subset)} items proposed")
                _verify(proposed, before, linter)
                tests = _TestCache(limits)
                scored = [row for p in proposed for row in _rows(name, p, tests, pool)]
                for row in scored:
                    if row["tests_pass"] is not None:
                        row["tests_pass"] = row["tests_pass"].result()
            rows += scored
            elapsed = time.perf_counter() - started
            throughput.append({"model": name, "benchmark": benchmark, "items": len(subset),
                               "excluded": len(scope) - len(subset),
                               "proposals": sum(len(p.raws) for p in proposed if not p.error), "seconds": elapsed,
                               "items_per_minute": 60.0 * len(subset) / elapsed if elapsed else 0.0,
                               "call_failures": _failures(repairer) - failures_before})
            say(f"{name} on {benchmark}: {len(subset)} items in {elapsed:.1f} s"
                + (f" ({len(scope) - len(subset)} left out: it wrote their reference)" if len(scope) > len(subset) else ""))
    return pl.DataFrame(rows, schema=RESULT_SCHEMA), pl.DataFrame(throughput, schema=THROUGHPUT_SCHEMA)


def check_independent(results: pl.DataFrame) -> None:
    """Refuses results holding a repairer scored on an item whose reference it wrote."""
    if results.is_empty():
        return
    for row in results.select("model", "item_id", "reference_by").unique().iter_rows(named=True):
        if wrote_reference(row["model"], json.loads(row["reference_by"] or "[]")):
            raise ValueError(f"{row['model']} is scored on item {row['item_id']}, whose reference it wrote "
                             f"({row['reference_by']}): self-agreement is not repair quality")


SUMMARY_SCHEMA = {"model": pl.String, "benchmark": pl.String, "mode": pl.String, "metric": pl.String,
                  "n": pl.Int64, "successes": pl.Int64, "value": pl.Float64, "ci_low": pl.Float64,
                  "ci_high": pl.Float64, "main": pl.Boolean}


def share(frame: pl.DataFrame, metric: str) -> dict[str, object]:
    values = frame[metric].drop_nulls()
    successes, total = int(values.sum()), len(values)
    low, high = wilson_interval(successes, total)
    return {"n": total, "successes": successes, "value": successes / total if total else 0.0,
            "ci_low": low, "ci_high": high}


def summary_table(results: pl.DataFrame) -> pl.DataFrame:
    """model x benchmark x mode x metric: n, successes, value and its 95% Wilson interval. Refuses
    results where a repairer is scored on a reference it wrote (`check_independent`)."""
    check_independent(results)
    rows = []
    for (model, benchmark, mode), frame in results.group_by(["model", "benchmark", "mode"], maintain_order=True):
        for metric in METRICS.get(benchmark, ()):
            rows.append({"model": model, "benchmark": benchmark, "mode": mode, "metric": metric,
                         **share(frame, metric), "main": metric == MAIN_METRIC[benchmark]})
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)


def breakdown(results: pl.DataFrame, by: str = "group") -> pl.DataFrame:
    """The main metric per model, benchmark, mode and `by` (`group`: the rule or bug kind;
    `bug_origin`; `reference_source`)."""
    check_independent(results)
    rows = []
    for (model, benchmark, mode, key), frame in results.group_by(["model", "benchmark", "mode", by],
                                                                maintain_order=True):
        main = share(frame, MAIN_METRIC[benchmark])
        rows.append({"model": model, "benchmark": benchmark, "mode": mode, by: key,
                     **{k: main[k] for k in ("n", "value", "ci_low", "ci_high")}})
    frame = pl.DataFrame(rows, schema={"model": pl.String, "benchmark": pl.String, "mode": pl.String, by: pl.String,
                                       "n": pl.Int64, "value": pl.Float64, "ci_low": pl.Float64,
                                       "ci_high": pl.Float64})
    return frame.sort(["benchmark", by, "model", "mode"])


def rule_breakdown(results: pl.DataFrame) -> pl.DataFrame:
    """The main metric per model, benchmark, mode and rule (bug kind or `source rule`)."""
    return breakdown(results, "group")


def paired_outcomes(results: pl.DataFrame, benchmark: str, mode: str, metric: str | None = None) -> pl.DataFrame:
    """One row per item, one column per model: the per-item outcome (0/1) of one mode on one
    benchmark's metric (default: its main metric), items every model was scored on. What a gate
    pairs (`evals.metrics.paired_bootstrap_difference`)."""
    metric = metric or MAIN_METRIC[benchmark]
    frame = results.filter((pl.col("benchmark") == benchmark) & (pl.col("mode") == mode)).drop_nulls(metric)
    if frame.is_empty():
        return pl.DataFrame({"item_id": []}, schema={"item_id": pl.String})
    wide = frame.select("item_id", "model", pl.col(metric).cast(pl.Int8)).pivot(
        on="model", index="item_id", values=metric)
    return wide.drop_nulls().sort("item_id")


def plot_scores(summary: pl.DataFrame, path: Path) -> Path:
    """One panel per benchmark: each model's main metric with its confidence interval, one bar per
    mode (the legend names it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = summary.filter(pl.col("main"))
    benchmarks = sorted(main["benchmark"].unique().to_list())
    figure, axes = plt.subplots(1, max(1, len(benchmarks)), figsize=(6 * max(1, len(benchmarks)), 4.2), squeeze=False)
    width = 0.8 / len(MODES)
    for axis, benchmark in zip(axes[0], benchmarks, strict=False):
        frame = main.filter(pl.col("benchmark") == benchmark)
        models = frame["model"].unique(maintain_order=True).to_list()
        for offset, (mode, colour) in enumerate(zip(MODES, ("#4c72b0", "#dd8452"), strict=True)):
            cells = {r["model"]: r for r in frame.filter(pl.col("mode") == mode).iter_rows(named=True)}
            xs = [i + (offset - (len(MODES) - 1) / 2) * width for i, m in enumerate(models) if m in cells]
            rows = [cells[m] for m in models if m in cells]
            axis.bar(xs, [100 * r["value"] for r in rows], width,
                     yerr=[[100 * (r["value"] - r["ci_low"]) for r in rows], [100 * (r["ci_high"] - r["value"]) for r in rows]],
                     capsize=3, color=colour, label=f"{mode} (n={rows[0]['n'] if rows else 0})")
        axis.set_xticks(range(len(models)), models, rotation=30, fontsize=8)
        axis.set_title(f"{benchmark}: {METRIC_TITLES[MAIN_METRIC[benchmark]]}", fontsize=9)
        axis.set_ylim(0, 100)
        axis.set_ylabel("% of items")
        axis.legend(fontsize=7, title="mode", title_fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_rules(rules: pl.DataFrame, path: Path) -> Path:
    """Heat map per benchmark: `model (mode)` x rules, the main metric in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = sorted(rules["benchmark"].unique().to_list()) or ["(none)"]
    figure, axes = plt.subplots(len(benchmarks), 1, figsize=(10, 2.5 + 2.6 * len(benchmarks)), squeeze=False)
    for axis, benchmark in zip(axes[:, 0], benchmarks, strict=False):
        frame = rules.filter(pl.col("benchmark") == benchmark)
        rows = sorted({(r["model"], r["mode"]) for r in frame.iter_rows(named=True)})
        groups = sorted(frame["group"].unique().to_list())
        cells = {(r["model"], r["mode"], r["group"]): r["value"] for r in frame.iter_rows(named=True)}
        grid = [[100 * cells.get((m, mode, g), float("nan")) for g in groups] for m, mode in rows]
        image = axis.imshow(grid, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(groups)), groups, rotation=35, ha="right", fontsize=7)
        axis.set_yticks(range(len(rows)), [f"{m} ({mode})" for m, mode in rows], fontsize=8)
        axis.set_title(f"{benchmark}: {METRIC_TITLES.get(MAIN_METRIC.get(benchmark, ''), '')} by rule (%), per mode",
                       fontsize=9)
        figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def _cell(row: Mapping | None) -> str:
    if row is None:
        return "-"
    return f"{_percent(row['value'])} [{_percent(row['ci_low'])}, {_percent(row['ci_high'])}] (n={row['n']})"


def markdown_table(summary: pl.DataFrame) -> str:
    """One row per model and mode, metric columns per benchmark, each `value [low, high] (n=)` in percent."""
    columns = [(b, m) for b in (FUNCTION_BENCHMARK, REPAIR_BENCHMARK) for m in METRICS[b]
               if not summary.filter((pl.col("benchmark") == b) & (pl.col("metric") == m)).is_empty()]
    header = "| model | mode | " + " | ".join(f"{b}: {METRIC_TITLES[m]}" for b, m in columns) + " |"
    lines = [header, "|---|---" + "|---" * len(columns) + "|"]
    cells = {(r["model"], r["mode"], r["benchmark"], r["metric"]): r for r in summary.iter_rows(named=True)}
    for model in summary["model"].unique(maintain_order=True).to_list():
        for mode in MODES:
            row = [model, mode] + [_cell(cells.get((model, mode, b, m))) for b, m in columns]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def breakdown_markdown(table: pl.DataFrame, by: str = "group", title: str = "rule") -> str:
    """A breakdown (`breakdown`) as a markdown table, the two modes side by side: main metric in
    percent with its 95% interval and n."""
    lines = [f"| benchmark | {title} | model | " + " | ".join(MODES) + " |", "|---|---|---|" + "---|" * len(MODES)]
    cells = {(r["benchmark"], r[by], r["model"], r["mode"]): r for r in table.iter_rows(named=True)}
    for benchmark, key, model in dict.fromkeys((r["benchmark"], r[by], r["model"]) for r in table.iter_rows(named=True)):
        row = [benchmark, key, model] + [_cell(cells.get((benchmark, key, model, mode))) for mode in MODES]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def main_scores_markdown(results: pl.DataFrame) -> str:
    """What an operator reads first: every repairer in both modes on each benchmark's main metric,
    then the same by bug origin and by reference source (percent, 95% interval, n)."""
    summary = summary_table(results)
    legend = ("Modes: `pass@1` is the first proposal, unverified; `verified@k` the first of up to k proposals "
              "the verifier accepts. Main metric per benchmark (%, 95% Wilson interval, n items):")
    return "\n\n".join([
        legend, markdown_table(summary.filter(pl.col("main"))),
        "By bug origin:", breakdown_markdown(breakdown(results, "bug_origin"), "bug_origin", "bug origin"),
        "By reference source:",
        breakdown_markdown(breakdown(results, "reference_source"), "reference_source", "reference source"),
    ])  # fmt: skip


def rules_markdown(rules: pl.DataFrame) -> str:
    """The per-rule breakdown as a markdown table."""
    return breakdown_markdown(rules, "group", "rule")


def render_report(
    summary: pl.DataFrame,
    rules: pl.DataFrame,
    throughput: pl.DataFrame,
    *,
    title: str = "Repair model evaluation",
    by_origin: pl.DataFrame | None = None,
    by_reference: pl.DataFrame | None = None,
    trivial: Mapping[str, int] | None = None,
    settings: dict[str, object] | None = None,
    gate_text: str | None = None,
    plots: Sequence[str] = (),
) -> str:
    legend = ("Scores in percent with 95% Wilson intervals; `n` items per cell. Modes: `pass@1` is the first "
              "proposal, unverified; `verified@k` the first of up to k proposals the verifier accepts.")
    parts = [f"# {title}", "", legend, "", markdown_table(summary), ""]
    if trivial:
        dropped = f"Items not scored on a metric because the broken file already matches the reference: {dict(trivial)}."
        parts += [dropped, ""]
    if gate_text:
        parts += ["## Deployment gate", "", gate_text, ""]
    if by_origin is not None:
        parts += ["## By bug origin (main metric, %)", "", breakdown_markdown(by_origin, "bug_origin", "bug origin"), ""]
    if by_reference is not None:
        parts += ["## By reference source (main metric, %)", "",
                  breakdown_markdown(by_reference, "reference_source", "reference source"), ""]
    parts += ["## Per rule (main metric, %)", "", rules_markdown(rules)]
    parts += ["", "## Throughput", "",
              "| model | benchmark | items | left out (own reference) | proposals | seconds | items/minute | failed calls |",
              "|---|---|---|---|---|---|---|---|"]
    for row in throughput.iter_rows(named=True):
        parts.append(f"| {row['model']} | {row['benchmark']} | {row['items']} | {row['excluded']} | {row['proposals']} | "
                     f"{row['seconds']:.1f} | {row['items_per_minute']:.1f} | {row['call_failures']} |")
    if settings:
        parts += ["", "## Settings", ""] + [f"- `{key}`: {value}" for key, value in settings.items()]
    for plot in plots:
        parts += ["", f"![{Path(plot).stem}]({Path(plot).name})"]
    return "\n".join(parts) + "\n"
