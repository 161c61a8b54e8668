"""Benchmark leaks in a finished dataset, found by methods independent of the dedup that built it.

The dedup (`repair.dataset.deduplicate`) drops examples whose prompt excerpt is a MinHash near
duplicate (Jaccard >= 0.7 over 5-grams of raw code tokens) of a benchmark window. A check that re-ran
it on its own output could never fail. This one looks twice, differently:

1. Exact: every function of every benchmark source is hashed over its *normalised* tokens (Python's
   tokenizer; comments, blank lines and indentation dropped, so reformatting or commenting a copied
   function does not hide it). A training or validation example leaks when a function of its
   source file that overlaps the lines its prompt shows (in the buggy or the fixed file) has the
   hash of a benchmark function.
2. Near: MinHash over 3-grams of normalised tokens at a lower threshold (0.5) between the prompt's
   code and windows of the raw benchmark sources.

Every benchmark source comes from the one list, `evals.named_benchmark_sources` (the configured
DebugBench / HumanEvalPack files included).

The same normalised tokens also give exact hashes of windows of `WINDOW_LINES` consecutive code
lines (`window_hashes`): the pretraining corpus's disjointness check
(`repair.training.leakcheck`) indexes every reference by functions and windows with these functions.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import textwrap
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from repair import pyparse

NEAR_THRESHOLD = 0.5
SHINGLE_SIZE = 3
NUM_PERM = 128
MIN_FUNCTION_TOKENS = 12  # `def f(): return 1` alone is not evidence of a leak
WINDOW_LINES = 6
MIN_WINDOW_TOKENS = 40
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}  # fmt: skip
_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[^\sA-Za-z0-9_]")


def normalized_tokens(code: str) -> list[str]:
    """The code's tokens without comments, blank lines or indentation (a regex split when the code
    does not tokenize, e.g. a window that cuts a string)."""
    try:
        return [
            t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in _SKIPPED
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _CODE_TOKEN.findall(re.sub(r"#[^\n]*", "", code))


def normalized_lines(code: str) -> list[list[str]]:
    """The regex tokens of each line with any, comments dropped: line by line, so that an excerpt
    that cuts a string or a block (a prompt's window) normalises as the whole file does."""
    lines = (_CODE_TOKEN.findall(re.sub(r"#.*", "", line)) for line in code.split("\n"))
    return [tokens for tokens in lines if tokens]


def _digest(tokens: Iterable[str]) -> str:
    return hashlib.sha1("\x00".join(tokens).encode()).hexdigest()


def window_hashes(code: str, size: int = WINDOW_LINES, min_tokens: int = MIN_WINDOW_TOKENS) -> set[str]:
    """Hashes of every `size` consecutive normalised code lines holding at least `min_tokens` tokens
    (shorter runs are too generic to mean a copy)."""
    lines = normalized_lines(code)
    out = set()
    for start in range(len(lines) - size + 1):
        window = lines[start : start + size]
        if sum(map(len, window)) >= min_tokens:
            out.add(_digest(token for line in window for token in [*line, "\n"]))
    return out


# Lines as the parser splits them (`ast.get_source_segment`'s rule: only \r\n, \r and \n end a line).
_PARSER_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _source_segment(source_lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """`ast.get_source_segment(source, node)` from the source's lines split once: the stdlib call
    re-splits the whole file character by character for every function (quadratic; it made the
    pretraining leak index take minutes)."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    end_col = node.end_col_offset if node.end_col_offset is not None else len(source_lines[last].encode())
    if first == last:
        return source_lines[first].encode()[node.col_offset : end_col].decode()
    head = source_lines[first].encode()[node.col_offset :].decode()
    tail = source_lines[last].encode()[:end_col].decode()
    return "".join([head, *source_lines[first + 1 : last], tail])


def function_hashes(
    source: str, lines: range | None = None, min_tokens: int = MIN_FUNCTION_TOKENS
) -> dict[str, str]:
    """{normalised-token hash: function name} of the functions in `source` with at least
    `min_tokens` tokens (those overlapping the 0-based `lines`, if given); {} when the source does
    not parse."""
    try:
        tree = pyparse.parse(source)
    except (SyntaxError, ValueError):
        return {}
    hashes = {}
    source_lines = _PARSER_LINE.findall(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        if lines is not None and (last < lines.start or first >= lines.stop):
            continue
        tokens = normalized_tokens(textwrap.dedent(_source_segment(source_lines, node)))
        if len(tokens) >= min_tokens:
            hashes[_digest(tokens)] = node.name
    return hashes


def _minhash(code: str, num_perm: int):
    from datasketch import MinHash

    tokens = normalized_tokens(code)
    shingles = {
        " ".join(tokens[i : i + SHINGLE_SIZE]).encode() for i in range(max(1, len(tokens) - SHINGLE_SIZE + 1))
    }
    minhash = MinHash(num_perm=num_perm)
    minhash.update_batch(sorted(shingles))
    return minhash


def _windows(source: str, size: int) -> list[str]:
    lines = source.split("\n")
    if len(lines) <= size:
        return [source]
    step = max(1, size // 2)
    return ["\n".join(lines[start : start + size]) for start in range(0, len(lines) - size + step, step)]


def find_benchmark_leaks(
    examples: Sequence[Mapping[str, Any]],
    repairs: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, str],
    *,
    window: int,
    threshold: float = NEAR_THRESHOLD,
    num_perm: int = NUM_PERM,
) -> list[dict[str, str]]:
    """Every train or validation example that shows benchmark code: `{kind, item, near}` with kind
    `function_in_benchmark` (exact) or `near_benchmark_source` (MinHash). `repairs` maps a
    diagnostic id to its verified repair (`content`, `fixed_content`, `start_line`); `sources` is
    `{name: text}` of every benchmark source."""
    from datasketch import MinHashLSH

    from repair.dataset import prompt_code

    functions: dict[str, str] = {}
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    signatures = {}
    for name, text in sources.items():
        functions.update({digest: f"{name}:{function}" for digest, function in function_hashes(text).items()})
        for n, chunk in enumerate(_windows(text, 2 * window + 1)):
            if chunk.strip():
                key = f"{name}@{n}"
                signatures[key] = _minhash(chunk, num_perm)
                lsh.insert(key, signatures[key])
    leaks = []
    for example in examples:
        if example["split"] not in ("train", "validation"):
            continue
        item = example["diagnostic_id"]
        repair = repairs.get(item, {})
        line = int(repair.get("start_line") or 0)
        shown = range(max(0, line - window), line + window + 1)
        exact = next(
            (functions[digest] for text in (repair.get("fixed_content"), repair.get("content")) if text
             for digest in function_hashes(text, shown) if digest in functions),
            None,
        )  # fmt: skip
        if exact:
            leaks.append({"kind": "function_in_benchmark", "item": item, "near": exact})
            continue
        minhash = _minhash(prompt_code(example["prompt"]), num_perm)
        near = sorted(key for key in lsh.query(minhash) if signatures[key].jaccard(minhash) >= threshold)
        if near:
            leaks.append({"kind": "near_benchmark_source", "item": item, "near": near[0]})
    return leaks


def index_repairs(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {row["diagnostic_id"]: row for row in rows}
