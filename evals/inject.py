"""Bug injection the DebugBench way, into one function of a correct program.

The kinds are DebugBench's syntax and reference error subtypes that a language server can point
at (its names, so that loaded DebugBench items and injected ones share a `kind`):

| kind | what changes |
| --- | --- |
| `misused == or =` | a condition's `==` becomes `=`, or an assignment's `=` becomes `==` |
| `missing colons` | the `:` ending a compound statement's header is dropped |
| `unclosed parentheses` | a closing `)`, `]` or `}` is dropped |
| `illegal indentation` | a statement in a block is indented two spaces deeper |
| `unclosed string` | a one-line string loses its closing quote |
| `faulty indexing` | a subscript's index becomes the string of its source text (`nums[i]` -> `nums["i"]`) |
| `undefined objects` | a use of a local name is misspelt |
| `undefined methods` | a method call uses a plausible method the type lacks (`append` -> `push`) |
| `illegal keywords` | a keyword from another language (`true`, `null`, `&&`, `else if`) |

An injection only makes a candidate; `evals.function_benchmark` keeps the ones the linter flags and
that break the program's tests. Sites are ordered by a seeded shuffle, so the same seed gives the
same bugs.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import random
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from repair import pyparse

KINDS: tuple[str, ...] = (
    "misused == or =",
    "missing colons",
    "unclosed parentheses",
    "illegal indentation",
    "unclosed string",
    "faulty indexing",
    "undefined objects",
    "undefined methods",
    "illegal keywords",
)

COMPOUND_HEADERS = ("if ", "elif ", "else", "for ", "while ", "def ", "with ", "try", "except", "finally", "class ")
WRONG_METHODS = {
    "append": "push", "extend": "concat", "items": "iteritems", "get": "fetch", "startswith": "startsWith",
    "endswith": "endsWith", "lower": "toLowerCase", "upper": "toUpperCase", "split": "splitBy",
    "join": "joinWith", "pop": "popLast", "add": "push", "setdefault": "setDefault", "replace": "replaceAll",
    "strip": "trim", "count": "countOf", "keys": "keySet", "values": "valueSet", "index": "indexOf",
    "sort": "sorted", "isalnum": "isAlnum", "isdigit": "isDigit", "update": "merge", "insert": "insertAt",
    "format": "fmt", "find": "search", "remove": "delete", "copy": "clone", "encode": "toBytes",
}
WRONG_KEYWORDS = {"True": "true", "False": "false", "None": "null", "and": "&&", "or": "||", "elif": "else if"}


@dataclass(frozen=True)
class Bug:
    """A buggy version of a program's target file."""

    program: str
    kind: str
    function: str  # qualified name of the function the bug is in ("" when unknown)
    line: int  # 1-based line of the change
    buggy_code: str
    description: str
    origin: str = "injected"  # `injected` (this module), `handwritten`, `external` (a benchmark file's own)
    fixed_code: str | None = None  # the reference fix when it is not the program's code (a hand-written fix)


@dataclass(frozen=True)
class _Site:
    line: int  # 1-based
    start: int  # column range replaced on that line
    end: int
    text: str
    description: str


def function_spans(code: str) -> dict[str, tuple[int, int]]:
    """{qualified name: (first line, last line)} of every function and method (1-based)."""
    spans: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                spans[name] = (child.lineno, child.end_lineno or child.lineno)
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(pyparse.parse(code), "")
    return spans


def _tokens(code: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


def _nodes_in(tree: ast.AST, span: tuple[int, int]) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line is not None and span[0] <= line <= span[1]:
            yield node


def _misused_equals(code, lines, tokens, tree, span) -> Iterator[_Site]:
    assignment_lines = {n.lineno for n in _nodes_in(tree, span) if isinstance(n, ast.Assign) and len(n.targets) == 1}
    depth = 0
    for tok in tokens:
        row, col = tok.start
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if not span[0] < row <= span[1]:
            continue
        stripped = lines[row - 1].lstrip()
        if tok.string == "==" and stripped.startswith(("if ", "elif ", "while ")):
            yield _Site(row, col, col + 2, "=", "`==` in a condition became `=`")
        elif tok.string == "=" and depth == 0 and row in assignment_lines:
            yield _Site(row, col, col + 1, "==", "an assignment's `=` became `==`")


def _missing_colon(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for row in range(span[0], span[1] + 1):
        line = lines[row - 1]
        stripped = line.strip()
        if stripped.startswith(COMPOUND_HEADERS) and stripped.endswith(":") and "#" not in stripped:
            col = line.rstrip().rfind(":")
            yield _Site(row, col, col + 1, "", f"the colon ending `{stripped[:30]}` was dropped")


def _unclosed_bracket(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in ")]}" and span[0] <= tok.start[0] <= span[1]:
            row, col = tok.start
            yield _Site(row, col, col + 1, "", f"a closing `{tok.string}` was dropped")


def _bad_indentation(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for node in _nodes_in(tree, span):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or len(body) < 2:
            continue
        for statement in body[1:]:
            if isinstance(statement, ast.stmt) and statement.lineno <= span[1]:
                yield _Site(statement.lineno, 0, 0, "  ", "a statement was indented two spaces deeper")


def _unclosed_string(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for tok in tokens:
        if tok.type != tokenize.STRING or tok.start[0] != tok.end[0] or not span[0] <= tok.start[0] <= span[1]:
            continue
        # Triple quotes span lines; an empty string unclosed reads as a different string.
        if tok.string.endswith(('"""', "'''")) or tok.string[-2] in "\"'":
            continue
        row, end = tok.end
        yield _Site(row, end - 1, end, "", f"the string {tok.string[:20]} lost its closing quote")


def _annotation_nodes(tree: ast.AST) -> set[int]:
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _faulty_indexing(code, lines, tokens, tree, span) -> Iterator[_Site]:
    in_annotations = _annotation_nodes(tree)
    for node in _nodes_in(tree, span):
        if not isinstance(node, ast.Subscript) or id(node) in in_annotations:
            continue
        index = node.slice
        if isinstance(index, (ast.Slice, ast.Constant, ast.Tuple)) or index.lineno != index.end_lineno:
            continue
        source = ast.get_source_segment(code, index) or ""
        if not source or '"' in source or "\\" in source:
            continue
        yield _Site(index.lineno, index.col_offset, index.end_col_offset or 0, f'"{source}"',
                    f"the index `{source}` became a string")


def _names_in_module(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return names | set(dir(builtins)) | set(keyword.kwlist)


def _undefined_name(code, lines, tokens, tree, span) -> Iterator[_Site]:
    taken = _names_in_module(tree)
    for node in _nodes_in(tree, span):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and len(node.id) > 2:
            if node.id in dir(builtins):
                continue
            for misspelt in (node.id[:-1], node.id + "s", node.id + "_"):
                if misspelt not in taken and misspelt.isidentifier():
                    yield _Site(node.lineno, node.col_offset, node.end_col_offset or 0, misspelt,
                                f"`{node.id}` was misspelt `{misspelt}`")
                    break


def _undefined_method(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for node in _nodes_in(tree, span):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRONG_METHODS
            and node.func.end_lineno == node.func.lineno
        ):
            end = node.func.end_col_offset or 0
            start = end - len(node.func.attr)
            wrong = WRONG_METHODS[node.func.attr]
            yield _Site(node.func.lineno, start, end, wrong, f"`.{node.func.attr}(` became `.{wrong}(`")


def _illegal_keyword(code, lines, tokens, tree, span) -> Iterator[_Site]:
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in WRONG_KEYWORDS and span[0] <= tok.start[0] <= span[1]:
            row, col = tok.start
            wrong = WRONG_KEYWORDS[tok.string]
            yield _Site(row, col, col + len(tok.string), wrong, f"`{tok.string}` became `{wrong}`")
        elif tok.type == tokenize.NAME and tok.string == "not" and span[0] <= tok.start[0] <= span[1]:
            row, col = tok.start
            yield _Site(row, col, tok.end[1] + 1, "!", "`not` became `!`")


_SITE_FINDERS: dict[str, Callable[..., Iterator[_Site]]] = {
    "misused == or =": _misused_equals,
    "missing colons": _missing_colon,
    "unclosed parentheses": _unclosed_bracket,
    "illegal indentation": _bad_indentation,
    "unclosed string": _unclosed_string,
    "faulty indexing": _faulty_indexing,
    "undefined objects": _undefined_name,
    "undefined methods": _undefined_method,
    "illegal keywords": _illegal_keyword,
}


def candidate_bugs(program: str, code: str, kind: str, function: str, seed: int = 0) -> list[Bug]:
    """Every way of putting a `kind` bug into `function` of `code`, in a seeded random order.
    `KeyError` for an unknown kind or function."""
    if kind not in _SITE_FINDERS:
        raise KeyError(f"unknown bug kind {kind!r}; kinds: {', '.join(KINDS)}")
    spans = function_spans(code)
    if function not in spans:
        raise KeyError(f"{program}: no function {function!r}")
    lines = code.split("\n")
    tree = pyparse.parse(code)
    sites = list(_SITE_FINDERS[kind](code, lines, _tokens(code), tree, spans[function]))
    unique = sorted({(s.line, s.start, s.end, s.text): s for s in sites}.values(),
                    key=lambda s: (s.line, s.start))
    random.Random(f"{seed}|{program}|{kind}|{function}").shuffle(unique)
    bugs = []
    for site in unique:
        changed = list(lines)
        line = changed[site.line - 1]
        changed[site.line - 1] = line[: site.start] + site.text + line[site.end :]
        buggy = "\n".join(changed)
        if buggy != code:
            bugs.append(Bug(program, kind, function, site.line, buggy, site.description))
    return bugs


def compiles(code: str) -> bool:
    """False for a syntax error: such code cannot even be imported, so it breaks any test."""
    try:
        compile(code, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True
