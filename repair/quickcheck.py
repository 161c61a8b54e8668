"""The served repairer's own check of its candidate answers, cheap enough for every request: which of
a model's decoded answers clears the diagnostic it was asked about without adding an error, as far
as ruff's syntax check and its undefined-name rules can tell.

One `ruff check --select F821,F822,F823,F404` process (syntax errors are always reported) lints the file
and every candidate's fixed file of a whole batch: about 10 ms. A candidate passes when

- its diff applies and changes the file,
- no problem appears that the file did not have (`repair.verify.problem_of`: an undefined name is
  keyed by the name, and one already undefined is not new; anything else by rule and message; in a
  file that did not parse, ruff reported no undefined names, so only a name the file never writes
  counts as new: `profit` typed `procode` while adding a missing colon), and
- the target is gone when ruff can see it: a syntax error (ruff's count of syntax errors drops) or
  an undefined name (pyright `reportUndefinedVariable` or ruff `F821`: that name's count drops).
  Other targets (an attribute typo, a bad call) are pyright's alone; for them the check only
  guards against new errors, but for one: an unknown attribute of a standard module (`"gmtiem" is
  not a known attribute of module "time"`) must not be written again on a line the fix adds as
  another name that module lacks (`time.mimegmtiem`): the module, imported, lists what it has.
  Nor may a fix of an unknown attribute of a standard module or of a builtin class (`Cannot access
  attribute "length" for class "str"`), owners that no code can give an attribute, write that
  attribute as often as before (`words[-21].length`), or write, for the class, an attribute new to
  the file that it lacks (`word.lowerlowercase()`).
- no line the fix adds writes an attribute that a builtin lacks, for a builtin the file never
  writes itself (`format.inf` for `math.inf`).
- no line the fix adds calls `True`, `False` or `None` (`True(operator.xor, nums)` for the undefined
  `reduce`: never callable).
- no line the fix adds imports what does not exist, as far as can be told (`imports_unknown`): a
  standard module must import here and have the name (`from collections import Counter`, never
  `import Counter`); another module must be a package the file imports from already, since any
  other is a guess at the user's environment.

This is not verification (`repair.verify`: ruff with the IDE's rules and basedpyright, seconds per
file) and never the benchmark's tests: it only orders the model's own answers.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import io
import keyword
import re
import sys
import tempfile
import tokenize
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from repair import pyparse
from repair.diagnostic import Diagnostic
from repair.hints import MODULE_ATTRIBUTE, OF_CLASS, UNSAFE_MODULES, flagged_name_of, stdlib_module
from repair.linediff import DiffError, apply_diff, parse_diff
from repair.lint.config import SYNTAX_CODE
from repair.lint.normalize import from_ruff
from repair.lint.tools import run_ruff_json
from repair.prompt import ParsedPrompt, top_level_import
from repair.verify import problem_of

# Undefined name; in `__all__`; local used before assignment; a `from __future__` import no longer
# first (Python refuses the file; ruff reports it as a rule, not a syntax error).
QUICK_RULES = ("F821", "F822", "F823", "F404")
QUICK_TIMEOUT_S = 10.0
UNDEFINED_NAME = "undefined name"
_SYNTAX = ("syntax",)  # every syntax error counted under one key besides its own


def quick_problems(
    texts: Sequence[str], timeout_s: float = QUICK_TIMEOUT_S
) -> list[Counter[tuple[str, ...]]]:
    """Per text, its problems by `problem_of` as one ruff process reports them (syntax errors also
    counted together under `("syntax",)`). Raises `ToolFailure` when ruff fails."""
    with tempfile.TemporaryDirectory(prefix="quickcheck-") as folder:
        root = Path(folder)
        names = [f"f{i}.py" for i in range(len(texts))]
        for name, text in zip(names, texts, strict=True):
            (root / name).write_text(text, encoding="utf-8")
        items = run_ruff_json(
            ["--isolated", "--select", ",".join(QUICK_RULES), *names], cwd=root, timeout_s=timeout_s
        )
    index = {name: i for i, name in enumerate(names)}
    found: list[Counter[tuple[str, ...]]] = [Counter() for _ in texts]
    for item in items:
        i = index.get(Path(item["filename"]).name)
        if i is None:
            continue
        diagnostic = from_ruff(item)
        found[i][problem_of(diagnostic)] += 1
        if diagnostic.code == SYNTAX_CODE:
            found[i][_SYNTAX] += 1
    return found


def target_key(target: Diagnostic) -> tuple[str, ...] | None:
    """The key under which `quick_problems` counts the target, None when ruff cannot see it."""
    if target.code == SYNTAX_CODE:
        return _SYNTAX
    problem = problem_of(target)
    return problem if problem[0] == UNDEFINED_NAME else None


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@functools.lru_cache(maxsize=8)
def _written_names(code: str) -> frozenset[str]:
    """Every identifier-like word `code` writes: read once per request, not once per candidate."""
    return frozenset(_IDENTIFIER.findall(code))


def clears(
    target: Diagnostic,
    before: Counter[tuple[str, ...]],
    after: Counter[tuple[str, ...]],
    code: str | None = None,
) -> bool:
    """The module doc's rule, for the problems of the file `code` before and after a candidate fix."""
    new = after - before
    # A name that was already undefined is no new problem where it is used once more (a window's
    # names imported above it: `typign` -> `typing`). In a file that does not parse, ruff reports
    # nothing but syntax errors, so an undefined name is only new when `code` never writes it.
    written = _written_names(code) if code is not None and before[_SYNTAX] else None
    new = Counter(
        {
            problem: n
            for problem, n in new.items()
            if problem[0] != UNDEFINED_NAME
            or (
                problem[1] not in written
                if written is not None
                else not before[_SYNTAX] and not before[problem]
            )
        }
    )
    if new:
        return False
    key = target_key(target)
    # A target ruff does not report in the file (pyright's own view) cannot be checked here.
    return key is None or before[key] == 0 or after[key] < before[key]


_ACCESS = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)")
_ATTRIBUTE = re.compile(r"\.\s*([A-Za-z_]\w*)")


def _unknown_attribute(target: Diagnostic) -> tuple[str, str | None, set[str]] | None:
    """(the unknown attribute, its standard module or None, what its owner has) when the target is
    pyright's unknown attribute of a standard module or of a builtin class: owners no code of the
    project can give an attribute. None for any other target."""
    name = flagged_name_of(target.message, target.source, target.code)
    found = MODULE_ATTRIBUTE.search(target.message)
    if found:
        module = stdlib_module(found.group(1))
        return (name, found.group(1), set(dir(module))) if name and module is not None else None
    owner = OF_CLASS.search(target.message)
    cls = getattr(builtins, owner.group(1), None) if owner else None
    return (name, None, set(dir(cls))) if name and isinstance(cls, type) else None


@functools.lru_cache(maxsize=64)
def _added_lines(code: str, fixed: str) -> frozenset[str]:
    """The lines of `fixed` that `code` does not have: read once per candidate, for every rule."""
    return frozenset(fixed.split("\n")) - frozenset(code.split("\n"))


def writes_unknown_attribute(target: Diagnostic, code: str, fixed: str) -> bool:
    """Whether `fixed` writes, on a line that `code` does not have, an attribute that its object
    lacks: of a builtin that `code` never writes (so no local of that name hides it: `format.inf`
    for `math.inf`); or, in a fix of an unknown attribute X of a standard module or a builtin class
    (`_unknown_attribute`), whether it still writes `.X` as often as `code` does, or writes the
    module's attribute it lacks, or an attribute new to the file that the class lacks."""
    added = _added_lines(code, fixed)
    written = _written_names(code) - set(keyword.kwlist)  # `True` is never a local
    accesses = [access for line in added for access in _ACCESS.findall(line)]
    known = {
        name: set(dir(getattr(builtins, name)))
        for name in {name for name, _ in accesses} - written
        if hasattr(builtins, name)
    }
    unknown = _unknown_attribute(target)
    if unknown is not None:
        attribute, module, has = unknown
        writes = re.compile(rf"\.\s*{re.escape(attribute)}\b")
        if len(writes.findall(fixed)) >= len(writes.findall(code)):
            return True
        if module is not None:
            # The module as the error line writes it (`mp` for `import multiprocessing as mp`;
            # `os.path`), then the attribute.
            lines = code.split("\n")
            error_line = lines[target.start_line] if 0 <= target.start_line < len(lines) else ""
            owner = re.search(rf"((?<![\w.])[A-Za-z_][\w.]*?)\s*\.\s*{re.escape(attribute)}\b", error_line)
            written_as = owner.group(1) if owner else module
            of_module = re.compile(rf"(?<![\w.]){re.escape(written_as)}\s*\.\s*([A-Za-z_]\w*)")
            if any(new not in has for line in added for new in of_module.findall(line)):
                return True
        elif any(new not in has for line in added for new in set(_ATTRIBUTE.findall(line)) - written):
            return True
    return any(name in known and attribute not in known[name] for name, attribute in accesses)


_CONSTANT_CALL = re.compile(r"(?<![\w.])(?:True|False|None)\s*\(")


def calls_a_constant(code: str, fixed: str) -> bool:
    """Whether a line `fixed` adds calls `True`, `False` or `None`."""
    return any(_CONSTANT_CALL.search(line) for line in _added_lines(code, fixed))


def imports_unknown(code: str, fixed: str) -> bool:
    """Whether a line `fixed` adds imports a module or a name that does not exist, as far as can be
    told here: a standard module that does not import, or lacks the name imported from it (neither
    an attribute nor a submodule); a relative import in a file without one; or a module of a package
    `code` imports nothing from."""
    for line in _added_lines(code, fixed):
        node = top_level_import(line.strip())
        if node is None:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            if not _imported(code)[1]:
                return True
            continue
        for alias in node.names:
            module = node.module if isinstance(node, ast.ImportFrom) else alias.name
            top = (module or "").split(".")[0]
            if top in UNSAFE_MODULES:  # standard, but never imported here: its names go unchecked
                continue
            if top not in sys.stdlib_module_names:
                if top not in _imported(code)[0]:
                    return True
                continue
            found = stdlib_module(module)
            if found is None:
                return True
            name = alias.name
            if (
                isinstance(node, ast.ImportFrom)
                and name != "*"
                and not hasattr(found, name)
                and not _submodule(f"{module}.{name}")
            ):
                return True
    return False


def _submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # the parent is no package (`math.tau`)
        return False


@functools.lru_cache(maxsize=8)
def _imported(code: str) -> tuple[frozenset[str], bool]:
    """The top-level packages `code` imports from, and whether it has a relative import."""
    packages, relative = set(), False
    for line in code.split("\n"):
        node = top_level_import(line.strip())
        if isinstance(node, ast.ImportFrom):
            relative |= bool(node.level)
            packages.add((node.module or "").split(".")[0])
        elif node is not None:
            packages |= {alias.name.split(".")[0] for alias in node.names}
    return frozenset(packages - {""}), relative


def applied(code: str, completion: str) -> str | None:
    """The file a completion's diff makes, None when it does not parse, apply or change anything."""
    try:
        fixed = apply_diff(code, parse_diff(completion))
    except DiffError:
        return None
    return fixed if fixed != code else None


SCAFFOLD = "if True:"
TRIPLE_QUOTES = ('"""', "'''")
# The statement a window's first line continues when it starts on a later clause.
CLAUSE_HEADS = {"except": "try:", "finally": "try:", "elif": SCAFFOLD, "else": SCAFFOLD}


def _scaffolded(shown: dict[int, str], opener: str = "") -> dict[int, str]:
    """The shown lines, with blocks opened on the unknown lines just above them: a window cut from
    inside a function starts indented, Python refuses the file, and ruff then reports no undefined
    name, so an undefined-name target could not be checked at all (any candidate that added no
    problem passed). One `if True:` per indentation level the window's lines return to, outermost
    first, then the statement a first line's clause (`except`, `else`, ...) belongs to, or `opener`
    (a string the window starts inside of) at the first line's indentation, end on the line above
    the window. Unchanged when the window uses tabs or has too few lines above it."""
    first = min(shown, default=1)
    texts = [text for text in shown.values() if text.strip()]
    if not texts or any("\t" in text[: len(text) - len(text.lstrip())] for text in texts):
        return shown
    indents = [len(text) - len(text.lstrip(" ")) for text in texts]
    levels = sorted({0, *(indent for indent in indents if indent < indents[0])}) if indents[0] else []
    above = [" " * level + SCAFFOLD for level in levels]
    clause = texts[0].split(maxsplit=1)[0].rstrip(":")
    if not opener and clause in CLAUSE_HEADS:  # a window that starts on `except`, `else`, ...
        above += [" " * indents[0] + CLAUSE_HEADS[clause], " " * (indents[0] + 4) + "..."]
    above += [" " * indents[0] + opener] if opener else []
    if len(above) > first - 1:
        return shown
    return {**{first - len(above) + k: text for k, text in enumerate(above)}, **shown}


def _window_file(shown: dict[int, str]) -> dict[int, str]:
    """The `_scaffolded` lines whose strings all close, with the fewest lines inside strings, then
    parsed furthest: a window may also start or end inside a docstring (its first triple quote closes
    one), and then the rest of the file is a string in which ruff sees no error, the target's
    included, so even the right fix would fail the check. Tried: a triple quote opened above the
    window or closed below it; the plain scaffold wins ties. A block
    opened on the last line of code gets a body, as the error it would raise could hide the target's."""
    if not shown:
        return shown

    def parsed_through(lines: dict[int, str]) -> tuple[bool, int, int]:
        """Whether every string closes, the fewest lines inside strings (a quote opened on the
        wrong side turns the window's code into a string), then the line of the first error."""
        text = "".join(f"{lines.get(n, '')}\n" for n in range(1, max(lines) + 1))
        string_lines = 0
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type == tokenize.STRING:
                    string_lines += token.end[0] - token.start[0]
            closed = True
        except tokenize.TokenError as error:  # an unclosed bracket (the target's, maybe) is no matter
            closed = "string" not in str(error)
        except SyntaxError:
            closed = False
        try:
            pyparse.parse(text)
        except SyntaxError as error:
            return closed, -string_lines, error.lineno or 0
        except ValueError:  # a null byte
            return closed, -string_lines, 0
        return closed, -string_lines, max(lines) + 1

    code = [n for n, text in shown.items() if text.strip() and not text.lstrip().startswith("#")]
    opening = shown[max(code)] if code else ""
    body = {}
    if opening.rstrip().endswith(":"):  # a block opened on the window's last line: give it a body
        indent = len(opening) - len(opening.lstrip())
        body = {max(shown) + 1: opening[:indent] + "    ..."}
    plain = {**_scaffolded(shown), **body}
    variants = [plain]
    for quote in TRIPLE_QUOTES:
        if any(quote in text for text in shown.values()):
            variants += [{**_scaffolded(shown, opener=quote), **body}, {**plain, max(plain) + 1: quote}]
    return max(variants, key=parsed_through)


def prompt_source(prompt: ParsedPrompt) -> tuple[str, Diagnostic] | None:
    """What to check a completion against when only its section 3 prompt is at hand (the held-out
    split, k samples of one prompt): the prompt's lines at their numbers (lines it does not show are
    blank, harmless to both rules, but for `_window_file`'s blocks and quotes around the window) and the
    diagnostic of its `<lsp_error>` at its error line."""
    parts = prompt.diagnostic_parts()
    if parts is None:
        return None
    message, source, code = parts
    shown = _window_file(dict(prompt.lines))
    text = "".join(f"{shown.get(n, '')}\n" for n in range(1, max(shown, default=0) + 1))
    line = prompt.error_line - 1
    return text, Diagnostic(source, code, "error", message, line, 0, line, 0)


def first_clearing(
    requests: Sequence[tuple[str, Diagnostic] | None], candidates: Sequence[Sequence[str]]
) -> list[int | None]:
    """Per request `(code, target)`, the index of its first candidate completion that passes the
    check (None when none does, or the request is None), with one ruff process for the whole batch."""
    fixed = [
        [applied(request[0], c) for c in answers] if request is not None else []
        for request, answers in zip(requests, candidates, strict=True)
    ]
    texts: list[str] = []
    for request, files in zip(requests, fixed, strict=True):
        if request is not None:
            texts += [request[0], *(f for f in files if f is not None)]
    distinct = list(dict.fromkeys(texts))
    problems = dict(zip(distinct, quick_problems(distinct), strict=True)) if distinct else {}
    chosen: list[int | None] = []
    for request, files in zip(requests, fixed, strict=True):
        before = problems[request[0]] if request is not None else None
        chosen.append(
            next(
                (
                    i
                    for i, f in enumerate(files)
                    if f is not None
                    and before is not None
                    and clears(request[1], before, problems[f], request[0])
                    and not writes_unknown_attribute(request[1], request[0], f)
                    and not imports_unknown(request[0], f)
                    and not calls_a_constant(request[0], f)
                ),
                None,
            )
        )
    return chosen
