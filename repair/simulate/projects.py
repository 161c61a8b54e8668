"""Projects ("repls") cut from real Python modules.

A project is a small, self-consistent selection of one module's top-level definitions: a seed
definition plus every module-level name it needs (transitively), and perhaps a few neighbours, with
only the imports the selection uses. Some projects are split into `main.py` and a helper module
that `main.py` imports from, so that the language server has cross-file work to do.

Each file is a list of segments (the import block, then one per top-level statement): the unit the
simulated user writes in one burst.
"""

from __future__ import annotations

import ast
import builtins
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from repair import pyparse

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__spec__", "__builtins__"}
HELPER_MODULE_NAMES = ("helpers", "utils", "common", "support", "tools")


@dataclass(frozen=True)
class ProjectFile:
    path: str
    segments: tuple[str, ...]  # each ends with "\n"; the first may be the import block
    has_import_block: bool

    @property
    def text(self) -> str:
        return "".join(self.segments)


@dataclass(frozen=True)
class Project:
    source: str  # the module the code comes from, e.g. "json/decoder.py"
    files: tuple[ProjectFile, ...]  # in writing order: helper modules before main.py

    @property
    def line_count(self) -> int:
        return sum(f.text.count("\n") for f in self.files)


@dataclass(frozen=True)
class _Statement:
    node: ast.stmt
    text: str
    defines: frozenset[str]
    uses: frozenset[str]


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    names: set[str] = set()
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    for target in targets:
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _strip_long_docstrings(text: str, max_lines: int = 3) -> str:
    """Drops docstrings longer than `max_lines` from a statement's functions and classes: they make
    typing long and give the language server nothing to check."""
    tree = pyparse.parse(text)
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and len(node.body) > 1:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
                and first.end_lineno - first.lineno + 1 > max_lines
            ):
                drop.update(range(first.lineno, first.end_lineno + 1))
    if not drop:
        return text
    return "".join(line for i, line in enumerate(text.splitlines(keepends=True), 1) if i not in drop)


def _statement_text(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    assert node.end_lineno is not None
    body = "".join(lines[start - 1 : node.end_lineno])
    body = "\n".join(line.rstrip() for line in body.splitlines()) + "\n"
    return _strip_long_docstrings(body)


def _import_line(node: ast.Import | ast.ImportFrom, keep: set[str]) -> str | None:
    aliases = [a for a in node.names if (a.asname or a.name).split(".")[0] in keep]
    if not aliases:
        return None
    parts = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name for a in aliases)
    if isinstance(node, ast.Import):
        return f"import {parts}\n"
    return f"from {node.module} import {parts}\n"


class _Module:
    """One source module, parsed into what a selection needs."""

    def __init__(self, path: Path, root: Path):
        self.name = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if "\t" in text:
            raise ValueError("tabs")
        tree = pyparse.parse(text)
        lines = text.splitlines(keepends=True)
        self.imports: list[ast.Import | ast.ImportFrom] = []
        self.statements: list[_Statement] = []
        # Names a selection cannot have: bound by relative or star imports, conditional blocks, ...
        self.unavailable: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                self.imports.append(node)
            elif isinstance(node, ast.ImportFrom):
                if node.level or node.module == "__future__" or any(a.name == "*" for a in node.names):
                    self.unavailable |= {a.asname or a.name for a in node.names}
                else:
                    self.imports.append(node)
            elif isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
            ):
                names = _bound_names(node)
                if names & {"__all__", "__version__"}:
                    continue
                self.statements.append(
                    _Statement(
                        node, _statement_text(lines, node), frozenset(names), frozenset(_used_names(node))
                    )
                )
            else:
                self.unavailable |= {
                    n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
        self.imported = {name for node in self.imports for name in _bound_names(node)}
        self.definer: dict[str, int] = {}
        for i, st in enumerate(self.statements):
            for name in st.defines:
                self.definer.setdefault(name, i)

    def closure(self, seed: int) -> set[int] | None:
        """The statements `seed` needs, or None when it needs something a selection cannot have."""
        chosen: set[int] = set()
        todo = [seed]
        while todo:
            i = todo.pop()
            if i in chosen:
                continue
            chosen.add(i)
            st = self.statements[i]
            for name in st.uses:
                if name in self.definer:
                    todo.append(self.definer[name])
                elif name in self.unavailable:
                    return None
        return chosen


def _lines(text: str) -> int:
    return text.count("\n")


def build_project(
    path: Path, root: Path, rng: random.Random, *, min_lines: int, max_lines: int, multi_file_rate: float
) -> Project | None:
    """A project from one module, or None when the module offers no fitting selection."""
    try:
        module = _Module(path, root)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None
    seeds = [
        i
        for i, st in enumerate(module.statements)
        if isinstance(st.node, (ast.FunctionDef, ast.ClassDef)) and 4 <= _lines(st.text) <= max_lines // 2
    ]
    rng.shuffle(seeds)
    for seed in seeds[:8]:
        chosen = module.closure(seed)
        if chosen is None or sum(_lines(module.statements[i].text) for i in chosen) > max_lines:
            continue
        # Grow with neighbouring definitions (and what they need) while the project stays small.
        for neighbour in (seed + 1, seed - 1, seed + 2, seed + 3):
            size = sum(_lines(module.statements[i].text) for i in chosen)
            if size >= min_lines * 2 or not 0 <= neighbour < len(module.statements):
                continue
            more = module.closure(neighbour)
            if (
                more is not None
                and size + sum(_lines(module.statements[i].text) for i in more - chosen) <= max_lines
            ):
                chosen |= more
        if sum(_lines(module.statements[i].text) for i in chosen) < min_lines:
            continue
        return _arrange(module, sorted(chosen), rng, multi_file_rate)
    return None


def _arrange(
    module: _Module, chosen: list[int], rng: random.Random, multi_file_rate: float
) -> Project | None:
    statements = [module.statements[i] for i in chosen]
    defined = set().union(*(st.defines for st in statements))
    helper_part: list[_Statement] = []
    defs = [st for st in statements if isinstance(st.node, (ast.FunctionDef, ast.ClassDef))]
    if len(defs) >= 3 and rng.random() < multi_file_rate:
        # Leaves (definitions that use no other selected name) can move to a helper module.
        leaves = [st for st in defs if not (st.uses & (defined - st.defines))]
        rng.shuffle(leaves)
        helper_part = (
            leaves[: max(1, len(leaves) // 2)] if len(leaves) < len(defs) else leaves[: len(defs) // 2]
        )
    main_part = [st for st in statements if st not in helper_part]
    files: list[ProjectFile] = []
    if helper_part:
        helper_name = next(
            name
            for name in rng.sample(HELPER_MODULE_NAMES, len(HELPER_MODULE_NAMES))
            if name not in sys.stdlib_module_names and name not in defined and name not in module.imported
        )
        files.append(_file(f"{helper_name}.py", helper_part, module, local_import=None))
        moved = set().union(*(st.defines for st in helper_part))
        files.append(_file("main.py", main_part, module, local_import=(helper_name, moved)))
    else:
        files.append(_file("main.py", main_part, module, local_import=None))
    project = Project(source=module.name, files=tuple(files))
    for f in project.files:
        try:
            compile(f.text, f.path, "exec")
        except SyntaxError:
            return None
    return project


def _file(
    path: str, statements: list[_Statement], module: _Module, local_import: tuple[str, set[str]] | None
) -> ProjectFile:
    uses = set().union(*(st.uses for st in statements)) if statements else set()
    import_lines = [line for node in module.imports if (line := _import_line(node, uses)) is not None]
    if local_import is not None:
        helper, moved = local_import
        needed = sorted(moved & uses)
        if needed:
            import_lines.append(f"from {helper} import {', '.join(needed)}\n")
    segments: list[str] = []
    if import_lines:
        segments.append("".join(import_lines))
    for st in statements:
        gap = "\n\n" if isinstance(st.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else "\n"
        segments.append((gap if segments else "") + st.text)
    return ProjectFile(path=path, segments=tuple(segments), has_import_block=bool(import_lines))
