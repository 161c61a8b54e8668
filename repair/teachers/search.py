"""The search-based repairer: per diagnostic family, a handful of candidate edits, each verified
with the linter; the cheapest verified candidate wins.

It is the offline default teacher (no model, no network) and, later, a baseline in evaluation.
Candidate families (`Candidate.family`):

| family | diagnostics | edit |
| --- | --- | --- |
| `rename` | undefined name (pyright `reportUndefinedVariable`, ruff `F821`) | a name of the file or a builtin the name is a plausible typo of (`typo_distance` within `typo_budget`), names used nearby first |
| `import` | undefined name | `import M` (stdlib or project module), `from M import name` (project, common stdlib modules) |
| `attribute` | unknown attribute / method (`reportAttributeAccessIssue`, `reportOptionalMemberAccess` aside) | an attribute of the module, class or builtin type the name is a plausible typo of |
| `colon` | syntax | add the missing `:` to a compound statement |
| `bracket` | syntax | close unclosed brackets, drop an unmatched closer |
| `quote` | syntax | close an unterminated string: at the first point after which the file parses, else before the brackets that end the line, else at its end |
| `indent` | syntax | re-indent the line like the previous one, one level deeper or shallower |
| `equality` | syntax | `==` for `=` in a condition |
| `keyword` | syntax | a keyword used as a name becomes the one name its scope lost nearby (read after the line, bound nowhere), or, when it lost none, the variable the line reassigns from (no made-up name, no name read far away) |
| `argument` | `reportCallIssue` "Expected N positional arguments" | drop the extra argument |
| `unused_import` | ruff `F401` | drop the import line |

Generating candidates is pure (`candidates`); `SearchRepairer` checks them in cost order with a
`repair.verify.Verifier` until one is accepted (at most `max_checks` re-lints per diagnostic).
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import keyword
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from repair import pyparse
from repair.diagnostic import Diagnostic
from repair.hints import COMMON_MODULES, UNSAFE_MODULES, public_names
from repair.linediff import join_lines, make_diff, render_diff, split_lines
from repair.prompt import import_line
from repair.verify import Verdict, Verifier

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
QUOTED = re.compile(r"[\"`]([^\"`]+)[\"`]")
COMPOUND = re.compile(
    r"\s*(if|elif|else|for|while|def|class|try|except|finally|with|async\s+def|async\s+for|match|case)\b"
)
# Where `from M import name` is looked up for an undefined name that is not a module.
BUILTIN_TYPES = {t.__name__: t for t in (str, bytes, list, dict, set, frozenset, tuple, int, float, complex)}
CLOSERS = {"(": ")", "[": "]", "{": "}"}
BUILTIN_NAMES = frozenset(dir(builtins))
MAX_RENAMES = 3


@dataclass(frozen=True, order=True)
class Candidate:
    cost: float
    family: str = field(compare=False)
    description: str = field(compare=False)
    fixed: str = field(compare=False)


def _message_name(diagnostic: Diagnostic) -> str | None:
    match = QUOTED.search(diagnostic.message)
    return match.group(1) if match else None


def _span(lines: list[str], diagnostic: Diagnostic) -> str | None:
    if diagnostic.start_line != diagnostic.end_line or diagnostic.start_line >= len(lines):
        return None
    return lines[diagnostic.start_line][diagnostic.start_character : diagnostic.end_character]


def _replace_span(lines: list[str], diagnostic: Diagnostic, text: str) -> str:
    line = lines[diagnostic.start_line]
    edited = line[: diagnostic.start_character] + text + line[diagnostic.end_character :]
    return _with_line(lines, diagnostic.start_line, edited)


def _with_line(lines: list[str], index: int, text: str) -> str:
    return join_lines([*lines[:index], text, *lines[index + 1 :]])


# Keys next to each other on a QWERTY keyboard: hitting the neighbour is the commonest typo.
_KEYBOARD_ROWS = (("1234567890", 0.0), ("qwertyuiop", 0.5), ("asdfghjkl", 0.75), ("zxcvbnm", 1.25))  # row stagger
_KEY_AT = {key: (row, col + shift) for row, (keys, shift) in enumerate(_KEYBOARD_ROWS) for col, key in enumerate(keys)}
NEARBY_LINES = 20  # names used this close to the error are what the user most likely meant


def _adjacent(a: str, b: str) -> bool:
    (ra, ca), (rb, cb) = _KEY_AT.get(a.lower(), (-9, -9)), _KEY_AT.get(b.lower(), (9, 9))
    return abs(ra - rb) <= 1 and abs(ca - cb) <= 1.0


# Cached: the same pairs come again and again (each copy of a mistake against the file's names and
# the builtins): on the demo day's reproduction 93% of 42,807 calls were repeats.
@functools.lru_cache(maxsize=1 << 16)
def typo_distance(typed: str, meant: str) -> float:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours), where
    hitting a key next to the right one costs 0.5 and a case slip 0.25: how far a typo is."""
    rows = [[float(j) for j in range(len(meant) + 1)]]
    for i in range(1, len(typed) + 1):
        row = [float(i)] + [0.0] * len(meant)
        for j in range(1, len(meant) + 1):
            a, b = typed[i - 1], meant[j - 1]
            substitute = 0.0 if a == b else 0.25 if a.lower() == b.lower() else 0.5 if _adjacent(a, b) else 1.0
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + substitute)
            if i > 1 and j > 1 and a == meant[j - 2] and typed[i - 2] == b:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def typo_budget(name: str) -> float:
    """The largest `typo_distance` at which `name` can still be a typo of another name: one slip in
    a short name, two in a long one (a quarter of the length, rounded down, at least one)."""
    return max(1.0, float(len(name) // 4))


def _plausible(name: str, pool: Iterable[str], nearby: set[str], cost: float) -> list[tuple[float, str]]:
    """The names of `pool` that `name` is a plausible typo of (`typo_budget`), at most MAX_RENAMES,
    cheapest first: the closer, the cheaper; a name used near the error is cheaper than one used
    elsewhere. Any other name, however cleanly it lints, is no correction."""
    found = []
    for candidate in {p for p in pool if p != name and not keyword.iskeyword(p)}:
        if abs(len(candidate) - len(name)) > typo_budget(name):
            continue
        distance = typo_distance(name, candidate)
        if distance <= typo_budget(name):
            found.append((cost + 0.2 * distance + (0.0 if candidate in nearby else 0.1), candidate))
    return sorted(found)[:MAX_RENAMES]


def _names_near(lines: list[str], line: int) -> set[str]:
    return set(IDENTIFIER.findall("\n".join(lines[max(0, line - NEARBY_LINES) : line + NEARBY_LINES + 1])))


def _parse(code: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pyparse.parse(code)
        except (SyntaxError, ValueError):
            return None


def _top_level_names(tree: ast.Module | None) -> set[str]:
    names: set[str] = set()
    for node in tree.body if tree else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _project_modules(context_files: Mapping[str, str]) -> dict[str, str]:
    """Importable module name -> path, for the project's Python files."""
    modules = {}
    for path in context_files:
        if path.endswith(".py"):
            parts = path[:-3].split("/")
            if parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                modules[".".join(parts)] = path
    return modules


def _insert_line(lines: list[str], index: int, text: str) -> str:
    return join_lines([*lines[:index], text, *lines[index:]])


def _undefined_name(code, lines, diagnostic, file_name, context_files) -> list[Candidate]:
    name = _span(lines, diagnostic) or _message_name(diagnostic)
    if not name or not name.isidentifier():
        return []
    out = []
    in_file = set(IDENTIFIER.findall(code)) - {name}
    if _span(lines, diagnostic) == name:
        nearby = _names_near(lines, diagnostic.start_line)
        for cost, match in _plausible(name, in_file | BUILTIN_NAMES, nearby, 1.0):
            out.append(
                Candidate(cost, "rename", f"{name} -> {match}", _replace_span(lines, diagnostic, match))
            )
    # Importing the exact name (1.05-1.12) beats all but the closest renames (1 + dissimilarity).
    at = import_line(code) - 1
    project = _project_modules({p: t for p, t in context_files.items() if p != file_name})
    if name in sys.stdlib_module_names or name in project:
        # A module is used for its attributes (`re.match`); `if re:` is more likely a typo of `res`.
        used_as_module = re.search(rf"\b{re.escape(name)}\s*\.", code) is not None
        cost = 1.08 if used_as_module else 1.5
        out.append(Candidate(cost, "import", f"import {name}", _insert_line(lines, at, f"import {name}")))
    for module, path in sorted(project.items()):
        if name in _top_level_names(_parse(context_files[path])):
            out.append(
                Candidate(
                    1.05,
                    "import",
                    f"from {module} import {name}",
                    _insert_line(lines, at, f"from {module} import {name}"),
                )
            )
    for module in COMMON_MODULES:
        if name in public_names(module):
            out.append(
                Candidate(
                    1.12,
                    "import",
                    f"from {module} import {name}",
                    _insert_line(lines, at, f"from {module} import {name}"),
                )
            )
            break
    return out


_MODULE_ATTR = re.compile(r'"(?P<attr>[^"]+)" is not a known attribute of module "(?P<module>[^"]+)"')
_CLASS_ATTR = re.compile(r'Cannot access attribute "(?P<attr>[^"]+)" for class "(?P<cls>[^"]+)"')


def _class_members(tree: ast.Module | None, class_name: str) -> set[str]:
    members: set[str] = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    members.add(item.name)
                elif (
                    isinstance(item, ast.Attribute)
                    and isinstance(item.value, ast.Name)
                    and item.value.id == "self"
                ):
                    members.add(item.attr)
                elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
                    members.add(item.id)
    return members


def _class_of(pyright_type: str) -> str:
    """`A*` -> `A`, `list[int]` -> `list`, `Literal['x']` -> `str`, `Literal[1]` -> `int`."""
    literal = re.match(r"Literal\[(.)", pyright_type)
    if literal:
        first = literal.group(1)
        return "str" if first in "'\"" else "bytes" if first == "b" else "int"
    return re.sub(r"[\[*].*$", "", pyright_type).strip()


def _attribute(code, lines, diagnostic, file_name, context_files) -> list[Candidate]:
    attr = _span(lines, diagnostic)
    if not attr or not attr.isidentifier():
        return []
    pool: set[str] = set()
    if match := _MODULE_ATTR.search(diagnostic.message):
        module = match.group("module")
        project = _project_modules(context_files)
        if module in project:
            pool = _top_level_names(_parse(context_files[project[module]]))
        else:
            # Reading `dir()` of a display-bound module (turtle) would import tkinter: use its source.
            spec = importlib.util.find_spec(module) if module in sys.stdlib_module_names else None
            if spec is not None and spec.origin and spec.origin.endswith(".py") and module in UNSAFE_MODULES:
                with open(spec.origin, encoding="utf-8") as handle:
                    source = handle.read()
                pool = _top_level_names(_parse(source)) | set(re.findall(r"^def (\w+)", source, re.MULTILINE))
            else:
                pool = set(public_names(module))
    elif match := _CLASS_ATTR.search(diagnostic.message):
        class_name = _class_of(match.group("cls"))
        if class_name in BUILTIN_TYPES:
            pool = {n for n in dir(BUILTIN_TYPES[class_name]) if not n.startswith("_")}
        else:
            pool = _class_members(_parse(code), class_name)
            for path, text in context_files.items():
                if path != file_name and class_name in text:
                    pool |= _class_members(_parse(text), class_name)
    return [
        Candidate(cost, "attribute", f".{attr} -> .{m}", _replace_span(lines, diagnostic, m))
        for cost, m in _plausible(attr, pool, _names_near(lines, diagnostic.start_line), 1.0)
    ]


def _outside_quotes(text: str) -> Iterable[tuple[int, str]]:
    """(index, character) of the characters not inside a one-line string literal."""
    quote = None
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        else:
            yield index, char


def _code_part(line: str) -> str:
    """The line without a trailing comment (a `#` outside quotes)."""
    for index, char in _outside_quotes(line):
        if char == "#":
            return line[:index].rstrip()
    return line.rstrip()


def _bracket_balance(text: str) -> tuple[list[str], int]:
    """Unclosed openers (in order) and the index of the first unmatched closer (-1: none)."""
    stack: list[str] = []
    for index, char in _outside_quotes(text):
        if char in CLOSERS:
            stack.append(char)
        elif char in ")]}":
            if not stack or CLOSERS[stack[-1]] != char:
                return stack, index
            stack.pop()
    return stack, -1


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
LOST_PLACEHOLDER = "_lost_name_"


def _keyword_as_name(body: str) -> str | None:
    """The keyword the line uses as a name (`import = ...`, `f(class, x)`, `def.attr`), if any."""
    for word in IDENTIFIER.findall(body):
        if keyword.iskeyword(word) and re.search(rf"\b{word}\s*(=(?!=)|[,)]|\.)", body):
            return word
    return None


def _rename_keyword(line: str, word: str, name: str) -> str:
    return re.sub(rf"\b{word}\b(?=\s*(=(?!=)|[,)]|\.))", name, line)


def _bound_in(scope: ast.AST) -> set[str]:
    """The names a module, class or function body binds itself (not those its nested scopes bind)."""
    names: set[str] = set()
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = scope.args
        names |= {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x}
    stack = [scope.body] if isinstance(scope, ast.Lambda) else list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _unresolved_reads(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, row) of every read of a name that no enclosing scope, the module or the builtins bind."""
    module = _bound_in(tree) | BUILTIN_NAMES
    module |= {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, scopes: list[set[str]]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                visit(child, [*scopes, _bound_in(child)])
                continue
            read = isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)
            if read and child.id not in module and not any(child.id in bound for bound in scopes):
                found.append((child.id, child.lineno - 1))
            visit(child, scopes)

    visit(tree, [])
    return found


def _parse_with_placeholders(lines: list[str], where: int) -> ast.Module | None:
    """The file parsed with the keyword used as a name on line `where` (and on any other line the
    parser stops at) replaced by a placeholder name; None when anything else keeps it from parsing."""
    lines = list(lines)
    for attempt in range(5):
        word = _keyword_as_name(_code_part(lines[where]))
        if word is None:
            return None
        lines[where] = _rename_keyword(lines[where], word, f"{LOST_PLACEHOLDER}{attempt}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return pyparse.parse(join_lines(lines))
            except SyntaxError as error:
                where = (error.lineno or 0) - 1
                if not 0 <= where < len(lines):
                    return None
            except ValueError:
                return None
    return None


def _lost_names(lines: list[str], where: int) -> list[str] | None:
    """The names that a keyword typed over an assignment's target on line `where` left unbound:
    read after the line and only inside the line's own scope (its function or class; anywhere for a
    module-level line), bound nowhere, no misspelling of a bound name, first read within
    NEARBY_LINES (a name read far away is no evidence); nearest first. None: the file does not
    parse even with the keyword replaced."""
    tree = _parse_with_placeholders(lines, where)
    if tree is None:
        return None
    around = [n for n in ast.walk(tree) if isinstance(n, _SCOPES) and n.lineno - 1 < where <= (n.end_lineno or 0) - 1]
    scope = max(around, key=lambda n: n.lineno, default=None)  # the innermost
    low, high = (scope.lineno - 1, (scope.end_lineno or 0) - 1) if scope is not None else (0, len(lines))
    reads: dict[str, list[int]] = {}
    for name, row in _unresolved_reads(tree):
        reads.setdefault(name, []).append(row)
    bound = _bound_in(tree) | (_bound_in(scope) if scope is not None else set())

    def misspelt(name: str) -> bool:
        budget = typo_budget(name)
        return any(abs(len(b) - len(name)) <= budget and typo_distance(name, b) <= budget for b in bound)

    lost = [
        name
        for name, rows in reads.items()
        if not name.startswith(LOST_PLACEHOLDER)
        and all(where < row and low <= row <= high for row in rows)
        and min(rows) - where <= NEARBY_LINES
        and not misspelt(name)
    ]
    return sorted(lost, key=lambda name: (min(reads[name]), name))


def _keyword_edits(line: str, lost: list[str] | None) -> list[tuple[float, str, str, str]]:
    """A keyword used as a name (`import = b"PK"`) stands where an assignment's target was: the
    plausible fixes are the one name the file lost nearby (`_lost_names`), or, when it lost none,
    the variable the line reassigns from (`url = '/' + url`). Anything else (a name read far away,
    one of several lost names, a made-up `import_`) lints clean and means nothing."""
    body = _code_part(line)
    word = _keyword_as_name(body)
    if word is None or lost is None or len(lost) > 1:
        return []
    if lost:
        return [(1.45, "keyword", f"{word} -> {lost[0]}", _rename_keyword(line, word, lost[0]))]
    assigned = re.search(rf"\b{word}\s*=(?!=)", body)
    if not assigned:
        return []
    code_only = dict(_outside_quotes(body))
    value = "".join(code_only.get(i, " ") for i in range(assigned.end(), len(body)))
    reassigned = [
        m.group()
        for m in IDENTIFIER.finditer(value)
        if not keyword.iskeyword(m.group())
        and m.group() not in BUILTIN_NAMES
        and not value[: m.start()].rstrip().endswith(".")
        and not value[m.end() :].lstrip().startswith(("(", "."))  # a call or a module is no variable
        and not value[: m.start()][-1:].isdigit()  # `x1000` of `0x1000` is no name
        and body[assigned.end() + m.end() : assigned.end() + m.end() + 1] not in ("'", '"')  # nor `b"..."`
    ]
    if not reassigned:
        return []
    return [(1.45, "keyword", f"{word} -> {reassigned[0]}", _rename_keyword(line, word, reassigned[0]))]


def _syntax_line_edits(line: str) -> list[tuple[float, str, str, str]]:
    """(cost, family, description, new line) for one line (keywords used as names: `_keyword_edits`)."""
    edits = []
    body = _code_part(line)
    comment = line[len(body) :]
    compound = COMPOUND.match(body)
    if compound and not body.endswith(":"):
        edits.append((1.0, "colon", "add ':'", body + ":" + comment))
    if compound and compound.group(1) in ("if", "elif", "while"):
        equality = re.sub(r"(?<![=!<>:+\-*/%&|^])=(?!=)", "==", body, count=1)
        if equality != body:
            edits.append(
                (
                    1.1,
                    "equality",
                    "'=' -> '=='",
                    equality + (":" if not equality.endswith(":") else "") + comment,
                )
            )
    stack, stray = _bracket_balance(body)
    if stray >= 0:
        edits.append(
            (1.2, "bracket", f"drop unmatched {body[stray]!r}", body[:stray] + body[stray + 1 :] + comment)
        )
    elif stack:
        closers = "".join(CLOSERS[c] for c in reversed(stack))
        if body.endswith(":") and compound:
            edits.append((1.2, "bracket", f"close with {closers!r}", body[:-1] + closers + ":" + comment))
        else:
            edits.append((1.2, "bracket", f"close with {closers!r}", body + closers + comment))
    for quote in ("'", '"'):
        if line.count(quote) % 2 == 1 and line.count(quote * 3) == 0:
            start = line.index(quote)
            rest = line[start + 1 :]
            # Close before the brackets that follow the string, else at the end of the line.
            tail = re.search(r"[)\]}]*:?\s*$", rest)
            cut = start + 1 + (tail.start() if tail else len(rest))
            edits.append((1.3, "quote", f"close {quote}", line[:cut] + quote + line[cut:]))
    return edits


_CLOSERS_AFTER = " ,)]}:;"


def _earliest_closing(lines: list[str], where: int) -> list[tuple[float, str, str, str]]:
    """The string the line leaves open closed at the first point after which the file parses: before
    the next `,`, `)`, `:` ... or space (one space left before what follows, as code is spaced), the
    end of the line last. Where the user's closing quote went missing mid-line (`.get('CFLAGS, '')`),
    closing at the end of the line would swallow the code after the string into it."""
    line = lines[where]
    out = []
    for quote in ("'", '"'):
        if line.count(quote) % 2 == 0 or quote * 3 in line:
            continue
        # From the first quote: the one missing may close an earlier string than the one left open.
        start = line.index(quote)
        for cut in range(start + 2, len(line) + 1):
            if cut < len(line) and (
                line[cut] not in _CLOSERS_AFTER or (line[cut] == " " and line[cut + 1 : cut + 2] in (" ", ""))
            ):
                continue
            new = line[:cut] + quote + line[cut:]
            if _parse(_with_line(lines, where, new)) is not None:
                out.append((1.29, "quote", f"close {quote} at column {cut + 1}", new))
                break
    return out


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _syntax(code, lines, diagnostic, file_name, context_files) -> list[Candidate]:
    out = []
    index = min(diagnostic.start_line, len(lines) - 1)
    previous = index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    # The error is often reported on the line after the mistake (an unclosed bracket, a missing colon).
    for where, extra in ((index, 0.0), (previous, 0.3)):
        if where < 0 or not lines[where].strip():
            continue
        edits = _syntax_line_edits(lines[where]) + _earliest_closing(lines, where)
        if _keyword_as_name(_code_part(lines[where])):
            edits += _keyword_edits(lines[where], _lost_names(lines, where))
        for cost, family, description, new in edits:
            if new != lines[where]:
                out.append(
                    Candidate(
                        cost + extra,
                        family,
                        f"line {where + 1}: {description}",
                        _with_line(lines, where, new),
                    )
                )
    if lines[index].strip():
        base = _indent_of(lines[previous]) if previous >= 0 else ""
        stripped = lines[index].lstrip(" \t")
        opens_block = previous >= 0 and _code_part(lines[previous]).endswith(":")
        levels = (
            [base + "    ", base]
            if opens_block
            else [base, base[:-4] if base.endswith("    ") else None, base + "    "]
        )
        for rank, indent in enumerate(levels):
            if indent is not None and indent + stripped != lines[index]:
                out.append(
                    Candidate(
                        1.4 + 0.05 * rank,
                        "indent",
                        f"line {index + 1}: indent {len(indent)}",
                        _with_line(lines, index, indent + stripped),
                    )
                )
    return out


def _call_arguments(code, lines, diagnostic, file_name, context_files) -> list[Candidate]:
    if not diagnostic.message.startswith("Expected") or "positional argument" not in diagnostic.message:
        return []
    if _span(lines, diagnostic) is None:
        return []
    line = lines[diagnostic.start_line]
    before = re.sub(r",\s*$", "", line[: diagnostic.start_character])
    return [
        Candidate(
            1.0,
            "argument",
            "drop the extra argument",
            _with_line(lines, diagnostic.start_line, before + line[diagnostic.end_character :]),
        )
    ]


def _unused_import(code, lines, diagnostic, file_name, context_files) -> list[Candidate]:
    line = lines[diagnostic.start_line] if diagnostic.start_line < len(lines) else ""
    if re.fullmatch(r"(import \w[\w.]*|from [\w.]+ import \w+)( as \w+)?\s*", line):
        return [
            Candidate(
                1.0,
                "unused_import",
                "drop the import",
                join_lines(lines[: diagnostic.start_line] + lines[diagnostic.start_line + 1 :]),
            )
        ]
    return []


FAMILIES = {
    "reportUndefinedVariable": _undefined_name,
    "F821": _undefined_name,
    "reportAttributeAccessIssue": _attribute,
    "syntax": _syntax,
    "reportCallIssue": _call_arguments,
    "F401": _unused_import,
}


def candidates(
    code: str,
    diagnostic: Diagnostic,
    file_name: str = "main.py",
    context_files: Mapping[str, str] | None = None,
) -> list[Candidate]:
    """Candidate fixes for one diagnostic, cheapest first, without duplicates or no-op edits."""
    generate = FAMILIES.get(diagnostic.code)
    lines = split_lines(code)
    if generate is None or diagnostic.start_line >= len(lines):
        return []
    seen, unique = {code}, []
    for candidate in sorted(generate(code, lines, diagnostic, file_name, dict(context_files or {}))):
        if candidate.fixed not in seen:
            seen.add(candidate.fixed)
            unique.append(candidate)
    return unique


def one_slip_correction(
    code: str,
    diagnostic: Diagnostic,
    file_name: str = "main.py",
    context_files: Mapping[str, str] | None = None,
) -> str | None:
    """For an undefined name or unknown attribute written once in the file: the rename (`a -> b`)
    to a name of the file, project or module one slip away (`typo_distance` <= 1, not a change of
    case alone: `List` and `list` are two names by convention), or None. Most misspellings are one
    insertion, deletion, substitution or swap (Damerau, 1964); nobody means `selff` beside `self`."""
    if diagnostic.code not in ("reportUndefinedVariable", "F821", "reportAttributeAccessIssue"):
        return None
    name = _span(split_lines(code), diagnostic)
    if not name or not name.isidentifier() or len(re.findall(rf"\b{re.escape(name)}\b", code)) != 1:
        return None
    for candidate in candidates(code, diagnostic, file_name, context_files):
        if candidate.family in ("rename", "attribute"):
            typed, meant = (part.strip().lstrip(".") for part in candidate.description.split("->"))
            if typo_distance(typed, meant) <= 1 and typed.lower() != meant.lower():
                return candidate.description
    return None


@dataclass
class SearchResult:
    diff_text: str  # rendered diff, "" when nothing verified
    candidate: Candidate | None
    checked: int
    verdicts: list[tuple[Candidate, Verdict]]


class SearchRepairer:
    """`Repairer` that proposes the cheapest candidate the verifier accepts."""

    name = "search"

    def __init__(self, verifier: Verifier, max_checks: int = 6):
        self.verifier = verifier
        self.max_checks = max_checks

    def search(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> SearchResult:
        verdicts = []
        for candidate in candidates(code, diagnostic, file_name, context_files)[: self.max_checks]:
            diff_text = render_diff(make_diff(code, candidate.fixed))
            verdict = self.verifier.verify(code, diagnostic, diff_text, file_name, context_files)
            verdicts.append((candidate, verdict))
            if verdict.accepted:
                return SearchResult(diff_text, candidate, len(verdicts), verdicts)
        return SearchResult("", None, len(verdicts), verdicts)

    def propose(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> str:
        return self.search(code, diagnostic, file_name, context_files).diff_text
