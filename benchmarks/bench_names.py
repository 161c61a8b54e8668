"""Names the prompt shows: bases side by side on held-out synthetic repairs, exact match (pass@1 of
the served decoding) by what the reference fix writes:

- **recalled**: a name no line of the prompt shows (`repair.prompt.names_not_shown`: a definition
  elsewhere in the project, another module's attribute); nothing the model reads determines it;
- **copied**: a name the prompt shows, but not on the lines the fix replaces (`raduis` -> `radius`
  a line below `def circle_area(radius)`, the demo's file);
- **other**: no new name (syntax, operators, a name moved within its line).

Across these, **named** counts the items whose fix writes one of the names like the flagged one
(`repair.hints.similar_names`: what a model trained with `<names>` reads after its prompt).

Also each base's answer to the demo's broken file and verification's verdict on it. For a base
continued on a corpus as mined beside one continued on the same corpus without its recalled-name
repairs (`repair pretrain --no-recalled-names`). Writes the `## Names the prompt shows` section.

    uv run python -m benchmarks bench_names        # the shipped base on bench_finetune's corpus (mined once, ~4 min)
    uv run python -m benchmarks.bench_names --model shipped=models/base-cpu --model other=DIR \\
        --data .data/pretrain18/data/jsonl --data .data/pretrain19/data/jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.bench_decoding import add_held_out_option, read_held_out, same_ops
from benchmarks.results import load_words

SECTION = "## Names the prompt shows"
write_run = partial(results.write_run, SECTION, kept=1)
KINDS = ("recalled", "copied", "other")
NAMED = "named"


def _new_names(prompt, diff) -> tuple[set[str], set[str]]:
    """(names on the lines the diff replaces, names its added lines write)."""
    from repair.prompt import IDENTIFIER

    shown = dict(prompt.lines)
    replaced = {name for op in diff.ops if op.sign == "-" for name in IDENTIFIER.findall(shown.get(op.line, ""))}
    written = {name for op in diff.ops if op.sign == "+" for name in IDENTIFIER.findall(op.text)}
    return replaced, written


def fix_kind(example: dict) -> str:
    """`recalled`, `copied` or `other` (the module docstring) for a dataset example."""
    from repair.linediff import parse_diff
    from repair.prompt import KNOWN_NAMES, names_not_shown, parse_prompt

    prompt, diff = parse_prompt(example["prompt"]), parse_diff(example["response"])
    if names_not_shown(prompt, diff):
        return "recalled"
    replaced, written = _new_names(prompt, diff)
    return "copied" if written - replaced - KNOWN_NAMES else "other"


def writes_a_similar_name(example: dict) -> bool:
    """Whether the fix writes a name of the prompt's `<names>` line (one it did not replace)."""
    from repair.hints import similar_names
    from repair.linediff import parse_diff
    from repair.prompt import parse_prompt

    prompt, diff = parse_prompt(example["prompt"]), parse_diff(example["response"])
    replaced, written = _new_names(prompt, diff)
    return bool((written - replaced) & set(similar_names(prompt)))


def model_option(value: str) -> tuple[str, Path]:
    label, sep, folder = value.partition("=")
    if not sep or not label or not (Path(folder) / "config.json").is_file():
        raise argparse.ArgumentTypeError(f"{value!r}: want LABEL=DIR with a model in DIR (its config.json)")
    return label, Path(folder)


def scores(model_dir: Path, examples: list[dict], kinds: list[str], named: list[bool]) -> dict:
    """Exact matches by kind and of the named items, and the demo file's proposal and verdict."""
    from benchmarks.bench_base import demo_file_fix
    from benchmarks.bench_serving import served_model

    model = served_model(model_dir, None)
    answers = model.generate([e["prompt"] for e in examples])
    right = [same_ops(a, e["response"]) for a, e in zip(answers, examples, strict=True)]
    by_kind = {kind: sum(r for r, k in zip(right, kinds, strict=True) if k == kind) for kind in KINDS}
    named_right = sum(r for r, n in zip(right, named, strict=True) if n)
    return {"all": sum(right), **by_kind, NAMED: named_right, **demo_file_fix(model_dir, model.window)}


def main(argv: list[str] | None = None) -> None:
    from benchmarks.bench_finetune import base_corpus, shown_path
    from repair.training.config import default_model_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", action="append", type=model_option, help="LABEL=DIR, repeatable (default: the shipped base)"
    )
    parser.add_argument(
        "--data", action="append", type=Path, help="a corpus's jsonl folder, repeatable (default: bench_finetune's corpus)"
    )
    parser.add_argument("--corpus", type=Path, default=Path(".data/bench_finetune/corpus"), help="mined here once")
    add_held_out_option(parser)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv or [])

    models = args.model or [("shipped", default_model_dir("cpu-tiny"))]
    load_before, started = os.getloadavg()[0], time.perf_counter()
    if args.data:
        examples = [e for folder in args.data for e in read_held_out(folder, args.held_out)]
        source = " + ".join(f"`{folder}`" for folder in args.data) + f" ({'+'.join(args.held_out)})"
    else:
        examples = base_corpus(args.corpus.resolve())
        source = f"held-out splits of `{args.corpus}` (bench_finetune's corpus)"
    kinds = [fix_kind(e) for e in examples]
    named = [writes_a_similar_name(e) for e in examples]
    sizes = {"all": len(examples), **{kind: kinds.count(kind) for kind in KINDS}, NAMED: sum(named)}
    print(f"{len(examples)} examples: {sizes}", flush=True)
    rows = []
    for label, folder in models:
        rows.append((label, folder, scores(folder, examples, kinds, named)))
        print(label, {k: v for k, v in rows[-1][2].items() if k != "demo_file_diff"}, flush=True)

    def cell(passed: int, n: int) -> str:
        return f"{passed}/{n} ({100 * passed / n:.1f}%)" if n else "-"

    def made_by(folder: Path) -> str:
        """The `repair pretrain` command on the base's card (`card.json`), when it has one."""
        card = folder / "card.json"
        return f"`{json.loads(card.read_text())['command']}`" if card.is_file() else "no card"

    def demo(r: dict) -> str:
        answer = " ".join(r["demo_file_diff"].split("\n")[1:-1]) or "(empty)"
        return f"`{answer}` ({r['demo_file_verdict']})"

    body = "\n".join([
        SECTION,
        "",
        f"Command: `uv run python -m benchmarks.bench_names {' '.join(argv or [])}`  ",
        (f"Machine: {os.cpu_count()}-core CPU, {load_words(load_before, os.getloadavg()[0])}, "
         f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {(time.perf_counter() - started) / 60:.0f} min  "),
        f"Examples: {source}. Exact match is pass@1 of the served decoding.",
        "",
        "| base | folder | all | recalled | copied | other | named | the demo's broken file |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *(f"| {label} | `{shown_path(folder)}` | " + " | ".join(cell(r[k], sizes[k]) for k in sizes) + f" | {demo(r)} |"
          for label, folder, r in rows),
        "",
        *(f"- {label}: {made_by(folder)}" for label, folder, _ in rows),
        "",
    ])
    print(body)
    if not args.no_write:
        write_run(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
