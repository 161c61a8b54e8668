"""Stage `evaluation`: the two benchmarks and the model comparison that gates deployment
(see docs/evaluation.md; the logic lives in `evals/`).

- `repair_benchmark`: held-out (code, diagnostic, reference fix) items from the dataset's test
  projects, balanced by rule (production-style; AST match); references no evaluated repairer wrote
  (the simulator's ground truth, two agreeing sources, or a review record).
- `function_repair_benchmark`: DebugBench-style bugs injected into programs with tests (the reserved
  stdlib modules with their `Lib/test` suites, this project's problems, optional DebugBench /
  HumanEvalPack files); kept only when the linter flags them and the tests break.
- `model_evaluation`: every configured repairer on both benchmarks (the approved candidate, the
  serving model, the baselines): the model x benchmark table with confidence intervals, per-rule
  breakdown, throughput and plots in the metadata, the markdown report in the object store, and
  the per-item results that `deployment_gate` (repair_assets/deployment.py) decides on.
"""

import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from repair import registry
from repair_assets._tables import SCORE_COLUMNS, frame_table
from resources.benchmarks import BenchmarkSourcesResource
from resources.choices import BugKind
from resources.object_store import ObjectStoreResource
from resources.teacher_lm import TeacherLMResource

GROUP = "evaluation"


class RepairBenchmarkConfig(dg.Config):
    max_per_rule: int = Field(default=40, description="Items kept per rule (`source:code`) at most: the balance.")
    max_lines: int = Field(default=400, description="Longer files are dropped as low quality for an exact-match benchmark.")
    reviewed_references: str = Field(
        default="reviewed_references/reviewed.jsonl",
        description="Store key of the review records (JSON Lines: `diagnostic_id`, `decision` accept / correct / "
        "reject, `teacher` for accept, `diff` for correct, `reviewer`); absent: no reviews.",
    )
    seed: int = Field(default=0, description="Seed of the sample kept per rule (same seed, same items).")


class FunctionBenchmarkConfig(dg.Config):
    stdlib: bool = Field(default=True, description="The reserved stdlib modules run against their own `Lib/test` suites.")
    problems: bool = Field(default=True, description="This project's LeetCode-style problems (`evals/problems/`).")
    handwritten: bool = Field(default=True, description="With `problems`: the hand-written bugs in them (`evals/problems/handwritten/`, bug origin `handwritten`).")
    kinds: list[BugKind] | None = Field(default=None, description="Bug kinds to inject; empty: all of them.")
    only_programs: list[str] | None = Field(default=None, description="Keep only these programs (`problem:two_sum`, `stdlib:textwrap`, ...); None: all.")
    functions_per_program: int = Field(default=3, description="Functions of each program that get injected bugs.")
    tries_per_kind: int = Field(default=2, description="Injection attempts per function and bug kind (a try that changes no test outcome is dropped).")
    seed: int = Field(default=0, description="Seed of the injection (same seed, same bugs).")
    workers: int = Field(default=2, description="Processes that run the programs' tests in parallel.")


class ModelEvaluationConfig(dg.Config):
    models: list[str] = Field(default=["search", "no_change"], description="Baselines and extra models as specs (`evals.models`); the candidate finetuned model, the production model and the `teacher_lm` model (zero- and few-shot) are added automatically.")
    llm_models: list[str] = Field(default=[], description="More LiteLLM models, each evaluated zero- and few-shot (keys from the provider's environment).")
    include_teacher_lm: bool = Field(default=True, description="Also evaluate the `teacher_lm` resource's model, zero- and few-shot (when it is configured).")
    few_shot: int = Field(default=4, description="Worked examples in the prompt of the few-shot LLM baselines.")
    temperature: float = Field(default=0.0, description="Decoding temperature for every model evaluated: 0 (greedy; an edit model's beams) as the served Triton config decodes, so that the gate judges what would serve; 0.1 is the case study's sampling.")
    top_p: float = Field(default=0.95, description="Nucleus sampling: the smallest set of tokens with this much probability.")
    top_k: int = Field(default=50, description="Sample among at most this many most likely tokens.")
    max_new_tokens: int = Field(default=192, description="Longest answer generated per item (a diff longer than this is cut and fails).")
    k: int = Field(default=5, description="Proposals per item in the `verified@k` mode (the search repairer's k cheapest candidates, a model's k samples; the first the verifier accepts is scored). `pass@1` scores the first, unverified.")
    max_items_per_benchmark: int | None = Field(default=150, description="Evaluate on a seeded sample of each benchmark (None: every item). The default keeps an in-process CPU evaluation of a model within tens of minutes; production sets None.")
    workers: int = Field(default=2, description="Items evaluated in parallel.")


@dg.asset(
    group_name=GROUP,
    kinds={"python", "polars"},
    ins={
        "verified_repairs": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "repair_dataset": dg.AssetIn(),
    },
    check_specs=[
        dg.AssetCheckSpec("held_out_from_training", asset="repair_benchmark", blocking=True,
                          description="No item is a diagnostic, or comes from a project, that the dataset's train or "
                                      "validation split holds."),
        dg.AssetCheckSpec("balanced_by_rule", asset="repair_benchmark", blocking=False,
                          description="No rule holds more than the per-rule cap."),
    ],
)
def repair_benchmark(
    context: dg.AssetExecutionContext,
    config: RepairBenchmarkConfig,
    verified_repairs: pl.DataFrame,
    repair_dataset: pl.DataFrame,
    object_store: ObjectStoreResource,
):
    """Held-out (code, diagnostic, reference fix) items from the dataset's test projects, balanced by
    rule, each reference from a source no evaluated repairer is (ground truth, agreement, review)."""
    from evals.items import items_to_frame
    from evals.repair_benchmark import (
        held_out_diagnostics,
        load_reviews,
        select_repair_benchmark,
        training_leaks,
    )
    from repair.ground_truth import TruthIndex, read_all_mistakes

    store = object_store.get_store()
    reviews, invalid_reviews = load_reviews(store, config.reviewed_references)
    held_out = held_out_diagnostics(repair_dataset)
    items, report = select_repair_benchmark(
        verified_repairs, held_out, truth=TruthIndex(read_all_mistakes(store)), reviews=reviews,
        max_per_rule=config.max_per_rule, max_lines=config.max_lines, seed=config.seed,
    )
    report.invalid_reviews = invalid_reviews
    frame = items_to_frame(items)
    context.log.info(f"repair_benchmark: {frame.height} items from {report.candidates} held-out diagnostics; "
                     f"references {dict(report.by_reference_source)}; dropped {dict(report.dropped)}")
    yield dg.Output(frame, metadata={
        "dagster/row_count": frame.height,
        "selection": dg.MetadataValue.json(report.as_metadata()),
        "by_reference_source": dg.MetadataValue.json(dict(report.by_reference_source)),
        "invalid_review_rows": len(invalid_reviews),
        "rules": len(report.kept_by_rule),
        "projects": frame["origin"].n_unique() if frame.height else 0,
    })
    leaked_items, leaked = training_leaks(frame, repair_dataset)
    yield dg.AssetCheckResult(check_name="held_out_from_training", passed=not leaked and not leaked_items,
                              metadata={"leaked_projects": leaked[:20], "leaked_count": len(leaked),
                                        "leaked_items": leaked_items[:20]})
    largest = max(report.kept_by_rule.values(), default=0)
    yield dg.AssetCheckResult(check_name="balanced_by_rule", passed=largest <= config.max_per_rule,
                              metadata={"largest_rule": largest, "cap": config.max_per_rule})


@dg.asset(
    group_name=GROUP,
    kinds={"python", "polars"},
    check_specs=[
        dg.AssetCheckSpec("references_pass_their_tests", asset="function_repair_benchmark", blocking=True,
                          description="Each program's reference (correct) code passes its tests in the "
                                      "sandbox: a fix can be scored at all."),
        dg.AssetCheckSpec("every_kind_present", asset="function_repair_benchmark", blocking=False,
                          description="Every configured bug kind has at least one item."),
    ],
)
def function_repair_benchmark(
    context: dg.AssetExecutionContext,
    config: FunctionBenchmarkConfig,
    object_store: ObjectStoreResource,
    benchmark_sources: BenchmarkSourcesResource,
):
    """DebugBench-style bugs, flagged by the language server and breaking the tests, in programs with tests."""
    from evals.function_items import function_benchmark_items, reference_failures
    from evals.items import items_to_frame

    started = time.monotonic()
    built = function_benchmark_items(
        stdlib=config.stdlib, problems=config.problems, handwritten=config.handwritten,
        files=benchmark_sources.benchmark_files(), only_programs=config.only_programs, kinds=config.kinds or (),
        functions_per_program=config.functions_per_program, tries_per_kind=config.tries_per_kind,
        seed=config.seed, workers=config.workers, progress=context.log.info,
    )  # fmt: skip
    collected, items, report, kinds = built.collected, built.items, built.report, built.kinds
    frame = items_to_frame(items)
    quarantine_key = "quarantine/function_repair_benchmark/all.parquet"
    quarantine = pl.DataFrame(collected.quarantined, schema={"record": pl.String, "reason": pl.String, "file": pl.String})
    store = object_store.get_store()
    with tempfile.TemporaryDirectory() as tmp:
        quarantine.write_parquet(Path(tmp) / "q.parquet")
        store.write_bytes(quarantine_key, (Path(tmp) / "q.parquet").read_bytes())

    def counts(column: str) -> dict[str, int]:
        return dict(sorted(frame.group_by(column).len().iter_rows())) if frame.height else {}

    yield dg.Output(frame, metadata={
        "dagster/row_count": frame.height,
        "by_kind": dg.MetadataValue.json(counts("group")),
        "by_origin": dg.MetadataValue.json(counts("origin")),
        "by_bug_origin": dg.MetadataValue.json(counts("bug_origin")),
        "programs": len(collected.programs),
        "build": dg.MetadataValue.json(report.as_metadata()),
        "quarantined_records": quarantine.height,
        "quarantine": dg.MetadataValue.url(store.uri(quarantine_key)),
        "seconds": round(time.monotonic() - started, 1),
    })
    failures = reference_failures(collected)
    yield dg.AssetCheckResult(check_name="references_pass_their_tests", passed=not failures,
                              metadata={"programs": len(collected.programs), "failing": failures[:20]})
    missing = sorted(set(kinds) - set(frame["group"].to_list()))
    yield dg.AssetCheckResult(check_name="every_kind_present", passed=not missing,
                              metadata={"missing_kinds": missing})


@dg.asset(group_name=GROUP, kinds={"python", "pytorch"})
def model_evaluation(
    context: dg.AssetExecutionContext,
    config: ModelEvaluationConfig,
    repair_benchmark: pl.DataFrame,
    function_repair_benchmark: pl.DataFrame,
    repair_dataset: pl.DataFrame,
    approved_model: registry.VersionRecord,
    object_store: ObjectStoreResource,
    teacher_lm: TeacherLMResource,
):
    """Every repairer on both benchmarks in both modes; the tables, plots and report; per-item
    results for the gate."""
    from evals.models import Decoding
    from evals.run import GATE_MODE
    from evals.version_evaluation import benchmark_items, evaluate_model_version

    store = object_store.get_store()
    llms = ([teacher_lm.model_name()] if config.include_teacher_lm and teacher_lm.configured else []) + list(config.llm_models)
    evaluation = evaluate_model_version(
        store, approved_model, benchmark_items((function_repair_benchmark, repair_benchmark), config.max_items_per_benchmark),
        models=config.models, llm_models=llms, repair_dataset=repair_dataset,
        decoding=Decoding(config.temperature, config.top_p, config.top_k, config.max_new_tokens),
        few_shot=config.few_shot, lm_options=teacher_lm.lm_options(), workers=config.workers, k=config.k,
        log=context.log.info,
    )  # fmt: skip
    outcome = evaluation.outcome
    yield dg.Output(evaluation.value(), metadata={
        # Every repairer (the candidate, the serving model, the baselines) x benchmark x mode x metric.
        "scores": frame_table(outcome.summary, SCORE_COLUMNS),
        "by_bug_origin": frame_table(outcome.by_origin, SCORE_COLUMNS),
        "by_reference_source": frame_table(outcome.by_reference, SCORE_COLUMNS),
        "per_rule": frame_table(outcome.breakdown, SCORE_COLUMNS),
        "not_scored_already_matching": dg.MetadataValue.json(outcome.trivial),
        "modes": f"pass@1 and verified@k (k={config.k}); the gate compares {GATE_MODE}",
        "plots": dg.MetadataValue.md(evaluation.plots_markdown),
        "throughput": frame_table(outcome.throughput.with_columns(pl.col("seconds", "items_per_minute").round(1))),
        "report": dg.MetadataValue.url(store.uri(evaluation.report_key)),
        "models": dg.MetadataValue.json(outcome.models),
        "items": evaluation.items,
    })
