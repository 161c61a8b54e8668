"""The harness over the search repairer and "no change" on a handful of items, the report and
plots (the gate: test_gate.py), the held-out selection and the model specs."""

from __future__ import annotations

import polars as pl
import pytest

from evals.function_benchmark import default_linter
from evals.harness import (
    MODES,
    NoChange,
    evaluate,
    paired_outcomes,
    rule_breakdown,
    summary_table,
    trivial_items,
)
from evals.items import REPAIR_BENCHMARK, Item, items_from_frame, items_to_frame
from evals.models import SearchProposer, parse_model_spec, resolve_finetuned
from evals.repair_benchmark import select_repair_benchmark
from evals.run import run_evaluation
from repair import registry
from resources.object_store import LocalObjectStore

BROKEN = "def total(numbers: list[int]) -> int:\n    return sum(number)\n"
FIXED = "def total(numbers: list[int]) -> int:\n    return sum(numbers)\n"


@pytest.fixture(scope="module")
def repair_item() -> Item:
    diagnostics = default_linter([{"main.py": BROKEN}], ["main.py"])[0]
    target = next(d for d in diagnostics if d.code == "reportUndefinedVariable")
    return Item("held-1", REPAIR_BENCHMARK, "pyright:reportUndefinedVariable", "repl-9", "main.py", BROKEN,
                target, FIXED)


@pytest.fixture(scope="module")
def handful(small_benchmark, repair_item) -> list[Item]:
    items, _ = small_benchmark
    by_kind = {}
    for item in items:
        by_kind.setdefault(item.group, item)
    return [*list(by_kind.values())[:6], repair_item]


class Exploding:
    name = "exploding"

    def propose(self, code, diagnostic, file_name="main.py", context_files=None):
        raise RuntimeError("model server went away")


def test_harness_scores_search_and_no_change_in_both_modes(handful, tmp_path):
    results, throughput = evaluate([SearchProposer(), NoChange(), Exploding()], handful, k=5)
    assert results.height == 3 * len(handful) * len(MODES)
    assert set(results["mode"]) == set(MODES)
    floor = results.filter(pl.col("model") == "no_change")
    assert set(floor["status"]) == {"no_fix"}
    assert floor.filter(pl.col("benchmark") == "repair")["tests_pass"].null_count() == len(MODES)
    search = results.filter(pl.col("model") == "search")
    assert search["proposals"].max() <= 5
    by_mode = {mode: search.filter(pl.col("mode") == mode) for mode in MODES}
    # verified@k takes the first proposal the verifier accepts: never worse than the first proposal.
    assert by_mode["verified@k"]["resolved"].sum() >= by_mode["pass@1"]["resolved"].sum()
    assert by_mode["verified@k"]["tests_pass"].sum() >= 2
    fixed_repair = by_mode["verified@k"].filter(pl.col("item_id") == "held-1").row(0, named=True)
    assert fixed_repair["status"] == "fixed" and fixed_repair["ast_exact"] and fixed_repair["resolved"]
    errors = results.filter(pl.col("model") == "exploding")
    assert all(s.startswith("error: RuntimeError: model server went away") for s in errors["status"])
    assert not errors["ast_or_string"].any()
    assert set(throughput["model"]) == {"search", "no_change", "exploding"}

    summary = summary_table(results)
    main = summary.filter(pl.col("main") & (pl.col("model") == "search") & (pl.col("benchmark") == "function_repair"))
    assert set(main["mode"]) == set(MODES)
    for row in main.iter_rows(named=True):
        assert row["metric"] == "tests_pass" and row["ci_low"] <= row["value"] <= row["ci_high"]
    breakdown = rule_breakdown(results)
    assert set(breakdown["group"]) == {item.group for item in handful}
    paired = paired_outcomes(results, "function_repair", "verified@k")
    assert set(paired.columns) == {"item_id", "search", "no_change", "exploding"}
    assert paired.height == len(handful) - 1


def test_no_change_scores_zero_on_every_metric_by_construction(handful):
    """An item whose broken file already matches the reference (here: only formatting differs)
    is dropped from the reference metrics and counted; no_change then scores 0 everywhere."""
    repair_item = handful[-1]
    trivial = Item("trivial-1", REPAIR_BENCHMARK, repair_item.group, "repl-9", "main.py", repair_item.content,
                   repair_item.diagnostic, repair_item.content.replace("\n", "  \n"))
    items = [*handful, trivial]
    assert trivial_items(items) == {"ast_exact": 1, "ast_or_string": 1}
    results, _ = evaluate([NoChange()], items)
    summary = summary_table(results)
    assert set(summary["mode"]) == set(MODES)
    assert summary["successes"].sum() == 0 and summary["value"].max() == 0.0
    row = results.filter((pl.col("item_id") == "trivial-1") & (pl.col("mode") == "pass@1")).row(0, named=True)
    assert row["ast_exact"] is None and row["ast_or_string"] is None and row["resolved"] is False
    n = summary.filter((pl.col("benchmark") == "repair") & (pl.col("metric") == "ast_or_string"))["n"].to_list()
    assert n == [1, 1]  # the trivial item is not among them


def test_a_repairer_is_never_scored_on_references_it_wrote(handful):
    import dataclasses

    mine = dataclasses.replace(handful[-1], item_id="by-search", reference_source="agreement",
                               reference_by=("user_fix", "search"))
    results, throughput = evaluate([SearchProposer(), NoChange()], [handful[-1], mine])
    assert results.filter(pl.col("item_id") == "by-search")["model"].unique().to_list() == ["no_change"]
    assert throughput.filter(pl.col("model") == "search")["excluded"].to_list() == [1]
    forged = pl.concat([results, results.filter(pl.col("model") == "no_change").with_columns(
        pl.lit("search").alias("model"), pl.lit('["user_fix", "search"]').alias("reference_by"))])
    with pytest.raises(ValueError, match="whose reference it wrote"):
        summary_table(forged)


def test_run_writes_report_and_plots(handful, tmp_path):
    outcome = run_evaluation(handful[:3], [parse_model_spec("no_change")], tmp_path)
    for name in ("report.md", "scores.png", "rules.png", "results.parquet"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| no_change | pass@1 |" in outcome.report and "| no_change | verified@k |" in outcome.report
    assert "## Per rule" in outcome.report and "## By bug origin" in outcome.report
    assert "## By reference source" in outcome.report
    assert outcome.gate is None


def test_the_published_run_reads_back_as_the_operators_table(handful, tmp_path):
    """What `repair demo` prints after the lifecycle: the newest published run's results, every
    repairer in both modes, then by bug origin and by reference source, each cell with its CI and n."""
    from evals.harness import main_scores_markdown
    from evals.run import latest_results, publish

    store = LocalObjectStore(tmp_path / "store")
    assert latest_results(store) is None
    outcome = run_evaluation(handful, [parse_model_spec("search"), parse_model_spec("no_change")], tmp_path / "run")
    report_key = publish(store, tmp_path / "run", "20261201T000000Z")
    assert store.exists(report_key)
    results = latest_results(store)
    assert results is not None and results.equals(outcome.results)
    text = main_scores_markdown(results)
    for model in ("search", "no_change"):
        for mode in MODES:
            assert f"| {model} | {mode} |" in text
    assert "| no_change | pass@1 | 0.0 [0.0, " in text
    origins, references = text.split("By bug origin:")[1].split("By reference source:")
    function_items = sum(item.benchmark == "function_repair" for item in handful)
    for model in ("search", "no_change"):
        assert f"| function_repair | injected | {model} | " in origins, text
        assert f"| function_repair | program | {model} | " in references, text
    assert f"(n={function_items}) |" in origins and f"(n={function_items}) |" in references, text


def test_items_round_trip_through_a_frame(handful):
    assert items_from_frame(items_to_frame(handful)) == handful


def _verified_row(diagnostic_id, repl, code="F821", verdict="accepted", content="a = b\n", fixed="a = 1\n",
                  teacher="search", agrees=None):
    from repair.linediff import make_diff, render_diff

    return {"diagnostic_id": diagnostic_id, "repl": repl, "session": "s1", "version": 3, "file": "main.py",
            "source": "ruff", "code": code, "severity": "error", "message": "Undefined name `b`", "start_line": 0,
            "start_character": 4, "end_line": 0, "end_character": 5, "content": content, "fixed_content": fixed,
            "verdict": verdict, "diff": render_diff(make_diff(content, fixed)), "teacher": teacher,
            "agrees_with_truth": agrees}


def test_repair_benchmark_references_come_from_no_evaluated_repairer():
    from evals.repair_benchmark import parse_reviews
    from repair.ground_truth import TruthIndex

    rows = [
        # Two independent sources agree (the user's later fix, and search's identical one: `duplicate`).
        _verified_row("agree", "real-repl", teacher="user_fix"),
        _verified_row("agree", "real-repl", verdict="duplicate"),
        # One source only, or two that disagree: no reference, whatever was verified.
        _verified_row("alone", "real-repl"),
        _verified_row("disagree", "real-repl", teacher="user_fix", fixed="a = 2\n"),
        _verified_row("disagree", "real-repl"),
        _verified_row("unverified", "real-repl", verdict="new_error", teacher="user_fix"),
        _verified_row("unverified", "real-repl"),
        # A simulated day: the recorded true fix is the reference, not search's (different) fix.
        _verified_row("simulated", "sim-repl", content="a = b\nc = 2\n", fixed="a = 1\nc = 2\n"),
        # Reviews: reject, correct with a diff, accept a teacher's fix.
        _verified_row("rejected", "real-repl", teacher="user_fix"),
        _verified_row("rejected", "real-repl", verdict="duplicate"),
        _verified_row("corrected", "real-repl"),
        _verified_row("accepted", "real-repl"),
        _verified_row("train", "train-repl", teacher="user_fix"),
        _verified_row("train", "train-repl", verdict="duplicate"),
        _verified_row("long", "real-repl", content="a = b\n" + "x = 1\n" * 500, fixed="a = 1\n" + "x = 1\n" * 500,
                      teacher="user_fix"),
        _verified_row("long", "real-repl", content="a = b\n" + "x = 1\n" * 500, fixed="a = 1\n" + "x = 1\n" * 500,
                      verdict="duplicate"),
        # Already matches its reference under the normalisation (only a trailing blank differs).
        _verified_row("trivial", "real-repl", content="a = b  \n", fixed="a = b\n", teacher="user_fix"),
        _verified_row("trivial", "real-repl", content="a = b  \n", fixed="a = b\n", verdict="duplicate"),
    ]
    truth = TruthIndex([{
        "repl": "sim-repl", "session": "s1", "file": "main.py", "introduced_version": 1, "fixed_version": 9,
        "diagnostics": [{"source": "ruff", "code": "F821", "message": "Undefined name `b`"}],
        "broken_lines": [{"line": 1, "text": "a = b"}], "clean_diff": "<diff>\n-1 a = b\n+1 a = 7\n</diff>",
    }])
    reviews, invalid = parse_reviews([
        '{"diagnostic_id": "rejected", "decision": "reject", "reviewer": "ann"}',
        '{"diagnostic_id": "corrected", "decision": "correct", "diff": "<diff>\\n-1 a = b\\n+1 a = 3\\n</diff>"}',
        '{"diagnostic_id": "accepted", "decision": "accept", "teacher": "search"}',
        '{"diagnostic_id": "x", "decision": "maybe"}',
        "not json",
    ])
    assert [row["record"] for row in invalid] == ["reviewed_references:4", "reviewed_references:5"]
    held_out = {row["diagnostic_id"] for row in rows} - {"train"}
    items, report = select_repair_benchmark(pl.DataFrame(rows), held_out, truth=truth, reviews=reviews)
    found = {item.item_id: item for item in items}
    assert set(found) == {"agree", "simulated", "corrected", "accepted"}
    assert (found["agree"].reference_source, found["agree"].reference_by) == ("agreement", ("user_fix", "search"))
    assert found["agree"].bug_origin == "real"
    simulated = found["simulated"]
    assert simulated.fixed_content == "a = 7\nc = 2\n" and simulated.reference_by == ("simulator",)
    assert simulated.reference_source == "ground_truth" and simulated.bug_origin == "simulated"
    assert (found["corrected"].fixed_content, found["corrected"].reference_by) == ("a = 3\n", ("reviewer",))
    assert found["accepted"].reference_by == ("search", "reviewer")
    assert report.dropped == {
        "no independent reference (one source, or sources that disagree)": 3, "rejected by review": 1,
        "file longer than 400 lines": 1, "broken file already matches the reference": 1,
    }
    assert report.candidates == len(items) + sum(report.dropped.values())
    assert report.by_reference_source == {"agreement": 1, "ground_truth": 1, "reviewed": 2}
    # Search never sees the items whose reference it wrote.
    results, throughput = evaluate([SearchProposer()], items)
    assert set(results["item_id"]) == {"simulated", "corrected"}
    assert throughput["excluded"].to_list() == [2]


def test_repair_benchmark_is_balanced_by_rule():
    rows = []
    for index in range(5):
        rows += [_verified_row(f"d{index}", "real-repl", teacher="user_fix"),
                 _verified_row(f"d{index}", "real-repl", verdict="duplicate")]
    rows += [_verified_row("e", "real-repl", code="E999", teacher="user_fix"),
             _verified_row("e", "real-repl", code="E999", verdict="duplicate")]
    items, report = select_repair_benchmark(pl.DataFrame(rows), {r["diagnostic_id"] for r in rows}, max_per_rule=2)
    assert report.kept_by_rule == {"ruff:F821": 2, "ruff:E999": 1}
    assert report.dropped == {"over the per-rule cap": 3}
    again, _ = select_repair_benchmark(pl.DataFrame(rows[::-1]), {r["diagnostic_id"] for r in rows}, max_per_rule=2)
    assert [i.item_id for i in again] == [i.item_id for i in items]  # a seeded, order-free pick


def test_model_specs_and_registry(tmp_path):
    assert parse_model_spec("finetuned:v3").name == "finetuned:v3"
    assert parse_model_spec("dspy-fewshot:openai/gpt-4o-mini").target == "openai/gpt-4o-mini"
    with pytest.raises(ValueError, match="unknown kind"):
        parse_model_spec("gpt4")
    with pytest.raises(ValueError, match="needs a target"):
        parse_model_spec("triton")
    store = LocalObjectStore(tmp_path / "store")
    with pytest.raises(FileNotFoundError, match="no approved model"):
        resolve_finetuned(parse_model_spec("finetuned"), store)
    for version in (1, 2, 3):
        store.write_text(f"models/code_repair/v{version}/model/config.json", "{}")
        record = registry.record_candidate(store, registry.MODEL, version, data_version=str(version), checks={})
        if version < 3:  # v3 stays a candidate: the newest APPROVED one is the default
            registry.approve(store, record)
    assert resolve_finetuned(parse_model_spec("finetuned"), store) == ("finetuned:v2", 2, "")
    assert resolve_finetuned(parse_model_spec("finetuned:v1"), store) == ("finetuned:v1", 1, "")
    assert resolve_finetuned(parse_model_spec("finetuned:/data/ckpt"), None) == ("finetuned:ckpt", None, "/data/ckpt")


def test_few_shot_demonstrations_come_from_the_train_split():
    from evals.models import demonstrations_from_dataset
    from repair.diagnostic import Diagnostic
    from repair.linediff import make_diff, render_diff
    from repair.prompt import render_prompt

    code, diagnostic = "x = y\n", Diagnostic("ruff", "F821", "error", "Undefined name `y`", 0, 4, 0, 5)
    prompt, response = render_prompt(code, diagnostic), render_diff(make_diff(code, "x = 1\n"))
    dataset = pl.DataFrame({"prompt": [prompt, prompt, "not a prompt"], "response": [response, response + " ", response],
                            "split": ["test", "train", "train"], "diagnostic_id": ["a", "b", "c"]})
    (demo,) = demonstrations_from_dataset(dataset, 4)
    assert demo.numbered_code == "#main.py\n1 x = y" and demo.error_line == "1 x = y"
    assert demo.diagnostic == "Undefined name `y` (ruff F821)" and demo.diff == response + " "
