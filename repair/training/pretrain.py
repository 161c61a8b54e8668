"""A base repair model, pretrained before any user data exists (`repair pretrain`).

1. **Corpus.** Real code from third-party packages installed in the environment (never the standard
   library: the simulator and both benchmarks draw on it). Files that share a function or a window of
   code with any benchmark source or any file the simulator draws on are excluded
   (`repair.training.leakcheck`), and the examples are checked again at the end: a leak fails the run.
2. **Synthetic repairs, diagnosed as the pipeline diagnoses.** The simulator's own mistake generators
   (`repair.simulate.mistakes`) break one top-level function, class or import block of a file at a
   time; ruff and basedpyright lint the broken file and the original (`repair.lint.lint_batch`), the
   prompt's diagnostic is one the pipeline would keep for that state (`pipeline_diagnostics`: e.g.
   pyright's `Expected ":"` for a missing colon, not ruff's syntax error), and the fix (the original,
   as a numbered line diff) must pass the pipeline's verifier (`repair.verify.Verifier`). Kinds only
   pyright sees (attribute and method typos, argument counts) are drawn when pyright lints;
   `linters=("ruff",)` is the older, ~10x cheaper corpus that never shows pyright's messages.
3. **Dataset.** `repair.dataset.build_dataset`: split by project (a package's subpackage), near-duplicates
   and benchmark windows dropped the same way as for user data.
4. **Training.** A byte-level BPE tokenizer on the training split, then the `cpu-tiny-scratch` preset
   (LLM Foundry / Composer, as `repair train`) from a random init; autoresume from `<work>/run`. The
   preset teaches the compact edit (`repair.edits`, docs/formats.md 2b), not the whole diff.
5. **Export.** `export_base` writes safetensors, tokenizer, `repair_prompt.json` and the model card.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shlex
import shutil
import sysconfig
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from repair import pyparse
from repair.prompt import standard_import

if TYPE_CHECKING:
    from repair.diagnostic import Diagnostic

# Pure-Python packages of the locked environment with ordinary application/library code, several
# authors and styles. Big generated or table-like packages (idna's tables, sympy) are left out.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "click", "attr", "requests", "jinja2", "httpx", "anyio", "markdown", "marshmallow", "arrow",
    "flask", "werkzeug", "gunicorn", "alembic", "mako", "dateutil", "jsonschema", "bs4", "cattrs",
    "h11", "humanfriendly", "itsdangerous", "rich", "tqdm", "yaml", "tenacity", "starlette",
    "packaging", "pluggy", "tomlkit", "docker",
    # Added for the second base (more code, more styles: web, data, ML, CLI, cloud clients).
    "aiohttp", "sqlalchemy", "paramiko", "networkx", "fastapi", "uvicorn", "pydantic", "mlflow",
    "composer", "llmfoundry", "peft", "trl", "datasets", "huggingface_hub", "dagster",
    "great_expectations", "litellm", "dspy", "sentry_sdk", "slack_sdk", "jwt", "pyparsing",
    "markdown_it", "mistune", "prompt_toolkit", "typer", "structlog", "watchdog", "websockets",
    "diskcache", "filelock", "platformdirs", "git", "isodate", "jmespath", "tabulate", "cachetools",
    "sqlparse", "hypothesis", "httpcore", "h2", "libcloud", "gql", "graphene", "boto3", "s3transfer",
    "transformers", "pandas", "matplotlib", "torchmetrics",
)  # fmt: skip
FIRST_BASE_PACKAGES = 30  # DEFAULT_PACKAGES[:30]: the list the first base (2400ba from scratch) mined
PRETRAIN_PRESET = "cpu-tiny-scratch"
# Mistakes only pyright reports; with ruff alone they would never verify.
PYRIGHT_ONLY_KINDS = ("misspelled_attribute", "misspelled_method", "wrong_argument_count")
# A removed import is drawn only when it imports one name of the standard library
# (`repair.prompt.standard_import`), which the edit writes `+^` wherever the file's imports are. Any
# other module is a guess: a base trained on removed imports of every module got none of the held-out
# import fixes right (0 of 73 in four held-out sets), and answered misspelled names under a visible
# import block with invented imports. Draws of an import block until one removes a standard import:
STANDARD_IMPORT_TRIES = 6
MAX_SEGMENT_LINES = 60
MAX_FILE_BYTES = 120_000
LINT_BATCH = 200  # states per ruff + basedpyright call
CARD_FILE = "card.json"
RESPONSE_FORMS = {
    "diff": "the numbered line diff (docs/formats.md section 2)",
    "edit": "the compact edit (docs/formats.md section 2b), expanded into the section 2 diff by `repair.model.RepairModel`",
}
NAMES_FORM = (
    "; it reads the names like the flagged one after its prompt and points at them with `$K`"
    " (docs/formats.md section 3b)"
)
# Pretraining runs for an hour or more on a shared CPU: checkpoint (and export, and evaluate) every few
# hundred batches instead of every epoch, so an interruption loses minutes and `--max-duration` can be
# cut short at any checkpoint.
PRETRAIN_OVERRIDES: dict[str, Any] = {
    "save_interval": "250ba",
    "callbacks.hf_checkpointer.save_interval": "250ba",
    "eval_interval": "500ba",
}


def package_roots(packages: Sequence[str]) -> list[tuple[str, Path]]:
    """(name, folder) of each installed package; the standard library is refused."""
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    roots = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"{name!r} is not an installed package (a folder with __init__.py)")
        root = Path(next(iter(spec.submodule_search_locations))).resolve()
        if "site-packages" not in root.parts and root.is_relative_to(stdlib):
            raise ValueError(
                f"{name!r} is part of the standard library ({root}); the simulator and benchmarks use it"
            )
        roots.append((name, root))
    return roots


def _segments(text: str) -> list[tuple[int, int, bool]]:
    """(first line, end line, is the import block) of the file's top-level segments a mistake can go in."""
    import ast

    tree = pyparse.parse(text)
    out, imports = [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        if node.end_lineno and node.end_lineno - start <= MAX_SEGMENT_LINES:
            out.append((start, node.end_lineno, False))
    if imports and imports[-1].end_lineno - imports[0].lineno < MAX_SEGMENT_LINES:
        out.append((imports[0].lineno - 1, imports[-1].end_lineno, True))
    return out


def mistake_weights(linters: Sequence[str], only: Sequence[str] = ()) -> dict[str, float]:
    """The simulator's mistakes `linters` can verify, equally weighted; `only`, when given, keeps
    these kinds (ValueError for one that is unknown or cannot be verified)."""
    from repair.simulate.mistakes import NEEDS_UNDERSTANDING_KINDS

    kinds = [k for k in NEEDS_UNDERSTANDING_KINDS if "pyright" in linters or k not in PYRIGHT_ONLY_KINDS]
    weights = dict.fromkeys(kinds, 1.0)
    refused = sorted(set(only) - set(weights))
    if refused:
        raise ValueError(
            f"mistake kinds {', '.join(refused)} cannot be drawn with the linters {'+'.join(linters)}"
            f" (drawable: {', '.join(weights)})"
        )
    return {kind: weight for kind, weight in weights.items() if not only or kind in only}


@dataclass
class Candidate:
    package: str
    project: str
    file: str
    original: str
    broken: str
    kind: str
    line: int  # 0-based line of the file the mistake is on


def candidates_for_file(
    package: str, root: Path, path: Path, per_file: int, weights: dict[str, float], rng: random.Random
) -> list[Candidate]:
    """Up to `per_file` broken versions of `path`, one simulator mistake in one segment each."""
    from repair.corpus import module_name
    from repair.simulate.mistakes import ProjectFacts

    text = path.read_text(encoding="utf-8")
    try:
        segments = _segments(text)
        facts = ProjectFacts.of(SimpleNamespace(files=[SimpleNamespace(text=text)]))
    except (SyntaxError, ValueError, RecursionError):
        return []
    lines = text.splitlines(keepends=True)
    project = f"{package}.{module_name(path, root)}".split(".")
    project = ".".join(project[:2])  # a package's subpackage or module: the split unit
    rng.shuffle(segments)
    out = []
    for start, end, import_block in segments:
        if len(out) >= per_file:
            break
        segment = "".join(lines[start:end])
        mutation = _mutation(segment, weights, facts, rng, import_block)
        if mutation is None:
            continue
        broken = "".join(lines[:start]) + mutation.broken + "".join(lines[end:])
        out.append(
            Candidate(
                package,
                project,
                path.relative_to(root).as_posix(),
                text,
                broken,
                mutation.kind,
                start + mutation.line,
            )
        )
    return out


def _mutation(segment: str, weights: dict[str, float], facts, rng: random.Random, import_block: bool):
    """One simulator mistake in `segment` (None when none fits); in an import block, one that removes
    a standard import (`STANDARD_IMPORT_TRIES` draws), since any other removed import is a guess."""
    from repair.simulate.mistakes import mutate

    for _ in range(STANDARD_IMPORT_TRIES if import_block else 1):
        try:
            mutation = mutate(segment, weights, facts, rng, import_block=import_block)
        except (SyntaxError, ValueError, IndexError, RecursionError):
            return None
        if mutation is None or mutation.kind != "missing_import" or standard_import(_removed_line(segment, mutation.broken)):
            return mutation
    return None


def _removed_line(text: str, broken: str) -> str:
    """The line `broken` lacks, `text` having one line more."""
    before, after = text.splitlines(), broken.splitlines()
    index = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), len(after))
    return before[index] if index < len(before) else ""


class LintedStates:
    """The pipeline's `repair.verify.Linter` over states already linted in one batch: verification
    needs each state's diagnostics, and one ruff and one basedpyright process per batch of hundreds
    of states is what makes pyright affordable here (a process pair per check is not)."""

    def __init__(self, results: dict[str, Any]):
        self.results = results  # file text -> its LintResult

    def check(self, files: Mapping[str, str], target: str) -> list[Diagnostic]:
        from repair.verify import LintFailure

        result = self.results[files[target]]
        if not result.ok:
            raise LintFailure(result.error)
        return result.diagnostics


def pipeline_diagnostics(broken: Sequence[Diagnostic], original: Sequence[Diagnostic]) -> list[Diagnostic]:
    """The broken state's diagnostics the pipeline would keep (`repair.reproduce`): new (the original
    had no diagnostic with the same source, rule and message), no style rule, no deterministic fix,
    and no ruff syntax error on a line where pyright reports one (the pipeline keeps pyright's)."""
    from repair.reproduce import is_style_rule

    seen = {(d.source, d.code, d.message) for d in original}
    pyright_syntax_lines = {d.start_line for d in broken if d.source == "pyright" and d.code == "syntax"}
    return [
        d
        for d in broken
        if (d.source, d.code, d.message) not in seen
        and not is_style_rule(d.code)
        and not d.has_code_action
        and not (d.source == "ruff" and d.code == "syntax" and d.start_line in pyright_syntax_lines)
    ]


def verify_candidates(
    candidates: Sequence[Candidate],
    linters: Sequence[str],
    progress: Callable[[str], None] = print,
    rng: random.Random | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """`verified_repairs`-shaped rows for the candidates the pipeline would learn from: each broken
    file and its original linted by `linters` through `repair.lint.lint_batch`, the diagnostic the
    pipeline keeps (`pipeline_diagnostics`) nearest the mistake's line, errors first (a tie, e.g.
    ruff F821 and pyright reportUndefinedVariable on one name, drawn by `rng`, as the pipeline keeps
    both), and the fix (the original, as a numbered line diff) accepted by the pipeline's
    `repair.verify.Verifier`. Counts: candidates = verified + no_new_diagnostic + each rejection."""
    import hashlib

    from repair.linediff import make_diff, render_diff
    from repair.lint.batch import LintBudget, lint_batch
    from repair.verify import Verifier

    rng = rng or random.Random(0)
    rows: list[dict[str, Any]] = []
    counts: Counter[str] = Counter(candidates=len(candidates), no_new_diagnostic=0)
    # pyright takes ~0.5 s per library file on this machine: the call's timeout grows with the batch.
    budget = LintBudget(timeout_s=LINT_BATCH * 3.0, per_state_s=2.0, deadline_s=LINT_BATCH * 10.0)
    for start in range(0, len(candidates), LINT_BATCH):
        batch = candidates[start : start + LINT_BATCH]
        texts = sorted({text for c in batch for text in (c.original, c.broken)})
        name = "main.py"
        linted = dict(
            zip(
                texts,
                lint_batch([{name: t} for t in texts], [name] * len(texts), tools=linters, budget=budget),
                strict=True,
            )
        )
        verifier = Verifier(LintedStates(linted))
        for candidate in batch:
            broken, original = linted[candidate.broken], linted[candidate.original]
            if not broken.ok or not original.ok:
                counts["lint_failed"] += 1
                continue
            new = pipeline_diagnostics(broken.diagnostics, original.diagnostics)
            if not new:
                counts["no_new_diagnostic"] += 1
                continue
            rank = {d: (d.severity != "error", abs(d.start_line - candidate.line)) for d in new}
            nearest = min(rank.values())
            diagnostic = rng.choice([d for d in new if rank[d] == nearest])
            diff = render_diff(make_diff(candidate.broken, candidate.original))
            verdict = verifier.verify(candidate.broken, diagnostic, diff)
            if not verdict.accepted:
                counts[verdict.verdict] += 1
                continue
            key = f"{candidate.package}/{candidate.file}:{candidate.line}:{candidate.kind}:{candidate.broken}"
            rows.append(
                {
                    # Stable across runs (str.__hash__ is salted per process): the dataset orders by it.
                    "diagnostic_id": hashlib.sha1(key.encode()).hexdigest()[:16],
                    "repl": candidate.project,
                    "file": Path(candidate.file).name,
                    "source": diagnostic.source,
                    "code": diagnostic.code,
                    "severity": diagnostic.severity,
                    "message": diagnostic.message,
                    "start_line": diagnostic.start_line,
                    "start_character": diagnostic.start_character,
                    "end_line": diagnostic.end_line,
                    "end_character": diagnostic.end_character,
                    "content": candidate.broken,
                    "diff": diff,
                    "teacher": f"synthetic:{candidate.kind}",
                    "verdict": "accepted",
                    "package": candidate.package,
                }
            )
        progress(
            f"verified {min(start + LINT_BATCH, len(candidates))}/{len(candidates)} candidates: {len(rows)} repairs"
        )
    counts["verified"] = len(rows)
    return rows, dict(counts)


@dataclass
class CorpusSettings:
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    per_file: int = 8
    max_files_per_package: int | None = None
    seed: int = 0
    # The pipeline's linters: its prompts carry pyright's messages as often as ruff's.
    linters: tuple[str, ...] = ("ruff", "pyright")
    max_file_bytes: int = MAX_FILE_BYTES
    window: int | None = None  # None: repair.dataset.DEFAULT_WINDOW
    kinds: tuple[str, ...] = ()  # mistake kinds to draw; empty: every one `mistake_weights` allows
    # Keep fixes that write a name the prompt does not show (`repair.prompt.names_not_shown`).
    recalled_names: bool = True


def build_corpus(
    work: Path,
    settings: CorpusSettings,
    progress: Callable[[str], None] = print,
    tokenizer_from: Path | None = None,
) -> dict[str, Any]:
    """Mines, leak-checks and splits the synthetic repairs into `<work>/data/jsonl`, trains the
    tokenizer into `<work>/tokenizer` (or copies `tokenizer_from`'s, the base a run continues);
    returns (and writes to `<work>/corpus.json`) the corpus card.
    Raises `LeakError` when an example still shares code with a reference after the exclusions."""
    from evals.sources import benchmark_sources
    from repair.corpus import iter_source_files
    from repair.dataset import DEFAULT_WINDOW, build_dataset, count_by, prompt_code, write_finetuning_files
    from repair.training.leakcheck import LeakError, LeakIndex, check_examples, reference_sources
    from repair.training.scratch import DEFAULT_VOCAB_SIZE, train_tokenizer

    started = time.perf_counter()
    window = settings.window if settings.window is not None else DEFAULT_WINDOW
    references = reference_sources()
    progress(
        f"indexing {len(references)} reference sources (benchmarks and simulator files) for the leak check"
    )
    index = LeakIndex.build(references)
    rng = random.Random(settings.seed)
    weights = mistake_weights(settings.linters, only=settings.kinds)
    files_by_package: dict[str, int] = {}
    excluded: list[dict[str, str]] = []
    candidates: list[Candidate] = []
    for package, root in package_roots(settings.packages):
        paths = list(iter_source_files(root, reserved=()))[: settings.max_files_per_package]
        for path in paths:
            rel = f"{package}/{path.relative_to(root).as_posix()}"
            try:
                if path.stat().st_size > settings.max_file_bytes:
                    continue
                hits = index.check(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, OSError):
                continue
            if hits:
                excluded.append({"file": rel, **hits[0], "hits": str(len(hits))})
                continue
            files_by_package[package] = files_by_package.get(package, 0) + 1
            candidates.extend(candidates_for_file(package, root, path, settings.per_file, weights, rng))
        progress(
            f"{package}: {files_by_package.get(package, 0)} files, {len(candidates)} candidate mistakes so far"
        )
    rows, verify_counts = verify_candidates(candidates, settings.linters, progress, rng)
    # A target on a line the prompt does not show is a guess too (e.g. a definition moved away).
    built = build_dataset(
        rows,
        benchmark_sources(),
        window=window,
        targets_in_window=True,
        names_in_prompt=not settings.recalled_names,
    )
    leaks = check_examples(index, ((e["diagnostic_id"], prompt_code(e["prompt"])) for e in built.examples))
    leak_report = {
        "references": {
            "benchmark_sources": sum(name.startswith("benchmark:") for name in references),
            "simulator_files": sum(name.startswith("simulator:") for name in references),
            **index.counts,
        },
        "method": "exact normalised-token hashes of functions and 6-line windows against every reference; MinHash (Jaccard >= 0.7) of each example against benchmark windows",
        "files_excluded": len(excluded),
        "excluded": excluded,
        "benchmark_near_duplicate_examples_dropped": built.counts["removed"].get("benchmark_leak", 0),
        "leaks_in_final_examples": len(leaks),
    }
    if leaks:
        raise LeakError(f"{len(leaks)} pretraining examples share code with references, e.g. {leaks[:5]}")
    rows_by_split = write_finetuning_files(built.examples, work / "data")
    if tokenizer_from is not None:
        copy_tokenizer(tokenizer_from, work / "tokenizer")
    else:
        train = [e for e in built.examples if e["split"] == "train"]
        train_tokenizer((e["prompt"] + e["response"] for e in train), work / "tokenizer", DEFAULT_VOCAB_SIZE)
    card = {
        "packages": {p: files_by_package.get(p, 0) for p in settings.packages},
        "files": sum(files_by_package.values()),
        "settings": {**settings.__dict__, "window": window},
        "verification": verify_counts,
        "dataset": built.counts,
        "rows_by_split": rows_by_split,
        "mistakes": count_by(built.examples, "teacher"),
        "rules": count_by(built.examples, "rule"),
        "leak_check": leak_report,
        "build_s": round(time.perf_counter() - started, 1),
    }
    (work / "corpus.json").write_text(json.dumps(card, indent=1))
    progress(
        f"corpus: {built.counts['kept']} examples {rows_by_split}, {len(excluded)} files excluded by the leak check"
    )
    return card


def corpus_command(work: Path, settings: Mapping[str, Any]) -> str:
    """The `repair pretrain --corpus-only` command that builds the corpus a card's `settings` describe."""
    args = ["--work", _shown(work), "--corpus-only", "--per-file", str(settings["per_file"])]
    if settings["max_files_per_package"] is not None:
        args += ["--max-files", str(settings["max_files_per_package"])]
    args += ["--max-file-bytes", str(settings["max_file_bytes"]), "--seed", str(settings["seed"])]
    if "pyright" not in settings["linters"]:
        args.append("--no-pyright")
    if tuple(settings["packages"]) != DEFAULT_PACKAGES:
        args += [a for package in settings["packages"] for a in ("--package", package)]
    args += [a for kind in settings.get("kinds", ()) for a in ("--kind", kind)]
    if not settings.get("recalled_names", True):
        args.append("--no-recalled-names")
    return "uv run repair pretrain " + shlex.join(args)


def _shown(path: Path) -> str:
    """`path` relative to the working directory (the repository root in a card) when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def combine_corpora(work: Path, others: Sequence[Path]) -> dict[str, Any]:
    """Writes `<work>/data/combined/jsonl`: each split of WORK's corpus and of every corpus in `others`
    (earlier `repair pretrain` work folders, e.g. a smaller one linted with pyright beside a large
    ruff-only one) together. A project keeps one split in every corpus (`repair.dataset.split_of` is a
    hash of its id), so the splits stay disjoint by project; a prompt met again is dropped, the test
    split's copy kept before the validation's before the training's. Rows are ordered by a hash of the
    row, so a held-out prefix draws on every corpus. Returns what the card records. Raises ValueError
    when a folder holds no corpus or its prompts show another window."""
    import hashlib

    from repair.dataset import SPLITS

    cards = {}
    for folder in (work, *others):
        card_file = folder / "corpus.json"
        if not card_file.is_file():
            raise ValueError(
                f"{folder} holds no corpus (no corpus.json): build it with `repair pretrain --work {folder} --corpus-only`"
            )
        cards[folder] = json.loads(card_file.read_text())
    windows = {folder: card["settings"]["window"] for folder, card in cards.items()}
    if len(set(windows.values())) > 1:
        raise ValueError(f"the corpora's prompts show different windows (lines either side): {windows}")
    out = work / "data" / "combined" / "jsonl"
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    rows_by_split: dict[str, int] = {}
    repeated = 0
    for split in reversed(SPLITS):
        kept = []
        for folder in cards:
            path = folder / "data" / "jsonl" / f"{split}.jsonl"
            for line in path.read_text().splitlines() if path.is_file() else []:
                prompt = json.loads(line)["prompt"]
                if prompt in seen:
                    repeated += 1
                    continue
                seen.add(prompt)
                kept.append(line)
        kept.sort(key=lambda line: hashlib.sha1(line.encode()).hexdigest())
        (out / f"{split}.jsonl").write_text("".join(f"{line}\n" for line in kept))
        rows_by_split[split] = len(kept)
    return {
        "rows_by_split": {split: rows_by_split[split] for split in SPLITS},
        "repeated_prompts_dropped": repeated,
        "corpora": [
            {
                "work": _shown(folder),
                "files": card["files"],
                "linters": card["settings"]["linters"],
                "examples": card["dataset"]["kept"],
                "rows_by_split": card["rows_by_split"],
                "mistakes": card["mistakes"],
                "leaks_in_final_examples": card["leak_check"]["leaks_in_final_examples"],
                "command": corpus_command(folder, card["settings"]),
            }
            for folder, card in cards.items()
            if folder != work
        ],
    }


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def copy_tokenizer(model_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(model_dir / name, out / name)


def progress_line(record: dict[str, Any], total_batches: int | None) -> str:
    """One line of training progress: loss, tokens/s and the ETA when the duration is in batches."""
    if record.get("event") != "train":
        return "eval: " + ", ".join(f"{k}={v}" for k, v in record.items() if k not in ("event",))
    batch, elapsed = record["batch"], record["elapsed_s"]
    eta = ""
    if total_batches and batch:
        eta = f", ETA {max(0.0, elapsed / batch * (total_batches - batch)) / 60:.1f} min"
    return (
        f"batch {batch}/{total_batches or '?'} loss {record['loss']:.4f} "
        f"{record['tokens_per_s'] or 0:.0f} tok/s, {elapsed / 60:.1f} min{eta}"
    )


def batches_of(max_duration: str | None) -> int | None:
    return int(max_duration[:-2]) if max_duration and max_duration.endswith("ba") else None


def pretrain_settings(
    work: Path,
    max_duration: str,
    overrides: dict[str, Any] | None = None,
    init_from: Path | None = None,
    data_dir: Path | None = None,
):
    """`train_base`'s `TrainingSettings`. A continued base keeps its own tokenizer: its embeddings
    index that vocabulary, and WORK's (trained when its corpus was built without `--init-from`) may
    number the same tokens differently."""
    from repair.training.config import TrainingSettings

    return TrainingSettings(
        preset=PRETRAIN_PRESET,
        data_dir=str(data_dir or work / "data" / "jsonl"),
        model_dir=str(init_from or work / "scratch_model"),
        tokenizer_dir=str(init_from or work / "tokenizer"),
        run_dir=str(work / "run"),
        run_name="repair-base-pretrain",
        max_duration=max_duration,
        overrides={
            **PRETRAIN_OVERRIDES,
            **({"model.pretrained": True} if init_from else {}),
            **(overrides or {}),
        },
    )


def names_overrides(names: bool | None, init_from: Path | None = None) -> dict[str, str]:
    """The loaders' preprocessing for `--names/--no-names`: the edit with the names like the flagged
    one (docs/formats.md 3b) or without; None follows the --init-from base
    (`repair.training.config.follow_base_names`), and from scratch shows them."""
    from repair.model import EDIT_PREPROCESSING_FN, NAMED_EDIT_PREPROCESSING_FN

    if names is None:
        if init_from is not None:
            return {}
        names = True
    preprocessing = NAMED_EDIT_PREPROCESSING_FN if names else EDIT_PREPROCESSING_FN
    return {f"{loader}.dataset.preprocessing_fn": preprocessing for loader in ("train_loader", "eval_loader")}


def train_base(
    work: Path,
    max_duration: str,
    overrides: dict[str, Any] | None = None,
    sink: Callable[[dict[str, Any]], None] | None = None,
    init_from: Path | None = None,
    data_dir: Path | None = None,
):
    """Trains the scratch preset on `data_dir` (default `<work>/data/jsonl`; `combine_corpora`'s
    folder when other corpora join), resuming `<work>/run`, from a random init with `<work>/tokenizer`,
    or from the weights of the base in `init_from` with that base's own tokenizer (a longer run on a
    larger corpus without paying again for the batches that base already had); returns the run and
    its rendered config."""
    from omegaconf import OmegaConf

    from repair.training.config import render_config, run_training, validate_config
    from repair.training.scratch import init_scratch_model

    settings = pretrain_settings(work, max_duration, overrides, init_from, data_dir)
    cfg = render_config(settings)
    if init_from is None:
        dims = OmegaConf.to_container(cfg.variables.scratch_model)
        dims.pop("vocab_size", None)  # the tokenizer decides
        init_scratch_model(settings.model_dir, settings.tokenizer_dir, **dims)
    validate_config(cfg)
    return run_training(cfg, sink=sink), cfg


def export_base(export_dir: Path, out: Path, window: int, response: str, names: bool = False) -> Path:
    """Copies the weights (safetensors), config and tokenizer of an export into `out`, with the
    prompt window, the response form (`repair.model.response_format_of`) and whether it reads the
    names like the flagged one (`repair.model.names_of`) it was trained with."""
    from repair.model import write_prompt_settings

    out.mkdir(parents=True, exist_ok=True)
    for path in export_dir.iterdir():
        if path.is_file() and (
            path.suffix in (".json", ".safetensors", ".txt") or path.name == "tokenizer.model"
        ):
            shutil.copy2(path, out / path.name)
    if not any(out.glob("*.safetensors")):
        raise FileNotFoundError(f"no safetensors weights in {export_dir}")
    write_prompt_settings(out, window, response, names)
    return out


def loss_curve_points(losses: Sequence[tuple[int, float]], points: int = 12) -> list[tuple[int, float]]:
    """About `points` (batch, training loss) pairs spread over the run, the last one included: the
    learning curve the model card reports."""
    if not losses:
        return []
    step = max(1, len(losses) // points)
    return [*losses[::step][: points - 1], losses[-1]] if len(losses) > points else list(losses)


def model_card_markdown(card: dict[str, Any]) -> str:
    corpus, training, heldout, leak = (
        card["corpus"],
        card["training"],
        card.get("heldout", {}),
        card["corpus"]["leak_check"],
    )
    packages = ", ".join(f"{p} ({n})" for p, n in corpus["packages"].items())
    tokenizer_origin = (
        "the continued base's (below)" if card.get("init_from") else "trained on the corpus's training split"
    )
    mistakes = ", ".join(f"{kind.split(':', 1)[-1]} {n}" for kind, n in corpus["mistakes"].items())
    outside = corpus["dataset"].get("target_outside_window")
    recalled = corpus["dataset"].get("target_name_not_in_prompt")
    dropped = (f", {outside} whose fix edits a line the prompt does not show dropped" if outside else "") + (
        f", {recalled} whose fix writes a name the prompt does not show dropped" if recalled else ""
    )
    lines = [
        f"# {card['name']}: a pretrained base repair model",
        "",
        "Written by `repair pretrain` (`repair/training/pretrain.py`); `card.json` holds every figure below.",
        "The `cpu-tiny` preset finetunes from this folder by default.",
        "",
        "| | |",
        "| --- | --- |",
        f"| model | Llama-style, {card['parameters']:,} parameters ({card['shape']}), fp32 safetensors, {card['size_bytes'] / 1e6:.1f} MB |",
        f"| tokenizer | byte-level BPE, {card['vocab_size']} tokens, {tokenizer_origin} |",
        f"| output | {RESPONSE_FORMS[card.get('response', 'diff')]}{NAMES_FORM if card.get('names') else ''} |",
        f"| corpus | {corpus['files']} files of {len(corpus['packages'])} third-party packages: {packages} |",
        f"| synthetic repairs | {corpus['verification']['candidates']} simulator mistakes -> {corpus['verification']['verified']} verified by {', '.join(corpus['settings']['linters'])} -> {corpus['dataset']['kept']} examples after dedup{dropped} (train/validation/test {corpus['rows_by_split']['train']}/{corpus['rows_by_split']['validation']}/{corpus['rows_by_split']['test']}, split by subpackage) |",
        f"| mistakes | {mistakes} |",
        f"| leak check | {leak['references']['benchmark_sources']} benchmark sources and {leak['references']['simulator_files']} simulator files indexed ({leak['method']}): {leak['files_excluded']} corpus files excluded, {leak['benchmark_near_duplicate_examples_dropped']} examples near a benchmark window dropped, **{leak['leaks_in_final_examples']} leaks in the final examples** |",
        f"| training | {training['batches']} batches of {card['global_batch_size']} ({card['max_duration']}), loss {training['first_loss']} -> {training['final_loss']}, {training['tokens_per_s']} tokens/s at the end |",
        f"| hardware and time | {card['hardware']}; {training['wall_s'] / 60:.1f} min wall this run{card.get('resumed_note', '')}, {card['cpu_s'] / 60:.1f} CPU-min |",
    ]
    combined = card.get("combined")
    if combined:
        joined = "; ".join(
            f"`{c['work']}`: {c['examples']} examples of {c['files']} files verified by {', '.join(c['linters'])}, {c['leaks_in_final_examples']} leaks"
            for c in combined["corpora"]
        )
        split = combined["rows_by_split"]
        lines.append(
            f"| trained also on | {joined}. Together, train/validation/test {split['train']}/{split['validation']}/{split['test']} ({combined['repeated_prompts_dropped']} repeated prompts dropped; a project keeps its split in every corpus) |"
        )
    if training.get("loss_curve"):
        curve = ", ".join(f"{batch}: {loss:.2f}" for batch, loss in training["loss_curve"])
        lines.append(f"| learning curve (batch: training loss) | {curve} |")
    if heldout:
        split_name = "the combined" if combined else "base's own"
        lines.append(
            f"| held-out ({split_name} test split) | exact match {heldout['exact_match']:.1%} (pass@1 of the served decoding), well-formed diffs {heldout['well_formed']:.1%}, n={heldout['items']} |"
        )
    parent = card.get("init_from")
    if parent:
        deepened = (
            " (deepened to this model's layers by `--grow-layers`, the new ones starting as no-ops)"
            if parent["parameters"] != card["parameters"]
            else ""
        )
        lines.append(
            f"| continued from | `{parent['name']}` as it was before this run ({parent['parameters']:,} parameters, {parent['max_duration']} of {parent['global_batch_size']}, {parent['cpu_s'] / 60:.1f} CPU-min; its held-out exact match {parent['heldout'].get('exact_match', 0):.1%} on its own test split): weights{deepened} and tokenizer |"
        )
    lines += ["", "Reproduce (from the repository root):", ""]
    if parent:
        lines += [
            (
                "The first commands rebuild the bases this run continued (`--init-from`), oldest first, then this run's. "
                f"Commands without `--package` mine the default list, which held only its first {FIRST_BASE_PACKAGES} "
                "packages when the first base was trained: for that one, add `--package P` for each of them. "
                "Commands without `--max-file-bytes` predate linting with pyright by default: add `--no-pyright` to them. "
                "The corpora up to `.data/pretrain9` also kept repairs whose fix edits a line the prompt does not show. "
                "Those up to `.data/pretrain11` drew removed imports of any module, and `.data/pretrain12` to "
                "`.data/pretrain20` none: their commands now draw removed standard-library imports only."
            ),
            "",
        ]
    lines += ["```", *reproduce_commands(card), "```", ""]
    return "\n".join(lines)


def reproduce_commands(card: dict[str, Any]) -> list[str]:
    """The card's command after those of the bases it continued (`init_from`), oldest first, those
    that build the other corpora it trained on (`combined`), and the one that builds the corpus of
    its own work folder (a run keeps the one it finds there, whatever seed and limits built it);
    each command once."""
    parent = card.get("init_from")
    corpora = [c["command"] for c in (card.get("combined") or {}).get("corpora", [])]
    work, settings = _work_of(card["command"]), card.get("corpus", {}).get("settings")
    if work and "--corpus-only" not in card["command"] and settings:
        corpora.append(corpus_command(Path(work), settings))
    ordered: list[str] = []
    for command in dict.fromkeys(
        [*(reproduce_commands(parent) if parent else []), *corpora, card["command"]]
    ):
        # A corpus an earlier base's run already used (its own work folder) is built before that run.
        work = _work_of(command)
        first_use = next((i for i, c in enumerate(ordered) if _work_of(c) == work), len(ordered))
        ordered.insert(first_use if "--corpus-only" in command else len(ordered), command)
    return ordered


def _work_of(command: str) -> str | None:
    """The `--work` folder a `repair pretrain` command names, None when it names none."""
    argv = shlex.split(command)
    return argv[argv.index("--work") + 1] if "--work" in argv else None


def write_model_card(out: Path, card: dict[str, Any]) -> None:
    (out / CARD_FILE).write_text(json.dumps(card, indent=1))
    (out / "README.md").write_text(model_card_markdown(card))
