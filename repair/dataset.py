"""Verified repairs -> a clean, leak-free finetuning dataset (issue: dataset and training).

Steps, each counted so that rows in = rows out + rows dropped (by reason):

1. Examples. Accepted repairs only, one per diagnostic (the shortest accepted diff); the prompt is
   the section 3 input cut to `window` lines around the error line, the response the section 2
   `<diff>` block (LLM Foundry appends end of sequence). A row whose prompt or diff cannot be built
   is quarantined with the reason.
2. Split by project (`repl`): a stable hash of the repl picks train / validation / test, so that no
   project spans two splits and a project keeps its split as new days arrive.
3. Near-duplicate removal the way StarCoder did it: MinHash over 5-gram shingles of the code tokens,
   LSH at Jaccard threshold `DEFAULT_THRESHOLD` (0.7, StarCoder's), over the code each prompt shows.
   In order: examples resembling any evaluation benchmark's source are dropped from every split;
   validation examples resembling a test example, and train examples resembling a validation or test
   example, are dropped; within each split only the first of a group of near-duplicates is kept.
4. `find_leaks` rescans the result independently (the blocking check of `repair_dataset`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import registry

# Lines kept either side of the error line in the prompt. Short prompts are what lets a small model
# learn the task: the answer depends on the few lines around the error, and a whole file would
# spend the sequence on text the diff never touches.
DEFAULT_WINDOW = 4
# StarCoder's near-deduplication: Jaccard similarity 0.7 over 5-grams of code tokens.
DEFAULT_THRESHOLD = 0.7
SHINGLE_SIZE = 5
DEFAULT_NUM_PERM = 128
SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
# Bump when the code that builds the dataset changes what it builds: it is part of the data version,
# so the asset and `repair dataset` give the same version for the same repairs.
CODE_VERSION = "2"
DATASET_COLUMNS = ("prompt", "response", "split", "repl", "rule", "teacher", "diagnostic_id")

_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[^\sA-Za-z0-9_]")


def model_input(prompt: str, names: bool = False) -> str:
    """The text a model is conditioned on: the section 3 prompt and a newline, after which the
    `<diff>` block starts (training and inference must agree on this separator); with `names`, a
    model trained on them (docs/formats.md 3b), then the names like the flagged one
    (`repair.hints.names_line`) and the modules that have it (`repair.hints.modules_line`), when
    there are any."""
    text = prompt if prompt.endswith("\n") else prompt + "\n"
    if not names:
        return text
    from repair.hints import modules_line, names_line
    from repair.prompt import PromptError, parse_prompt

    try:
        parsed = parse_prompt(prompt)
    except PromptError:
        return text
    return text + names_line(parsed) + modules_line(parsed)


# ---------------------------------------------------------------------------------------------
# 1. Examples


def build_examples(
    repairs: Sequence[dict[str, Any]],
    window: int | None = DEFAULT_WINDOW,
    targets_in_window: bool = False,
    names_in_prompt: bool = False,
):
    """(examples, quarantined, counts) from `verified_repairs` rows (dicts).

    `examples` rows have `DATASET_COLUMNS` less `split`; `quarantined` rows `diagnostic_id, teacher,
    reason`; `counts` how many rows were not accepted, how many were redundant repairs of a
    diagnostic that already has one and, with `targets_in_window`, how many were dropped because
    their diff edits a line the prompt does not show (`repair.prompt.diff_in_window`) and, with
    `names_in_prompt`, because their diff writes a name the prompt does not show
    (`repair.prompt.names_not_shown`)."""
    from repair.diagnostic import Diagnostic
    from repair.linediff import DiffError, parse_diff
    from repair.prompt import (
        PromptError,
        diff_in_window,
        names_not_shown,
        parse_prompt,
        render_prompt,
        render_response,
    )

    counts = {
        "rows": len(repairs),
        "not_accepted": 0,
        "other_repair_of_same_diagnostic": 0,
        "target_outside_window": 0,
        "target_name_not_in_prompt": 0,
    }
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    quarantined = []
    for row in repairs:
        if row.get("verdict") != "accepted":
            counts["not_accepted"] += 1
            continue
        try:
            diagnostic = Diagnostic(
                source=row["source"],
                code=row["code"],
                severity=row.get("severity") or "error",
                message=row["message"],
                start_line=int(row["start_line"]),
                start_character=int(row["start_character"]),
                end_line=int(row["end_line"]),
                end_character=int(row["end_character"]),
            )
            diff = parse_diff(row["diff"])
            if diff.is_empty:
                raise ValueError("the accepted diff is empty")
            prompt = render_prompt(row["content"], diagnostic, row.get("file") or "main.py", window)
        except (KeyError, TypeError, ValueError, DiffError, PromptError) as exc:
            reason = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, KeyError) else f"missing column {exc}"
            )
            quarantined.append(
                {
                    "diagnostic_id": str(row.get("diagnostic_id")),
                    "teacher": str(row.get("teacher")),
                    "reason": reason,
                }
            )
            continue
        parsed = parse_prompt(prompt) if targets_in_window or names_in_prompt else None
        if targets_in_window and not diff_in_window(parsed, diff):
            counts["target_outside_window"] += 1
            continue
        if names_in_prompt and names_not_shown(parsed, diff):
            counts["target_name_not_in_prompt"] += 1
            continue
        example = {
            "prompt": model_input(prompt),
            "response": render_response(diff),
            "repl": row["repl"],
            "rule": f"{row['source']}:{row['code']}",
            "teacher": row.get("teacher") or "unknown",
            "diagnostic_id": row["diagnostic_id"],
            # For the card, not the training files: where the target came from and how it compares.
            "settled_by": row.get("settled_by"),
            "agrees_with_truth": row.get("agrees_with_truth"),
        }
        previous = best.get(row["diagnostic_id"])
        if previous is not None:
            counts["other_repair_of_same_diagnostic"] += 1
            if previous[0] <= len(diff):
                continue
        best[row["diagnostic_id"]] = (len(diff), example)
    examples = [example for _, example in sorted(best.values(), key=lambda item: item[1]["diagnostic_id"])]
    return examples, quarantined, counts


# ---------------------------------------------------------------------------------------------
# 2. Split by project


def split_of(repl: str, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: str = "") -> str:
    """The split of a project: a stable hash of its id placed on the cumulative fractions."""
    if len(fractions) != len(SPLITS) or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"split fractions {tuple(fractions)} must be 3 non-negative numbers summing to 1")
    point = int(hashlib.sha256(f"{seed}{repl}".encode()).hexdigest()[:12], 16) / 16**12
    edge = 0.0
    for split, fraction in zip(SPLITS, fractions):
        edge += fraction
        if point < edge:
            return split
    return SPLITS[-1]


# ---------------------------------------------------------------------------------------------
# 3. Near-duplicates


def code_shingles(code: str, size: int = SHINGLE_SIZE) -> set[bytes]:
    """The 5-grams of code tokens (identifiers, numbers, single punctuation), as StarCoder hashed."""
    tokens = _CODE_TOKEN.findall(code)
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def prompt_code(prompt: str) -> str:
    """The code a prompt shows (numbers stripped), which is what near-duplicates are judged on."""
    from repair.prompt import parse_prompt

    return parse_prompt(prompt).code_excerpt


def source_chunks(source: str, window: int = DEFAULT_WINDOW) -> list[str]:
    """A benchmark source cut into overlapping windows of the size prompts show, so that a prompt
    excerpt is compared with text of its own size rather than with a whole file."""
    lines = source.split("\n")
    size = 2 * window + 1
    if len(lines) <= size:
        return [source]
    return ["\n".join(lines[start : start + size]) for start in range(0, len(lines) - window, window + 1)]


class NearDuplicateIndex:
    """MinHash LSH over code: `add(key, code)`, `query(code) -> keys of near-duplicates`."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = DEFAULT_NUM_PERM):
        from datasketch import MinHashLSH

        if not 0 < threshold < 1:
            raise ValueError(f"near-duplicate threshold {threshold} must lie strictly between 0 and 1")
        self.threshold, self.num_perm = threshold, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._minhashes: dict[str, Any] = {}

    def minhash(self, code: str):
        from datasketch import MinHash

        minhash = MinHash(num_perm=self.num_perm)
        minhash.update_batch(list(code_shingles(code)))
        return minhash

    def add(self, key: str, code: str, minhash=None) -> None:
        minhash = minhash if minhash is not None else self.minhash(code)
        self.lsh.insert(key, minhash)
        self._minhashes[key] = minhash

    def query(self, code: str, minhash=None) -> list[str]:
        """Keys whose estimated Jaccard similarity with `code` reaches the threshold (LSH candidates
        confirmed on the signatures, so that banding's false positives are not counted)."""
        minhash = minhash if minhash is not None else self.minhash(code)
        return sorted(
            key for key in self.lsh.query(minhash) if self._minhashes[key].jaccard(minhash) >= self.threshold
        )

    def __len__(self) -> int:
        return len(self._minhashes)


def benchmark_index(
    benchmark_sources: Iterable[str], threshold: float, num_perm: int, window: int = DEFAULT_WINDOW
) -> NearDuplicateIndex:
    index = NearDuplicateIndex(threshold, num_perm)
    for n, source in enumerate(benchmark_sources):
        for m, chunk in enumerate(source_chunks(source, window)):
            if code_shingles(chunk):
                index.add(f"benchmark:{n}:{m}", chunk)
    return index


@dataclass
class DedupResult:
    kept: list[dict[str, Any]]
    removed: list[dict[str, Any]]  # the example plus `reason` and `near` (the key it resembles)
    counts: dict[str, int] = field(default_factory=dict)


def deduplicate(
    examples: Sequence[dict[str, Any]],
    benchmark_sources: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = DEFAULT_NUM_PERM,
    window: int = DEFAULT_WINDOW,
) -> DedupResult:
    """Drops benchmark leaks, cross-split near-duplicates and within-split near-duplicates (module
    docstring, step 3) from split examples (each with a `split`)."""
    probe = NearDuplicateIndex(threshold, num_perm)
    minhashes = [probe.minhash(prompt_code(example["prompt"])) for example in examples]
    by_split = {split: [i for i, e in enumerate(examples) if e["split"] == split] for split in SPLITS}
    unknown = [e["diagnostic_id"] for e in examples if e["split"] not in SPLITS]
    if unknown:
        raise ValueError(f"examples {unknown[:5]} have a split outside {SPLITS}")
    removed: dict[int, tuple[str, str]] = {}

    benchmarks = benchmark_index(benchmark_sources, threshold, num_perm, window)
    if len(benchmarks):
        for i, minhash in enumerate(minhashes):
            near = benchmarks.query("", minhash)
            if near:
                removed[i] = ("benchmark_leak", near[0])

    # Later splits are the reference: test is never touched by this step, validation yields to test,
    # train yields to both.
    reference = NearDuplicateIndex(threshold, num_perm)
    for split in reversed(SPLITS):
        for i in by_split[split]:
            if i in removed:
                continue
            near = reference.query("", minhashes[i])
            if near:
                removed[i] = (f"near_duplicate_of_{near[0].split(':')[0]}", near[0])
        for i in by_split[split]:
            if i not in removed:
                reference.add(f"{split}:{examples[i]['diagnostic_id']}", "", minhashes[i])

    for split in SPLITS:
        within = NearDuplicateIndex(threshold, num_perm)
        for i in by_split[split]:
            if i in removed:
                continue
            near = within.query("", minhashes[i])
            if near:
                removed[i] = (f"near_duplicate_within_{split}", near[0])
            else:
                within.add(examples[i]["diagnostic_id"], "", minhashes[i])

    counts: dict[str, int] = {}
    for reason, _ in removed.values():
        counts[reason] = counts.get(reason, 0) + 1
    return DedupResult(
        kept=[e for i, e in enumerate(examples) if i not in removed],
        removed=[{**examples[i], "reason": r, "near": near} for i, (r, near) in sorted(removed.items())],
        counts=counts,
    )


def find_leaks(
    examples: Sequence[dict[str, Any]],
    benchmark_sources: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = DEFAULT_NUM_PERM,
    window: int = DEFAULT_WINDOW,
) -> list[dict[str, str]]:
    """Every training example near a validation or test example or a benchmark source, and every
    project in two splits: what must never reach training. Empty for a clean dataset."""
    leaks = []
    splits_of_repl: dict[str, set[str]] = {}
    for example in examples:
        splits_of_repl.setdefault(example["repl"], set()).add(example["split"])
    for repl, splits in sorted(splits_of_repl.items()):
        if len(splits) > 1:
            leaks.append({"kind": "project_in_two_splits", "item": repl, "near": ",".join(sorted(splits))})
    held_out = benchmark_index(benchmark_sources, threshold, num_perm, window)
    for example in examples:
        if example["split"] != "train":
            held_out.add(f"{example['split']}:{example['diagnostic_id']}", prompt_code(example["prompt"]))
    for example in examples:
        if example["split"] == "train":
            near = held_out.query(prompt_code(example["prompt"]))
            if near:
                leaks.append(
                    {"kind": "train_near_held_out", "item": example["diagnostic_id"], "near": near[0]}
                )
    return leaks


# ---------------------------------------------------------------------------------------------
# The whole build


@dataclass
class BuiltDataset:
    examples: list[dict[str, Any]]  # DATASET_COLUMNS
    quarantined: list[dict[str, Any]]  # diagnostic_id, teacher, reason
    removed: list[dict[str, Any]]  # near-duplicates and leaks dropped, with reason
    counts: dict[str, Any]


def build_dataset(
    repairs: Sequence[dict[str, Any]],
    benchmark_sources: Iterable[str] = (),
    *,
    window: int = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = DEFAULT_NUM_PERM,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    split_seed: str = "",
    targets_in_window: bool = False,
    names_in_prompt: bool = False,
) -> BuiltDataset:
    """Steps 1 to 3 of the module docstring; `counts` reconciles rows in with rows out.
    `targets_in_window` drops repairs whose diff edits lines outside the prompt, `names_in_prompt`
    those whose diff writes a name the prompt does not show (see `build_examples`)."""
    examples, quarantined, counts = build_examples(repairs, window, targets_in_window, names_in_prompt)
    for example in examples:
        example["split"] = split_of(example["repl"], fractions, split_seed)
    dedup = deduplicate(examples, benchmark_sources, threshold, num_perm, window)
    kept = [{column: e[column] for column in DATASET_COLUMNS} for e in dedup.kept]
    targets = targets_by_split(dedup.kept)
    counts = {
        **counts,
        "window": window,
        "quarantined": len(quarantined),
        "examples_before_dedup": len(examples),
        "removed": dedup.counts,
        "kept": len(kept),
        "by_split": {split: sum(e["split"] == split for e in kept) for split in SPLITS},
        "projects_by_split": {
            split: len({e["repl"] for e in kept if e["split"] == split}) for split in SPLITS
        },
        "targets_by_split": targets,
    }
    # rows = not accepted + quarantined + redundant repairs + outside the window + names not shown
    # + examples; examples = kept + removed.
    assert counts["rows"] == (
        counts["not_accepted"]
        + len(quarantined)
        + counts["other_repair_of_same_diagnostic"]
        + counts["target_outside_window"]
        + counts["target_name_not_in_prompt"]
        + len(examples)
    )
    assert len(examples) == len(kept) + len(dedup.removed)
    return BuiltDataset(kept, quarantined, dedup.removed, counts)


def targets_by_split(examples: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per split: rows, rows from settled diagnostics (the user saw the error; `settled_by` set),
    rows whose target the simulator's ground truth covers, and of those, the ones that agree with
    it (the mistake's clean fix); with the agreeing share."""
    out = {split: {"rows": 0, "settled": 0, "with_truth": 0, "agrees_with_truth": 0} for split in SPLITS}
    for example in examples:
        figures = out[example["split"]]
        figures["rows"] += 1
        figures["settled"] += example.get("settled_by") is not None
        figures["with_truth"] += example.get("agrees_with_truth") is not None
        figures["agrees_with_truth"] += bool(example.get("agrees_with_truth"))
    for figures in out.values():
        with_truth = figures["with_truth"]
        figures["agreement"] = round(figures["agrees_with_truth"] / with_truth, 4) if with_truth else None
    return out


def count_by(examples: Iterable[dict[str, Any]], *columns: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for example in examples:
        key = "/".join(str(example[c]) for c in columns)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------------------
# Writing: LLM Foundry finetuning JSONL and MDS shards


def write_finetuning_files(examples: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, int]:
    """`jsonl/<split>.jsonl` (`{"prompt", "response"}` per line: LLM Foundry's finetuning format,
    loadable as `hf_name: <dir>/jsonl, split: train`) and `mds/<split>/` shards (mosaicml-streaming,
    for `remote:` training from the bucket). Returns rows per split."""
    from streaming import MDSWriter

    out_dir = Path(out_dir)
    rows = {}
    for split in SPLITS:
        subset = [e for e in examples if e["split"] == split]
        rows[split] = len(subset)
        (out_dir / "jsonl").mkdir(parents=True, exist_ok=True)
        with open(out_dir / "jsonl" / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(
                json.dumps({"prompt": example["prompt"], "response": example["response"]}) + "\n"
                for example in subset
            )
        with MDSWriter(
            out=str(out_dir / "mds" / split), columns={"prompt": "str", "response": "str"}
        ) as writer:
            for example in subset:
                writer.write({"prompt": example["prompt"], "response": example["response"]})
    return rows


def token_lengths(examples: Sequence[dict[str, Any]], tokenizer_dir: str | Path) -> list[int]:
    """Tokens of prompt + response (+ end of sequence) per example, as training will see them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    encoded = tokenizer([e["prompt"] + e["response"] for e in examples], add_special_tokens=False)[
        "input_ids"
    ]
    return [len(ids) + 1 for ids in encoded]


def dataset_card(
    built: BuiltDataset, lengths: Sequence[int] | None = None, max_seq_len: int | None = None
) -> dict:
    """Counts by rule and split, teacher mix, what was removed and why, token-length summary."""
    card: dict[str, Any] = {
        "counts": built.counts,
        "targets_by_split": built.counts["targets_by_split"],
        "by_rule_and_split": count_by(built.examples, "rule", "split"),
        "teacher_mix": count_by(built.examples, "teacher"),
        "removed_by_reason_and_split": count_by(built.removed, "reason", "split"),
    }
    if lengths:
        ordered = sorted(lengths)
        card["token_length"] = {
            "min": ordered[0],
            "median": ordered[len(ordered) // 2],
            "p95": ordered[int(len(ordered) * 0.95)],
            "max": ordered[-1],
        }
        if max_seq_len:
            card["token_length"][f"over_{max_seq_len}"] = sum(n > max_seq_len for n in lengths)
    return card


def malformed_examples(examples: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """`{diagnostic_id, reason}` of every example whose response is not a non-empty, well-formed diff."""
    from repair.linediff import DiffError, parse_diff

    malformed = []
    for example in examples:
        try:
            if parse_diff(example["response"]).is_empty:
                malformed.append({"diagnostic_id": example["diagnostic_id"], "reason": "empty diff"})
        except DiffError as exc:
            malformed.append({"diagnostic_id": example["diagnostic_id"], "reason": str(exc)})
    return malformed


def data_version(examples: Iterable[dict[str, Any]], code_version: str) -> str:
    """The content hash of a dataset: its examples (in order) and the code version that built them.
    Same repairs, settings and code give the same data version, so the registry reuses the version."""
    digest = hashlib.sha256(code_version.encode())
    for example in examples:
        digest.update(json.dumps([example[c] for c in DATASET_COLUMNS]).encode())
    return digest.hexdigest()[:16]


def publish_dataset(
    store,
    built: BuiltDataset,
    card: dict[str, Any],
    work_dir: str | Path,
    *,
    data_version: str,
    checks: dict[str, registry.CheckOutcome],
) -> registry.VersionRecord:
    """Writes the dataset as a candidate version (`jsonl/`, `mds/`, `card.json`, then its registry
    record with the check results), or returns the existing version with the same data version
    (no copy). It becomes current only when `registry.approve` is called after its checks."""
    existing = registry.find_by_data_version(store, registry.DATASET, data_version)
    if existing is not None:
        return existing
    version = registry.claim_version(store, registry.DATASET)
    prefix = registry.version_prefix(registry.DATASET, version)
    rows = write_finetuning_files(built.examples, work_dir)
    store.upload_dir(work_dir, prefix)
    store.write_text(f"{prefix}/card.json", json.dumps(card, indent=1, sort_keys=True))
    return registry.record_candidate(
        store, registry.DATASET, version, data_version=data_version, checks=checks,
        details={"rows": rows, "window": built.counts["window"]},
    )  # fmt: skip


@dataclass(frozen=True)
class DatasetSettings:
    """What `make_dataset` builds with (the `repair_dataset` asset's config)."""

    window: int = DEFAULT_WINDOW
    threshold: float = DEFAULT_THRESHOLD
    num_perm: int = DEFAULT_NUM_PERM
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    split_seed: str = ""
    card_vocab_size: int | None = None  # the byte-level BPE measuring the card's token lengths; None: scratch's
    card_max_seq_len: int = 384  # the cpu-tiny preset's: longer examples are dropped by LLM Foundry


@dataclass
class PublishedDataset:
    """A candidate dataset version (or the existing one with the same content) and what made it."""

    built: BuiltDataset
    record: registry.VersionRecord
    data_version: str
    checks: dict[str, registry.CheckOutcome]
    leaks: list[dict[str, Any]]
    malformed: list[dict[str, str]]
    card: dict[str, Any]
    quarantine_uri: str
    histogram_png: bytes
    histogram_key: str

    def frame(self):
        import polars as pl

        return pl.DataFrame(self.built.examples, schema={column: pl.String for column in DATASET_COLUMNS})


def make_dataset(
    store,
    repairs: Sequence[dict[str, Any]],
    named_sources: dict[str, str],
    settings: DatasetSettings,
    *,
    code_version: str,
    log=print,
) -> PublishedDataset:
    """The finetuning dataset from verified repairs, as the `repair_dataset` asset makes it: built
    (split by project, deduplicated, benchmark code removed), quarantine written, leaks and
    malformed examples checked independently of the dedup, the card measured, then published as a
    candidate version with the checks' results (`publish_dataset`)."""
    import tempfile

    import polars as pl

    from repair.ingest.frames import quarantine_key, write_frame
    from repair.leaks import find_benchmark_leaks, index_repairs
    from repair.training.plots import histogram_png
    from repair.training.scratch import DEFAULT_VOCAB_SIZE, train_tokenizer

    sources = [named_sources[name] for name in sorted(named_sources)]
    log(f"{len(repairs)} verified repairs, {len(sources)} benchmark sources")
    built = build_dataset(
        repairs, sources, window=settings.window, threshold=settings.threshold, num_perm=settings.num_perm,
        fractions=settings.fractions, split_seed=settings.split_seed,
    )  # fmt: skip
    log(f"dataset counts: {built.counts}")
    quarantine_uri = write_frame(
        store,
        quarantine_key("repair_dataset", "all"),
        pl.DataFrame(built.quarantined, schema={"diagnostic_id": pl.String, "teacher": pl.String, "reason": pl.String}),
    )
    # Independent of the dedup above: projects in two splits and held-out near-duplicates
    # (`find_leaks`), exact function hashes and a lower MinHash threshold against every raw
    # benchmark source (`repair.leaks`).
    leaks = find_leaks(built.examples, (), settings.threshold, settings.num_perm, settings.window)
    leaks += find_benchmark_leaks(built.examples, index_repairs(repairs), named_sources, window=settings.window)
    malformed = malformed_examples(built.examples)
    train_rows = built.counts["by_split"]["train"]
    checks = {
        "no_leaks": registry.CheckOutcome(not leaks, detail=f"{len(leaks)} leaks"),
        "well_formed_examples": registry.CheckOutcome(
            train_rows > 0 and not malformed, detail=f"{train_rows} train rows, {len(malformed)} malformed"
        ),
    }
    version = data_version(built.examples, code_version)
    with tempfile.TemporaryDirectory() as tmp:
        train_texts = [e["prompt"] + e["response"] for e in built.examples if e["split"] == "train"]
        lengths_by_split: dict[str, list[int]] = {}
        if train_texts:
            tokenizer_dir = train_tokenizer(train_texts, Path(tmp) / "tokenizer", settings.card_vocab_size or DEFAULT_VOCAB_SIZE)
            for split in SPLITS:
                subset = [e for e in built.examples if e["split"] == split]
                lengths_by_split[split] = token_lengths(subset, tokenizer_dir) if subset else []
        all_lengths = [n for values in lengths_by_split.values() for n in values]
        card = dataset_card(built, all_lengths, settings.card_max_seq_len)
        record = publish_dataset(store, built, card, Path(tmp) / "files", data_version=version, checks=checks)
    histogram = histogram_png(lengths_by_split, "prompt + response tokens", "tokens")
    histogram_key = f"{record.prefix}/token_lengths.png"
    store.write_bytes(histogram_key, histogram)
    log(f"dataset v{record.version} ({record.status}, data version {version}) at {record.uri}")
    return PublishedDataset(
        built, record, version, checks, leaks, malformed, card, quarantine_uri, histogram, histogram_key
    )
