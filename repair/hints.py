"""Names like the one a diagnostic flags, for the small edit models to copy (docs/formats.md 3b).

A misspelt name is usually fixed by a name the file already holds (`raduis` -> `radius`, two lines
up), a builtin (`Flase` -> `False`), or an attribute of the class or module the message names
(`extends` -> `extend` for `list[int]`, `gmtiem` -> `gmtime` of `time`), much as CPython's "Did you
mean" finds one for a NameError. The 0.8M models read such names in their prompt and still wrote
something else: spelling a name of several tokens out of nine lines of input is what they did not
learn. So the closest names are listed after the prompt, and a model trained with them points at
one (`$K`, `repair.edits.refer_to_names`) instead of spelling it. An undefined name may instead
want an import: the standard modules that have it are listed too (`providing_modules`), and an
import points at one of them. Both lists are computed from the prompt alone (and the installed
interpreter), so training and serving compute the same ones.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import importlib.util
import re
import sys
import warnings
from types import ModuleType

from repair import pyparse
from repair.prompt import IDENTIFIER, ParsedPrompt
from repair.verify import SAME_PROBLEM

# Diagnostics that name the identifier to correct, quoted first in the message: an undefined name
# (the rules of `SAME_PROBLEM`) and an unknown attribute (`"gmtiem" is not a known attribute of
# module "time"`, `Cannot access attribute "extends" for class "list[int]"`).
_NAMING_RULES = {*SAME_PROBLEM, ("pyright", "reportAttributeAccessIssue")}
_FIRST_QUOTED = re.compile(r"[\"`]([A-Za-z_]\w*)[\"`]")
MODULE_ATTRIBUTE = re.compile(r'is not a known attribute of module "([A-Za-z_][\w.]*)"')
OF_CLASS = re.compile(r'for class "([A-Za-z_]\w*)')

# Stdlib modules whose import has side effects (a browser, printed text) or needs a display.
UNSAFE_MODULES = frozenset({"antigravity", "this", "turtledemo", "idlelib", "tkinter", "turtle"})

OPEN_NAMES, CLOSE_NAMES = "<names>", "</names>"
MAX_NAMES = 3
OPEN_MODULES, CLOSE_MODULES = "<modules>", "</modules>"
MAX_MODULES = 3
# Standard modules names are commonly imported from (`from collections import Counter`), in the order
# `search` tries them and the modules line lists them.
COMMON_MODULES = (
    "typing", "collections", "dataclasses", "pathlib", "functools", "itertools", "datetime", "enum",
    "abc", "contextlib", "copy", "math", "random", "re", "json", "os", "sys", "time", "string",
    "decimal", "fractions", "statistics", "operator", "textwrap", "pprint", "heapq", "bisect",
)  # fmt: skip
# difflib's ratio on lower-cased names: `ROWS` for `rows`, `rowIndex` for `row_index` pass, and so
# does any name sharing 60% of its letters, in order.
CUTOFF = 0.6


def flagged_name_of(message: str, source: str, code: str) -> str | None:
    """The identifier a diagnostic (its message, linter and rule) says is wrong, when its rule names one."""
    if (source, code) not in _NAMING_RULES:
        return None
    found = _FIRST_QUOTED.search(message)
    return found.group(1) if found else None


def flagged_name(prompt: ParsedPrompt) -> str | None:
    """`flagged_name_of` the prompt's diagnostic."""
    parts = prompt.diagnostic_parts()
    return flagged_name_of(*parts) if parts is not None else None


@functools.lru_cache(maxsize=512)
def module_names(module: str) -> frozenset[str]:
    """The public top-level names of an installed top-level module, read without running any of it
    (its source's assignments, definitions and imports; a compiled module is the interpreter's own,
    imported). Empty for a package's submodule (finding it would import the package), a module not
    installed, or a source that does not parse."""
    if "." in module:
        return frozenset()
    if module in sys.builtin_module_names:
        return frozenset(n for n in dir(__import__(module)) if not n.startswith("_"))
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return frozenset()
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return frozenset()
    try:
        with open(spec.origin, encoding="utf-8") as source:
            tree = pyparse.parse(source.read(), spec.origin)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return frozenset()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(n for n in names if not n.startswith("_") and n != "*")


def stdlib_module(name: str) -> ModuleType | None:
    """A standard library module (`os.path` too), imported, so that `dir()` lists exactly what it
    has; None for any other module, one of `UNSAFE_MODULES`, or one that fails to import here."""
    if name.split(".")[0] in UNSAFE_MODULES or name.split(".")[0] not in sys.stdlib_module_names:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module that cannot be imported here offers no names
        return None


def _candidates(prompt: ParsedPrompt, message: str) -> set[str]:
    module = MODULE_ATTRIBUTE.search(message)
    if module:
        return set(module_names(module.group(1)))
    owner = OF_CLASS.search(message)
    if owner:
        cls = getattr(builtins, owner.group(1), None)
        return {n for n in dir(cls) if not n.startswith("_")} if isinstance(cls, type) else set()
    return set(IDENTIFIER.findall(prompt.code_excerpt)) | set(dir(builtins))


@functools.lru_cache(maxsize=256)
def similar_names(prompt: ParsedPrompt) -> tuple[str, ...]:
    """Up to `MAX_NAMES` names closest in spelling to the flagged one (`flagged_name`), closest
    first: for an attribute of a module or a builtin class, that module's or class's names; for any
    other name, the prompt's identifiers and the builtins. Empty when no name is flagged. Cached:
    serving one request reads them for the input, the no-op rule and each candidate's expansion."""
    name = flagged_name(prompt)
    if name is None:
        return ()
    by_lower: dict[str, str] = {}
    for candidate in sorted(_candidates(prompt, prompt.lsp_error) - {name}):
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), by_lower, n=MAX_NAMES, cutoff=CUTOFF)
    return tuple(by_lower[c] for c in close)


@functools.cache
def public_names(module: str) -> frozenset[str]:
    """The public attributes of a standard module, imported (empty for any other)."""
    found = stdlib_module(module)
    return frozenset(n for n in dir(found) if not n.startswith("_")) if found is not None else frozenset()


@functools.lru_cache(maxsize=256)
def providing_modules(prompt: ParsedPrompt) -> tuple[str, ...]:
    """Up to `MAX_MODULES` of `COMMON_MODULES` (in their order) that have the name the diagnostic
    says is undefined (`"Counter" is not defined`: `typing collections`); empty for any other
    diagnostic. An import's module is knowledge a small model barely holds: the line says where
    the name can come from, and the model chooses between an import and a correction."""
    parts = prompt.diagnostic_parts()
    name = flagged_name(prompt)
    if parts is None or name is None or SAME_PROBLEM.get((parts[1], parts[2])) is None:
        return ()
    return tuple(m for m in COMMON_MODULES if name in exported_names(m))[:MAX_MODULES]


@functools.cache
def exported_names(module: str) -> frozenset[str]:
    """What a standard module offers to import from it: its `__all__` where it declares one, else
    its public attributes that are not modules (`fractions` imports `math` for itself)."""
    found = stdlib_module(module)
    if found is None:
        return frozenset()
    declared = getattr(found, "__all__", None)
    if declared is not None:
        return frozenset(declared)
    return frozenset(n for n in public_names(module) if not isinstance(getattr(found, n, None), ModuleType))


def names_line(prompt: ParsedPrompt) -> str:
    """The line the model reads after the prompt (`<names>radius round</names>`), or "" when no
    name is flagged or none is close."""
    names = similar_names(prompt)
    return f"{OPEN_NAMES}{' '.join(names)}{CLOSE_NAMES}\n" if names else ""


def modules_line(prompt: ParsedPrompt) -> str:
    """The line the model reads after the names line (`<modules>typing collections</modules>`), or
    "" when `providing_modules` has none."""
    modules = providing_modules(prompt)
    return f"{OPEN_MODULES}{' '.join(modules)}{CLOSE_MODULES}\n" if modules else ""
