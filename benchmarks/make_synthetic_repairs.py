"""Synthetic verified repairs for tuning the training presets before the pipeline's real data
exists: real standard-library files with one injected error each (a misspelled name, a missing
colon, `=` for `==`, an unclosed parenthesis, a misspelled keyword) and the fix as a numbered
line diff from `make_diff`. Rows have the `verified_repairs` columns `repair.dataset` reads.

Not part of the product path: the pipeline's teachers and verification make the real rows.

    uv run python -m benchmarks.make_synthetic_repairs OUT.parquet [--per-file 8] [--max-files N]
"""

from __future__ import annotations

import hashlib
import io
import keyword
import random
import re
import sys
import tokenize
from pathlib import Path

from repair.corpus import iter_source_files, module_name, stdlib_dir
from repair.linediff import make_diff, render_diff

BLOCK_OPENER = re.compile(r"^\s*(def|class|if|elif|else|for|while|try|except|finally|with)\b.*:\s*$")
COMPARISON_IN_CONDITION = re.compile(r"^(\s*(?:if|elif|while) .*?) == (.*:\s*)$")
RETURN = re.compile(r"^(\s*)return\b")


def names_by_line(text: str) -> dict[int, list[tuple[int, str]]]:
    """(column, name) of identifiers each line reads (0-based line): not attributes, definitions,
    imports, keywords or dunders, and never inside strings or comments."""
    found: dict[int, list[tuple[int, str]]] = {}
    previous = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if (
                tok.type == tokenize.NAME
                and not keyword.iskeyword(tok.string)
                and len(tok.string) >= 4
                and not tok.string.startswith("__")
                and previous not in (".", "def", "class", "import", "as", "from")
            ):
                found.setdefault(tok.start[0] - 1, []).append((tok.start[1], tok.string))
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return {}
    return found


def _misspell(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name) - 1)
    kind = rng.choice(("drop", "swap", "double"))
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    if kind == "swap":
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + name[i] + name[i:]


def inject(line: str, names: list[tuple[int, str]], rng: random.Random) -> tuple[str, dict] | None:
    """A broken version of `line` and its diagnostic fields, or None when no error fits it."""
    options = []
    if BLOCK_OPENER.match(line) and "#" not in line:
        options.append("colon")
    if COMPARISON_IN_CONDITION.match(line):
        options.append("comparison")
    if line.rstrip().endswith(")") and line.count("(") == line.count(")") and "#" not in line:
        options.append("paren")
    if RETURN.match(line):
        options.append("keyword")
    if names:
        options += ["name", "name"]
    if not options:
        return None
    kind = rng.choice(options)
    stripped = line.rstrip()
    if kind == "colon":
        broken = stripped[:-1]
        return broken, {"source": "pyright", "code": "syntax", "message": 'Expected ":"', "col": len(broken)}
    if kind == "comparison":
        match = COMPARISON_IN_CONDITION.match(line)
        broken = f"{match.group(1)} = {match.group(2)}"
        col = len(match.group(1)) + 1
        return broken, {
            "source": "pyright",
            "code": "syntax",
            "message": 'Operator "=" not allowed here; expected "=="',
            "col": col,
        }
    if kind == "paren":
        broken = stripped[:-1]
        return broken, {
            "source": "pyright",
            "code": "syntax",
            "message": '"(" was not closed',
            "col": broken.rfind("("),
        }
    if kind == "keyword":
        match = RETURN.match(line)
        broken = f"{match.group(1)}retrun{line[match.end() :]}"
        message = "Statements must be separated by newlines or semicolons"
        return broken, {"source": "pyright", "code": "syntax", "message": message, "col": len(match.group(1))}
    col, name = rng.choice(names)
    bad = _misspell(name, rng)
    broken = line[:col] + bad + line[col + len(name) :]
    if rng.random() < 0.5:
        return broken, {
            "source": "pyright",
            "code": "reportUndefinedVariable",
            "message": f'"{bad}" is not defined',
            "col": col,
        }
    return broken, {"source": "ruff", "code": "F821", "message": f"Undefined name `{bad}`", "col": col}


def repairs_for_file(path: Path, root: Path, per_file: int, rng: random.Random, project_prefix: str = "") -> list[dict]:
    """Up to `per_file` repairs in `path`; the project is `project_prefix` + its top-level module."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    names = names_by_line(text)
    module = module_name(path, root)
    project = (project_prefix + module.split(".")[0]).rstrip(".")  # a package's own __init__: the package
    rel = path.relative_to(root).as_posix()
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    rng.shuffle(candidates)
    rows, used = [], set()
    for index in candidates:
        if len(rows) >= per_file:
            break
        # Errors in one file far apart, so that their windows are not near-duplicates of each other.
        if any(abs(index - u) < 12 for u in used):
            continue
        injected = inject(lines[index], names.get(index, []), rng)
        if injected is None:
            continue
        broken_line, diag = injected
        broken = "\n".join([*lines[:index], broken_line, *lines[index + 1 :]])
        diff = make_diff(broken, text)
        if diff.is_empty:
            continue
        used.add(index)
        diagnostic_id = hashlib.sha1(f"{rel}:{index}:{broken_line}".encode()).hexdigest()[:16]
        rows.append(
            {
                "diagnostic_id": diagnostic_id,
                "repl": project,
                "file": Path(rel).name,
                "source": diag["source"],
                "code": diag["code"],
                "severity": "error",
                "message": diag["message"],
                "start_line": index,
                "start_character": max(0, diag["col"]),
                "end_line": index,
                "end_character": max(0, diag["col"]) + 1,
                "content": broken,
                "fixed_content": text,
                "diff": render_diff(diff),
                "teacher": "synthetic",
                "verdict": "accepted",
            }
        )
    return rows


def synthetic_repairs(
    per_file: int = 16, max_files: int | None = None, seed: int = 0, extra_roots: tuple[Path, ...] = ()
) -> list[dict]:
    """Repairs in the standard library's files, then in each package folder of `extra_roots` (e.g.
    installed third-party packages: more projects, more data); `max_files` counts per folder. A
    project is a top-level module of the standard library, or a package's subpackage (`dagster._core`)."""
    rng = random.Random(seed)
    rows = []
    for root, prefix in ((stdlib_dir(), ""), *((root, f"{root.name}.") for root in extra_roots)):
        for n, path in enumerate(iter_source_files(root)):
            if max_files is not None and n >= max_files:
                break
            rows.extend(repairs_for_file(path, root, per_file, rng, prefix))
    return rows


def main(argv: list[str] | None = None) -> None:
    import argparse

    import polars as pl

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-file", type=int, default=16)
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra-root", type=Path, action="append", default=[], help="a package folder to mine too")
    args = parser.parse_args(argv)
    rows = synthetic_repairs(args.per_file, args.max_files, args.seed, tuple(args.extra_root))
    frame = pl.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(args.out)
    print(f"{frame.height} synthetic repairs from {frame['repl'].n_unique()} projects -> {args.out}")
    print(frame.group_by("code").len().sort("len", descending=True))


if __name__ == "__main__":
    main(sys.argv[1:])
