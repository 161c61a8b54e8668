"""The mistakes users make while writing, as edits to one segment of clean code.

Each kind finds the places in a segment where it can happen (from the segment's tokens and syntax
tree) and returns the segment as the user types it, broken. Kinds in `DETERMINISTIC_FIX_KINDS` are
those a linter can fix by itself (they give later filtering work); the rest need understanding.
"""

from __future__ import annotations

import ast
import io
import itertools
import keyword
import random
import token
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field

from repair import pyparse
from repair.simulate.projects import BUILTIN_NAMES, Project

NEEDS_UNDERSTANDING_KINDS: tuple[str, ...] = (
    "misspelled_name",
    "misspelled_attribute",
    "misspelled_method",
    "missing_import",
    "undefined_variable",
    "wrong_argument_count",
    "missing_colon",
    "unbalanced_bracket",
    "unclosed_string",
    "bad_indentation",
    "assign_for_eq",
    "compare_for_assign",
    "foreign_syntax",
    "keyword_as_name",
)
DETERMINISTIC_FIX_KINDS: tuple[str, ...] = ("unused_import", "fstring_without_placeholders")
MISTAKE_KINDS: tuple[str, ...] = NEEDS_UNDERSTANDING_KINDS + DETERMINISTIC_FIX_KINDS

# Typical names a user reaches for that the code never defined.
_STRAY_NAMES = ("result", "data", "value", "items", "count", "total", "item", "text", "line", "node", "obj", "res")
_KEYWORDS_AS_NAMES = ("class", "from", "import", "lambda", "def", "global", "in", "is", "pass", "with", "return")
# Habits from C, Java and JavaScript: operators and literals Python spells differently.
_FOREIGN_SPELLINGS = {"and": "&&", "or": "||", "not": "!", "True": "true", "False": "false", "None": "null", "elif": "else if"}
_UNUSED_MODULES = ("os", "sys", "re", "json", "math", "time", "random", "collections", "itertools", "functools")
_KNOWN_ARITY = {"len": (1, 1), "isinstance": (2, 2), "ord": (1, 1), "chr": (1, 1), "repr": (1, 1), "callable": (1, 1)}
_KEYBOARD_NEIGHBOURS = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
    "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}


@dataclass(frozen=True)
class Mutation:
    kind: str
    broken: str  # the segment as the user types it
    line: int  # 0-based line of the segment the mistake is on (in `broken`)
    # For `missing_import`: the names whose first use makes the mistake visible.
    needs_use_of: frozenset[str] = frozenset()


@dataclass
class ProjectFacts:
    """What the mistake finders need to know about the whole project."""

    imported_modules: set[str] = field(default_factory=set)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (required, maximum)
    identifiers: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, project: Project) -> ProjectFacts:
        facts = cls()
        for f in project.files:
            tree = pyparse.parse(f.text)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    facts.imported_modules |= {a.asname or a.name for a in node.names if "." not in a.name}
                elif isinstance(node, ast.Name):
                    facts.identifiers.add(node.id)
                elif isinstance(node, ast.arg):
                    facts.identifiers.add(node.arg)
                elif isinstance(node, ast.Attribute):
                    facts.identifiers.add(node.attr)
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    facts.identifiers.add(node.name)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and (arity := _arity(node, method=False)):
                    facts.functions[node.name] = arity
        return facts


def _arity(node: ast.FunctionDef, method: bool) -> tuple[int, int] | None:
    args = node.args
    if node.decorator_list or args.vararg or args.kwarg or any(d is None for d in args.kw_defaults):
        return None
    n = len(args.posonlyargs) + len(args.args) - (1 if method else 0)
    return (n - len(args.defaults), n) if n >= 0 else None


def _typo(name: str, rng: random.Random, avoid: set[str]) -> str | None:
    letters = [i for i, ch in enumerate(name) if i > 0 and ch.isalpha()]  # the first letter is rarely missed
    for _ in range(6 if letters else 0):
        i = rng.choice(letters)
        how = rng.choice(("swap", "drop", "double", "neighbour"))
        if how == "swap" and i < len(name) - 1:
            out = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        elif how == "drop":
            out = name[:i] + name[i + 1 :]
        elif how == "double":
            out = name[:i] + name[i] + name[i:]
        else:
            near = _KEYBOARD_NEIGHBOURS.get(name[i].lower())
            if not near:
                continue
            out = name[:i] + rng.choice(near) + name[i + 1 :]
        if out != name and out.isidentifier() and not keyword.iskeyword(out) and out not in avoid and out not in BUILTIN_NAMES:
            return out
    return None


class _Segment:
    """A segment's lines, tokens and tree, with edits expressed on lines."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.tree = pyparse.parse(text)
        self.tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        # Rows (1-based) whose logical line spans exactly one physical line.
        self.single_rows: set[int] = set()
        start = None
        for tok in self.tokens:
            if tok.type in (token.NL, token.COMMENT, token.INDENT, token.DEDENT, token.ENDMARKER):
                continue
            if start is None:
                start = tok.start[0]
            if tok.type == token.NEWLINE:
                if tok.start[0] == start:
                    self.single_rows.add(start)
                start = None

    def char_col(self, row: int, byte_col: int) -> int:
        return len(self.lines[row - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def replace(self, row: int, start: int, end: int, new: str) -> str:
        line = self.lines[row - 1]
        lines = list(self.lines)
        lines[row - 1] = line[:start] + new + line[end:]
        return "".join(lines)

    def last_code_token(self, row: int) -> tokenize.TokenInfo | None:
        """The last token before the NEWLINE of a single-row logical line (comments skipped)."""
        toks = [t for t in self.tokens if t.start[0] == row and t.type not in (token.COMMENT, token.NEWLINE, token.NL)]
        return toks[-1] if toks else None


Finder = Callable[[_Segment, ProjectFacts, random.Random], Mutation | None]


def _names(seg: _Segment, loads_only: bool = True) -> list[ast.Name]:
    return [
        n for n in ast.walk(seg.tree)
        if isinstance(n, ast.Name) and (not loads_only or isinstance(n.ctx, ast.Load)) and n.end_col_offset is not None
    ]


def _replace_node(seg: _Segment, node: ast.expr, new: str) -> str:
    row = node.lineno
    return seg.replace(row, seg.char_col(row, node.col_offset), seg.char_col(row, node.end_col_offset or 0), new)


def _misspelled_name(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    stored = {n.id for n in _names(seg, loads_only=False)} | {a.arg for a in ast.walk(seg.tree) if isinstance(a, ast.arg)}
    known = (stored | set(facts.functions)) - BUILTIN_NAMES
    candidates = [n for n in _names(seg) if n.id in known and len(n.id) >= 3]
    rng.shuffle(candidates)
    for node in candidates[:4]:
        if (typo := _typo(node.id, rng, facts.identifiers)) is not None:
            return Mutation("misspelled_name", _replace_node(seg, node, typo), node.lineno - 1)
    return None


def _undefined_variable(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    stored = {n.id for n in _names(seg, loads_only=False) if not isinstance(n.ctx, ast.Load)}
    stored |= {a.arg for a in ast.walk(seg.tree) if isinstance(a, ast.arg)}
    candidates = [n for n in _names(seg) if n.id in stored and n.id not in ("self", "cls")]
    stray = [s for s in _STRAY_NAMES if s not in facts.identifiers and s not in BUILTIN_NAMES]
    if not candidates or not stray:
        return None
    node = rng.choice(candidates)
    return Mutation("undefined_variable", _replace_node(seg, node, rng.choice(stray)), node.lineno - 1)


def _attribute_typo(kind: str, pick: Callable[[ast.Attribute, set[int]], bool]) -> Finder:
    def find(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
        called = {id(c.func) for c in ast.walk(seg.tree) if isinstance(c, ast.Call)}
        candidates = [
            a for a in ast.walk(seg.tree)
            if isinstance(a, ast.Attribute) and a.end_col_offset is not None and len(a.attr) >= 3 and pick(a, called)
            and a.lineno == a.end_lineno
        ]
        # Only modules the project imports as a whole are checkable attribute owners.
        candidates = [a for a in candidates if not isinstance(a.value, ast.Name) or a.value.id in facts.imported_modules | {"self"}]
        rng.shuffle(candidates)
        for node in candidates[:4]:
            typo = _typo(node.attr, rng, facts.identifiers)
            if typo is None:
                continue
            row = node.end_lineno or node.lineno
            end = seg.char_col(row, node.end_col_offset or 0)
            return Mutation(kind, seg.replace(row, end - len(node.attr), end, typo), row - 1)
        return None

    return find


def _class_methods(seg: _Segment) -> set[str]:
    return {
        f.name for c in ast.walk(seg.tree) if isinstance(c, ast.ClassDef)
        for f in c.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _misspelled_method(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    methods = _class_methods(seg)

    def pick(a: ast.Attribute, called: set[int]) -> bool:
        if id(a) not in called:
            return False
        if isinstance(a.value, ast.Name) and a.value.id == "self":
            return a.attr in methods
        return isinstance(a.value, ast.Constant) and isinstance(a.value.value, str)

    return _attribute_typo("misspelled_method", pick)(seg, facts, rng)


_misspelled_attribute = _attribute_typo(
    "misspelled_attribute", lambda a, called: isinstance(a.value, ast.Name) and a.value.id != "self"
)


def _missing_import(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    imports = [n for n in seg.tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) and n.lineno == n.end_lineno]
    if not imports:
        return None
    node = rng.choice(imports)
    lines = list(seg.lines)
    del lines[node.lineno - 1]
    names = frozenset((a.asname or a.name).split(".")[0] for a in node.names)
    return Mutation("missing_import", "".join(lines), max(0, node.lineno - 2), needs_use_of=names)


def _unused_import(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    imports = [n for n in seg.tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    unused = [m for m in _UNUSED_MODULES if m not in facts.identifiers]
    if not imports or not unused:
        return None
    row = rng.choice([n.lineno for n in imports] + [(imports[-1].end_lineno or imports[-1].lineno) + 1])
    lines = list(seg.lines)
    lines.insert(row - 1, f"import {rng.choice(unused)}\n")
    return Mutation("unused_import", "".join(lines), row - 1)


def _header_colons(seg: _Segment) -> list[tokenize.TokenInfo]:
    out = []
    for row in sorted(seg.single_rows):
        tok = seg.last_code_token(row)
        first = seg.lines[row - 1].split(maxsplit=1)
        if tok is not None and tok.string == ":" and first and first[0].rstrip(":") in (
            "def", "class", "if", "elif", "else", "for", "while", "try", "except", "finally", "with"
        ):
            out.append(tok)
    return out


def _delete_char(
    kind: str, seg: _Segment, tokens: list[tokenize.TokenInfo], rng: random.Random, *, last: bool = False
) -> Mutation | None:
    """Deletes the first (or `last`) character of one of `tokens`."""
    if not tokens:
        return None
    tok = rng.choice(tokens)
    row, col = tok.end if last else tok.start
    col -= 1 if last else 0
    return Mutation(kind, seg.replace(row, col, col + 1, ""), row - 1)


def _missing_colon(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    return _delete_char("missing_colon", seg, _header_colons(seg), rng)


def _unbalanced_bracket(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    closers = [t for row in sorted(seg.single_rows) if (t := seg.last_code_token(row)) is not None and t.string in ")]}"]
    return _delete_char("unbalanced_bracket", seg, closers, rng)


def _plain_strings(seg: _Segment) -> list[tokenize.TokenInfo]:
    docstrings = {
        (n.value.lineno, n.value.col_offset) for n in ast.walk(seg.tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    return [
        t for t in seg.tokens
        if t.type == token.STRING and t.start[0] == t.end[0] and t.start[0] in seg.single_rows
        and t.string[:1] in "'\"" and not t.string.startswith(("'''", '"""')) and len(t.string) >= 2
        and (t.start[0], t.start[1]) not in docstrings
    ]


def _unclosed_string(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    return _delete_char("unclosed_string", seg, _plain_strings(seg), rng, last=True)


def _fstring_without_placeholders(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    strings = [t for t in _plain_strings(seg) if "{" not in t.string and "}" not in t.string and "\\N" not in t.string]
    if not strings:
        return None
    tok = rng.choice(strings)
    row, col = tok.start
    return Mutation("fstring_without_placeholders", seg.replace(row, col, col, "f"), row - 1)


def _bad_indentation(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    rows = sorted(seg.single_rows)
    candidates = []
    for prev, row in itertools.pairwise(rows):
        line, before = seg.lines[row - 1], seg.lines[prev - 1]
        indent = len(line) - len(line.lstrip(" "))
        prev_tok = seg.last_code_token(prev)
        if (
            row == prev + 1 and indent > 0 and indent == len(before) - len(before.lstrip(" "))
            and prev_tok is not None and prev_tok.string != ":" and not line.lstrip().startswith("#")
        ):
            candidates.append(row)
    if not candidates:
        return None
    row = rng.choice(candidates)
    shift = rng.choice((" " * 2, " " * 4, ""))
    if shift:
        return Mutation("bad_indentation", seg.replace(row, 0, 0, shift), row - 1)
    return Mutation("bad_indentation", seg.replace(row, 0, 2, ""), row - 1)


def _wrong_argument_count(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    methods: dict[str, tuple[int, int]] = {}
    for c in ast.walk(seg.tree):
        if isinstance(c, ast.ClassDef):
            for f in c.body:
                if isinstance(f, ast.FunctionDef) and (arity := _arity(f, method=True)):
                    methods[f.name] = arity
    candidates = []
    for call in ast.walk(seg.tree):
        if not isinstance(call, ast.Call) or call.keywords or call.lineno != call.end_lineno:
            continue
        if any(isinstance(a, ast.Starred) for a in call.args):
            continue
        func = call.func
        arity = None
        if isinstance(func, ast.Name):
            arity = facts.functions.get(func.id) or _KNOWN_ARITY.get(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            arity = methods.get(func.attr)
        if arity and arity[0] <= len(call.args) <= arity[1]:
            candidates.append((call, arity))
    rng.shuffle(candidates)
    for call, (required, maximum) in candidates:
        row = call.lineno
        end = seg.char_col(row, call.end_col_offset or 0)
        if seg.lines[row - 1][end - 1 : end] != ")":
            continue
        if len(call.args) == maximum or (len(call.args) > required and rng.random() < 0.5):
            if len(call.args) == required and required == 0:
                continue
            extra = ast.unparse(call.args[-1]) if call.args else "None"
            new = seg.replace(row, end - 1, end - 1, f", {extra}" if call.args else extra)
            return Mutation("wrong_argument_count", new, row - 1)
        if len(call.args) == required and call.args:
            last = call.args[-1]
            start = seg.char_col(row, call.args[-2].end_col_offset) if len(call.args) > 1 else seg.char_col(row, last.col_offset)  # type: ignore[arg-type]
            return Mutation("wrong_argument_count", seg.replace(row, start, seg.char_col(row, last.end_col_offset), ""), row - 1)  # type: ignore[arg-type]
    return None


def _assign_for_eq(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    candidates = []
    for node in ast.walk(seg.tree):
        if isinstance(node, (ast.If, ast.While)) and node.lineno in seg.single_rows:
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
                line = seg.lines[node.lineno - 1]
                if line.count(" == ") == 1:
                    candidates.append(node.lineno)
    if not candidates:
        return None
    row = rng.choice(candidates)
    col = seg.lines[row - 1].index(" == ")
    return Mutation("assign_for_eq", seg.replace(row, col, col + 4, " = "), row - 1)


def _compare_for_assign(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    """`x = value` typed `x == value`: a comparison whose value nobody uses (the reverse of
    `assign_for_eq`)."""
    candidates = []
    for node in ast.walk(seg.tree):
        if (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and node.lineno in seg.single_rows
            and isinstance(node.targets[0], (ast.Name, ast.Attribute, ast.Subscript))
        ):
            col = seg.char_col(node.lineno, node.targets[0].end_col_offset or 0)
            if seg.lines[node.lineno - 1][col : col + 3] == " = ":
                candidates.append((node.lineno, col))
    if not candidates:
        return None
    row, col = rng.choice(candidates)
    return Mutation("compare_for_assign", seg.replace(row, col, col + 3, " == "), row - 1)


def _foreign_syntax(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    """An operator or literal spelled as in another language (`&&`, `||`, `!x`, `true`, `null`,
    `else if`): `not` only as the unary operator, not in `not in` or `is not`."""
    code = [t for t in seg.tokens if t.type not in (token.NL, token.NEWLINE, token.COMMENT, token.INDENT, token.DEDENT)]
    candidates = []
    for index, tok in enumerate(code):
        if tok.type != token.NAME or tok.string not in _FOREIGN_SPELLINGS or tok.start[0] not in seg.single_rows:
            continue
        after = code[index + 1].string if index + 1 < len(code) else ""
        before = code[index - 1].string if index else ""
        if tok.string == "not" and (after == "in" or before == "is"):
            continue
        candidates.append(tok)
    if not candidates:
        return None
    tok = rng.choice(candidates)
    row, col = tok.start
    end = tok.end[1]
    if tok.string == "not" and seg.lines[row - 1][end : end + 1] == " ":
        end += 1  # `not x` -> `!x`
    return Mutation("foreign_syntax", seg.replace(row, col, end, _FOREIGN_SPELLINGS[tok.string]), row - 1)


def _keyword_as_name(seg: _Segment, facts: ProjectFacts, rng: random.Random) -> Mutation | None:
    targets = [
        n.targets[0] for n in ast.walk(seg.tree)
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
        and n.lineno in seg.single_rows
    ]
    if not targets:
        return None
    node = rng.choice(targets)
    return Mutation("keyword_as_name", _replace_node(seg, node, rng.choice(_KEYWORDS_AS_NAMES)), node.lineno - 1)


FINDERS: dict[str, Finder] = {
    "misspelled_name": _misspelled_name,
    "misspelled_attribute": _misspelled_attribute,
    "misspelled_method": _misspelled_method,
    "missing_import": _missing_import,
    "undefined_variable": _undefined_variable,
    "wrong_argument_count": _wrong_argument_count,
    "missing_colon": _missing_colon,
    "unbalanced_bracket": _unbalanced_bracket,
    "unclosed_string": _unclosed_string,
    "bad_indentation": _bad_indentation,
    "assign_for_eq": _assign_for_eq,
    "compare_for_assign": _compare_for_assign,
    "foreign_syntax": _foreign_syntax,
    "keyword_as_name": _keyword_as_name,
    "unused_import": _unused_import,
    "fstring_without_placeholders": _fstring_without_placeholders,
}
assert set(FINDERS) == set(MISTAKE_KINDS)

IMPORT_BLOCK_KINDS = frozenset({"missing_import", "unused_import"})


def mutate(text: str, weights: dict[str, float], facts: ProjectFacts, rng: random.Random, *, import_block: bool) -> Mutation | None:
    """One mistake in a segment, drawn from `weights` among the kinds that fit it (None if none does)."""
    kinds = sorted(k for k, w in weights.items() if w > 0 and (k in IMPORT_BLOCK_KINDS) == import_block)
    try:
        seg = _Segment(text)
    except (SyntaxError, tokenize.TokenError):
        return None
    while kinds:
        kind = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
        mutation = FINDERS[kind](seg, facts, rng)
        if mutation is not None and mutation.broken != text:
            return mutation
        kinds.remove(kind)
    return None


def commented_out(text: str, line: int) -> str | None:
    """The segment with line `line` commented out (the user "fixes" it by disabling it), or None when
    that would leave its block empty or it opens a block."""
    lines = text.splitlines(keepends=True)
    target = lines[line]
    indent = len(target) - len(target.lstrip(" "))
    stripped = target.strip()
    if not stripped or stripped.endswith(":") or indent == 0:
        return None
    neighbours = [lines[i] for i in (line - 1, line + 1) if 0 <= i < len(lines) and lines[i].strip()]
    if not any(len(n) - len(n.lstrip(" ")) == indent and not n.strip().endswith(":") for n in neighbours):
        return None
    lines[line] = " " * indent + "# " + stripped + "\n"
    candidate = "".join(lines)
    try:
        pyparse.parse(candidate)
    except SyntaxError:
        return None
    return candidate
