"""Where the embedded default's real source code comes from, and what is kept out of training.

The simulator writes sessions from real Python modules (by default the running interpreter's
standard library). The modules in `EVAL_RESERVED_MODULES` are reserved for the executable
evaluation benchmark, which runs them against their own `Lib/test` suites: the simulator never uses
them, so no evaluation source can leak into training. Both stages read this one list.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from pathlib import Path

EVAL_RESERVED_MODULES: tuple[str, ...] = (
    "textwrap",
    "colorsys",
    "fnmatch",
    "shlex",
    "calendar",
    "glob",
    "base64",
    "quopri",
    "graphlib",
    "netrc",
    "html",
    "gettext",
)

# Test suites, tooling and generated or platform-specific code are not what users write.
EXCLUDED_PACKAGES: tuple[str, ...] = (
    "test", "tests", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip", "venv",
    "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu", "pydoc_data", "encodings",
    "__pycache__", "unittest", "distutils", "msilib", "ctypes",
)


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_reserved(name: str, reserved: tuple[str, ...] = EVAL_RESERVED_MODULES) -> bool:
    return any(name == r or name.startswith(r + ".") for r in reserved)


def iter_source_files(
    root: Path | None = None, reserved: tuple[str, ...] = EVAL_RESERVED_MODULES
) -> Iterator[Path]:
    """Python files under `root` (default: the standard library), sorted, without test packages,
    excluded tooling or reserved modules."""
    root = Path(root) if root else stdlib_dir()
    for path in sorted(root.rglob("*.py")):
        rel_parts = path.relative_to(root).parts
        if any(part in EXCLUDED_PACKAGES or part.startswith("test_") for part in rel_parts):
            continue
        if is_reserved(module_name(path, root), reserved):
            continue
        yield path
