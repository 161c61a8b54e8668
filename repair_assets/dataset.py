"""Group `dataset`: verified repairs -> `repair_dataset`, the leak-free finetuning dataset.

`repair_dataset` reads every materialized day of `verified_repairs`, builds prompt/response pairs,
splits them by project, removes near-duplicates and benchmark leaks (`repair.dataset`), writes a
CANDIDATE version to `datasets/repair_dataset/v<N>/` (LLM Foundry JSONL and MDS shards) with its
check results in the registry record, and returns the table. `approved_dataset`, downstream of the
blocking checks, approves it: a failed check stops the run before anything reads the version.
See docs/training.md and docs/deployment.md (publication).
"""

import dagster as dg
import polars as pl
from pydantic import Field

from repair import dataset as ds
from repair import registry
from repair.training.scratch import DEFAULT_VOCAB_SIZE
from resources.benchmarks import BenchmarkSourcesResource
from resources.object_store import ObjectStoreResource

GROUP = "dataset"
CODE_VERSION = ds.CODE_VERSION  # part of the data version (repair/dataset.py)
MAX_SEQ_LEN_FOR_CARD = 384  # the cpu-tiny preset's: longer examples are dropped by LLM Foundry


class RepairDatasetConfig(dg.Config):
    window: int = Field(default=ds.DEFAULT_WINDOW, description="Lines kept either side of the error line in each prompt.")
    dedup_threshold: float = Field(default=ds.DEFAULT_THRESHOLD, description="Jaccard similarity (MinHash estimate over 5-gram code shingles) at which two examples are near-duplicates.")
    num_perm: int = Field(default=ds.DEFAULT_NUM_PERM, description="MinHash permutations.")
    train_fraction: float = Field(default=ds.DEFAULT_FRACTIONS[0], description="Share of projects in the train split (the three fractions sum to 1).")
    validation_fraction: float = Field(default=ds.DEFAULT_FRACTIONS[1], description="Share of projects in the validation split.")
    test_fraction: float = Field(default=ds.DEFAULT_FRACTIONS[2], description="Share of projects in the test split.")
    split_seed: str = Field(default="", description="Changes which projects land in which split (keep it fixed so that projects keep their split).")
    card_vocab_size: int = Field(default=DEFAULT_VOCAB_SIZE, description="Vocabulary of the byte-level BPE used to measure token lengths for the card.")

    def settings(self) -> ds.DatasetSettings:
        return ds.DatasetSettings(
            window=self.window, threshold=self.dedup_threshold, num_perm=self.num_perm,
            fractions=(self.train_fraction, self.validation_fraction, self.test_fraction),
            split_seed=self.split_seed, card_vocab_size=self.card_vocab_size, card_max_seq_len=MAX_SEQ_LEN_FOR_CARD,
        )  # fmt: skip


def _card_metadata(made: ds.PublishedDataset, store) -> dict:
    """The dataset card as metadata: the version, counts by split, removals, rules, teachers, lengths."""
    from repair.training.plots import markdown_image

    built, card, record = made.built, made.card, made.record
    return {
        "dataset_version": record.version,
        "status": record.status,
        "location": dg.MetadataValue.url(record.uri),
        "rows_by_split": dg.MetadataValue.json(built.counts["by_split"]),
        "projects_by_split": dg.MetadataValue.json(built.counts["projects_by_split"]),
        # Per split: rows from settled diagnostics, rows the ground truth covers, targets agreeing.
        "targets_by_split": dg.MetadataValue.json(built.counts["targets_by_split"]),
        "removed_by_reason": dg.MetadataValue.json(built.counts["removed"]),
        "quarantined": len(built.quarantined),
        "quarantine": dg.MetadataValue.url(made.quarantine_uri),
        "not_accepted": built.counts["not_accepted"],
        "other_repairs_of_same_diagnostic": built.counts["other_repair_of_same_diagnostic"],
        "rule_and_split": dg.MetadataValue.md(
            _markdown_counts(card["by_rule_and_split"], "| rule | split | examples |")
        ),
        "teacher_mix": dg.MetadataValue.json(card["teacher_mix"]),
        "token_length": dg.MetadataValue.json(card.get("token_length", {})),
        "token_length_histogram": dg.MetadataValue.md(
            markdown_image(made.histogram_png, "token-length histogram")
            + f"\n\n[{made.histogram_key}]({store.uri(made.histogram_key)})"
        ),
    }


def _markdown_counts(counts: dict[str, int], header: str) -> str:
    rows = [f"| {key.replace('/', ' | ')} | {value} |" for key, value in counts.items()]
    columns = header.count("|") - 1
    return "\n".join([header, "|" + " --- |" * columns, *rows])


@dg.asset(
    group_name=GROUP,
    code_version=CODE_VERSION,
    kinds={"python", "polars", "mosaicml"},
    pool="dataset",  # one version claimed at a time, whatever runs race (limit 1: dagster.yaml)
    ins={"verified_repairs": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    check_specs=[
        dg.AssetCheckSpec(
            "no_leaks",
            asset="repair_dataset",
            blocking=True,
            description="No project in two splits, no training example near a held-out one, and no "
            "train/validation example showing benchmark code: exact normalised-token hashes of functions "
            "and MinHash at 0.5 against every raw benchmark source (independent of the dedup).",
        ),
        dg.AssetCheckSpec(
            "well_formed_examples",
            asset="repair_dataset",
            blocking=True,
            description="A non-empty training split, and every response a well-formed, non-empty <diff>.",
        ),
    ],
)
def repair_dataset(
    context: dg.AssetExecutionContext,
    config: RepairDatasetConfig,
    object_store: ObjectStoreResource,
    benchmark_sources: BenchmarkSourcesResource,
    verified_repairs: pl.DataFrame,
):
    """Prompt/response pairs (`prompt, response, split, repl, rule, teacher, diagnostic_id`) from
    every accepted repair, split by project and deduplicated; written as a candidate dataset
    version (or the existing version with the same content). Metadata is the dataset card: counts by rule and split, teacher mix, removals by
    reason, token-length histogram."""

    store = object_store.get_store()
    named_sources = benchmark_sources.named_sources()
    made = ds.make_dataset(store, verified_repairs.to_dicts(), named_sources, config.settings(),
                           code_version=CODE_VERSION, log=context.log.info)  # fmt: skip
    frame = made.frame()
    yield dg.Output(
        frame,
        data_version=dg.DataVersion(made.data_version),
        metadata={
            "dagster/row_count": frame.height, **_card_metadata(made, store),
            "benchmark_sources": len(named_sources), "dedup_threshold": config.dedup_threshold,
        },
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="no_leaks",
        passed=made.checks["no_leaks"].passed,
        metadata={"leaks": len(made.leaks), "first_leaks": dg.MetadataValue.json(made.leaks[:20])},
    )
    yield dg.AssetCheckResult(
        check_name="well_formed_examples",
        passed=made.checks["well_formed_examples"].passed,
        metadata={
            "train_rows": made.built.counts["by_split"]["train"],
            "malformed": len(made.malformed),
            "first_malformed": dg.MetadataValue.json(made.malformed[:20]),
        },
    )


@dg.asset(group_name=GROUP, code_version=CODE_VERSION, kinds={"python"})
def approved_dataset(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource, repair_dataset: pl.DataFrame
) -> registry.VersionRecord:
    """The dataset version training reads: `repair_dataset`'s candidate, approved here, after its
    blocking checks passed (Dagster runs this step only then; the registry refuses it otherwise)."""
    store = object_store.get_store()
    data_version = ds.data_version(repair_dataset.to_dicts(), CODE_VERSION)
    candidate = registry.find_by_data_version(store, registry.DATASET, data_version)
    if candidate is None:
        raise dg.Failure(f"no dataset version with data version {data_version}: materialize repair_dataset")
    record = registry.approve(store, candidate)
    context.add_output_metadata({
        "dataset_version": record.version,
        "data_version": record.data_version,
        "checks": dg.MetadataValue.json({name: c.passed for name, c in record.checks.items()}),
        "location": dg.MetadataValue.url(record.uri),
    })  # fmt: skip
    return record
