"""The one configuration of the "IDE language server" (ruff + basedpyright) that logged the
diagnostics. The simulator, the reproduction stage and verification all lint with it, so that a
diagnostic logged by one reproduces in the others.

Ruff selection: ruff's defaults (`E4`, `E7`, `E9`, `F`: real errors such as F821 undefined name,
F401 unused import, F841 unused variable, syntax errors) plus the style families an IDE shows
(`E501` line length, `W` whitespace, `I001` import sorting, `N` naming) and `B` (likely bugs such as
mutable defaults), so that the style filter of the reproduction stage has real work to do.

basedpyright: `typeCheckingMode = "standard"` (pyright's default rule set: reportUndefinedVariable,
reportAttributeAccessIssue, reportCallIssue, reportIndexIssue, reportOptionalMemberAccess, ... as
errors), Python 3.11 on Linux, no basedpyright-only rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

RUFF_SELECT: tuple[str, ...] = ("E4", "E7", "E9", "F", "E501", "W", "I001", "N", "B")
RUFF_LINE_LENGTH = 88

# Rules whose pyright diagnostics count as having a deterministic code action. Asked for quick fixes
# (`textDocument/codeAction`, basedpyright 1.40), the language server offers for every rule only an
# `# pyright: ignore[rule]` comment (a suppression, not a fix), and for undefined names a list of
# auto-import candidates from the environment (`Path`: pathlib or zipfile; `Sequence`: typing,
# collections.abc or typing_extensions), i.e. a choice, not a deterministic fix. So no rule by
# default; a deployment whose IDE applies fixes for some rules lists them here.
PYRIGHT_QUICK_FIX_RULES: frozenset[str] = frozenset()

# How ruff's language server grades diagnostics: undefined names, IO errors and syntax errors are
# errors, every other rule a warning.
RUFF_ERROR_CODES: frozenset[str] = frozenset({"F821", "E902", "syntax"})

SYNTAX_CODE = "syntax"


@dataclass(frozen=True)
class LintConfig:
    ruff_select: tuple[str, ...] = RUFF_SELECT
    ruff_line_length: int = RUFF_LINE_LENGTH
    python_version: str = "3.11"
    type_checking_mode: str = "standard"
    pyright_quick_fix_rules: frozenset[str] = PYRIGHT_QUICK_FIX_RULES
    # Extra `pyrightconfig.json` settings (rule overrides such as {"reportMissingImports": "none"}).
    pyright_overrides: dict[str, object] = field(default_factory=dict)

    def ruff_toml(self, src: list[str] | None = None) -> str:
        """A `ruff.toml`; `src` lists the project folders, so that import sorting classifies a
        project's own modules as first-party as it does in the IDE."""
        lines = [
            f'target-version = "py{self.python_version.replace(".", "")}"',
            f"line-length = {self.ruff_line_length}",
            f"src = {json.dumps(src or ['.'])}",
            "[lint]",
            f"select = {json.dumps(list(self.ruff_select))}",
        ]
        return "\n".join(lines) + "\n"

    def pyright_config(
        self, include: list[str] | None = None, roots: list[str] | None = None
    ) -> dict[str, object]:
        """A `pyrightconfig.json`. `roots` makes each project folder its own execution
        environment, so that absolute imports inside a project resolve from its own root."""
        config: dict[str, object] = {
            "typeCheckingMode": self.type_checking_mode,
            "pythonVersion": self.python_version,
            "pythonPlatform": "Linux",
            "exclude": [],
            "enableTypeIgnoreComments": True,
            **self.pyright_overrides,
        }
        if include is not None:
            config["include"] = include
        if roots:
            config["executionEnvironments"] = [{"root": root} for root in roots]
        return config

    def write_pyright_config(self, folder: Path, include=None, roots=None) -> Path:
        path = folder / "pyrightconfig.json"
        path.write_text(json.dumps(self.pyright_config(include, roots), indent=1))
        return path

    def write_ruff_config(self, folder: Path, src: list[str] | None = None) -> Path:
        path = folder / "ruff.toml"
        path.write_text(self.ruff_toml(src))
        return path


DEFAULT_CONFIG = LintConfig()
