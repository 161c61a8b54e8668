"""Decoding of the served repairer: per number of candidates (ranked headers, docs/formats.md 2b;
and token beams, the decoding they replaced, side by side), the held-out exact match, the executable
benchmark's pass@1 and the latency of one request, on one model in one run; and what the answers
the quick check refuses would have scored (why the served model answers `no_fix` then).

    uv run python -m benchmarks.bench_decoding --store /work/demo3/.data/store   # a `repair demo` store
    uv run python -m benchmarks.bench_decoding --model-dir DIR --data DIR/jsonl --candidates 1,4 --no-write

Every answer is the served one (`benchmarks.bench_serving.served_model`: the Triton config's decoding
and torch threads, with `edit_candidates` set to the row's count), given the request's whole file as
Triton gives it. Held-out exact match: the dataset's test split (`--held-out test,validation` adds
its validation split), the answer's diff ops equal to the reference's
(`repair.training.heldout.exact_match`; the split has prompts only, so the quick check sees the
prompt's lines). Executable: `function_repair` on this project's problems as `bench_eval` builds it,
a seeded sample of `--limit` injected bugs and every handwritten one, the tests pass (pass@1). Latency: `RepairService` in
process on the serving smoke cases, one request at a time, median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Decoding of the served repairer"
write_section = partial(results.write_section, SECTION)


class _Served:
    """The served answer (`propose` with the whole file) as an evaluation repairer."""

    def __init__(self, model, name: str):
        self.model, self.name = model, name

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        return self.model.propose(code, diagnostic, file_name)


class _Refused:
    """What the model answered before it could say no fix: its first candidate that is a diff, for
    the requests where no candidate passes the quick check (others: no change, not counted)."""

    def __init__(self, model, name: str):
        self.model, self.name = model, name

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        from repair.model import NO_FIX

        prompt = self.model.prompt(code, diagnostic, file_name)
        if self.model.generate([prompt], [(code, diagnostic)])[0] != NO_FIX:
            return ""
        return _first_diff(self.model.candidates_of([prompt])[0])


def _first_diff(answers: list[str]) -> str:
    from repair.linediff import DiffError, parse_diff

    for answer in answers:
        try:
            parse_diff(answer)
        except DiffError:
            continue
        return answer
    return answers[0]


def same_ops(completion: str, reference: str) -> bool:
    """The held-out exact match's rule (`repair.training.heldout.exact_match`)."""
    from repair.edits import same_fix
    from repair.linediff import DiffError, parse_diff

    try:
        return same_fix(parse_diff(completion), parse_diff(reference))
    except DiffError:
        return False


def held_out(model, test: list[dict]) -> dict:
    """Exact matches, answers `no_fix`, and how many of those the first diff candidate would have matched."""
    from repair.model import NO_FIX

    prompts = [example["prompt"] for example in test]
    answers = model.generate(prompts)
    refused = [i for i, answer in enumerate(answers) if answer == NO_FIX]
    candidates = model.candidates_of([prompts[i] for i in refused]) if refused else []
    return {
        "exact": sum(same_ops(a, e["response"]) for a, e in zip(answers, test, strict=True)),
        "no_fix": len(refused),
        "refused_right": sum(
            same_ops(_first_diff(c), test[i]["response"]) for i, c in zip(refused, candidates, strict=True)
        ),
    }


def function_repair(model, items, name: str) -> dict:
    from evals.harness import evaluate

    scored, _ = evaluate([_Served(model, name), _Refused(model, f"{name} refused")], items, k=1, workers=1)
    first = scored.filter(scored["mode"] == "pass@1")
    served = first.filter(first["model"] == name)
    refused = first.filter((first["model"] == f"{name} refused") & (first["raw_output"] != ""))
    return {
        "passed": int(served["tests_pass"].sum()),
        "no_fix": int(served["status"].str.starts_with("no_fix").sum()),
        "refused_passed": int(refused["tests_pass"].sum()),
    }


def latency_ms(model, rounds: int) -> float:
    from repair.serving.handler import RepairRequest, RepairService
    from repair.serving.rollout import SMOKE_CASES

    service = RepairService(model.generate, window=model.window)
    cases = [RepairRequest(c.code, c.diagnostic, c.file_name) for c in SMOKE_CASES]
    service.handle([cases[0]])
    took = []
    for _ in range(rounds):
        for case in cases:
            started = time.perf_counter()
            service.handle([case])
            took.append(time.perf_counter() - started)
    return 1000 * statistics.median(took)


def _model_and_data(args, work: Path) -> tuple[Path, Path, str] | None:
    from repair import registry
    from repair.object_store import LocalObjectStore

    store = LocalObjectStore(args.store)
    if args.model_dir:
        model_dir, described = Path(args.model_dir), f"checkpoint {args.model_dir}"
    else:
        try:
            version = registry.latest_approved(store, registry.MODEL).version
        except FileNotFoundError:
            return None
        model_dir = registry.fetch_model(store, work, version)
        described = f"registry models/code_repair/v{version} of {args.store}"
    data = Path(args.data) if args.data else newest_dataset(args.store)
    return (model_dir, data, described) if data is not None else None


def newest_dataset(store: str) -> Path | None:
    """The jsonl folder of the store's newest `repair_dataset` version (None: it has none)."""
    return max(
        Path(store).glob("datasets/repair_dataset/v*/jsonl"), key=lambda p: int(p.parent.name[1:]), default=None
    )


def held_out_splits(value: str) -> list[str]:
    """`--held-out`'s value as a list of splits; `train` (or anything else) refused."""
    splits = value.split(",")
    unknown = sorted(set(splits) - {"test", "validation"})
    if unknown:
        raise argparse.ArgumentTypeError(f"not a held-out split: {', '.join(unknown)} (test, validation)")
    return splits


def add_held_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--held-out",
        default=["test"],
        type=held_out_splits,
        help="the splits scored, comma-separated: `test,validation` adds the validation split, which no "
        "finetune trains on or picks a checkpoint by, for more items than a small day's test split holds",
    )


def read_held_out(jsonl: Path, splits: list[str], limit: int | None = None) -> list[dict]:
    """The examples of `splits` in the dataset folder `jsonl`, the first `limit` of each."""
    return [
        json.loads(line)
        for split in splits
        for line in [x for x in (jsonl / f"{split}.jsonl").read_text().splitlines() if x.strip()][:limit]
    ]


def function_items(limit: int) -> tuple[list, list]:
    """`function_repair` over this project's problems: a seeded sample of `limit` injected bugs (as
    `bench_eval`), and every other (handwritten) one."""
    from benchmarks.bench_eval import _sample
    from evals.function_benchmark import build_function_benchmark
    from evals.inject import KINDS
    from evals.loaders import collect_programs

    collected = collect_programs(stdlib=False, files=[])
    built, _ = build_function_benchmark(
        collected.programs, loaded_bugs=collected.bugs, kinds=KINDS, functions_per_program=1, tries_per_kind=1, seed=0
    )
    injected = _sample([i for i in built if i.bug_origin == "injected"], limit, 0)
    return injected, [i for i in built if i.bug_origin != "injected"]


def main(argv: list[str] | None = None) -> None:
    from benchmarks.bench_serving import served_model

    parser = argparse.ArgumentParser(description="Decoding of the served repairer, per number of candidates")
    parser.add_argument("--store", default=os.environ.get("REPAIR_STORE_ROOT", ".data/store"))
    parser.add_argument("--model-dir", help="default: the store's newest approved model")
    parser.add_argument("--data", help="the dataset's jsonl folder (default: the store's newest)")
    parser.add_argument("--candidates", default="1,2,4", help="edit_candidates to compare, ranked headers (served)")
    parser.add_argument("--token-beams", default="4", help="edit_candidates to compare with token beams ('' for none)")
    parser.add_argument("--limit", type=int, default=40, help="injected function_repair items")
    parser.add_argument("--rounds", type=int, default=5, help="latency: rounds of the 4 smoke cases")
    add_held_out_option(parser)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv or [])

    with tempfile.TemporaryDirectory(prefix="bench-decoding-") as tmp:
        found = _model_and_data(args, Path(tmp))
        if found is None:
            print(f"no trained model and dataset in {args.store}: nothing to measure (run `repair demo`)")
            return
        model_dir, data, described = found
        test = read_held_out(data, args.held_out)
        load_before = os.getloadavg()
        injected, handwritten = function_items(args.limit)
        items = injected + handwritten
        rows = []
        arms = [(int(n), True) for n in args.candidates.split(",")]
        arms += [(int(n), False) for n in args.token_beams.split(",") if n]
        for count, ranked in arms:
            model = served_model(model_dir, None, edit_candidates=count, ranked_headers=ranked)
            decoding = "ranked headers" if ranked else "token beams"
            row = {"decoding": decoding, "candidates": count, "held_out": held_out(model, test),
                   "function_repair": function_repair(model, items, f"{decoding}{count}"),
                   "latency_ms": latency_ms(model, args.rounds)}
            print(json.dumps(row), flush=True)
            rows.append(row)

    n_test, n_items = len(test), len(items)
    table = [
        ("| decoding | candidates | held-out exact (pass@1) | held-out wrong | held-out no_fix (of them right as first diff) "
        "| function_repair tests pass (pass@1) | function_repair wrong | function_repair no_fix (of them passing as first diff) "
        "| p50 ms, one request in process |"),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        h, f = r["held_out"], r["function_repair"]
        table.append(
            f"| {r['decoding']} | {r['candidates']} | {h['exact']}/{n_test} ({100 * h['exact'] / n_test:.1f}%) "
            f"| {n_test - h['exact'] - h['no_fix']} | {h['no_fix']} ({h['refused_right']}) "
            f"| {f['passed']}/{n_items} ({100 * f['passed'] / n_items:.1f}%) | {n_items - f['passed'] - f['no_fix']} "
            f"| {f['no_fix']} ({f['refused_passed']}) "
            f"| {r['latency_ms']:.0f} |"
        )
    body = "\n".join([
        SECTION,
        "",
        f"Command: `uv run python -m benchmarks.bench_decoding --store {args.store}`"
        + (f" `--model-dir {args.model_dir}`" if args.model_dir else "") + f" (`--candidates {args.candidates}`, `--token-beams {args.token_beams}`, `--limit {args.limit}`, `--held-out {','.join(args.held_out)}`)  ",
        (f"Machine: {os.cpu_count()}-core CPU, {load_words(load_before[0])}, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}  "),
        f"Model: {described}; data: {data} ({'+'.join(args.held_out)} n={n_test}); function_repair: {len(injected)} injected items (seed 0) and {len(handwritten)} handwritten ones.",
        "",
        *table,
        "",
        ("- Every answer is the served one: the Triton config's decoding (temperature 0, ranked headers, constrained to "
        "well-formed edits, the first candidate that passes the quick check, else `no_fix`) with the request's whole file; "
        "the token-beams rows decode as the served model did before ranked headers, in the same run."),
        ("- Wrong: answered with a fix that is not the reference (held-out) or whose tests fail (function_repair); "
        "what the quick check exists to turn into `no_fix`."),
        ("- In brackets: of the requests answered `no_fix` (no candidate passed the quick check), how many the "
        "model's first diff candidate, what it answered before, would have got right. Latency: one request at a "
        "time, median of the serving smoke cases (`bench_serving` has the Triton figures)."),
        "",
    ])
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
