"""Turns ruff and basedpyright output (CLI JSON and LSP) into `Diagnostic`s (docs/formats.md section 1).

Characters are Python `str` indices (code points) on 0-based lines for both tools: ruff reports
1-based character columns, pyright UTF-16 units, which are converted using the file's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from repair.diagnostic import Diagnostic
from repair.lint.config import RUFF_ERROR_CODES, SYNTAX_CODE, LintConfig

_LSP_SEVERITIES = {1: "error", 2: "warning", 3: "information", 4: "hint"}
_RUFF_FIXABLE = ("safe", "unsafe")


def _utf16_to_codepoints(line_text: str, units: int) -> int:
    if line_text.isascii():
        return units
    seen = 0
    for index, char in enumerate(line_text):
        if seen >= units:
            return index
        seen += 2 if ord(char) > 0xFFFF else 1
    return len(line_text)


class _Lines:
    """The file's lines, for position conversion."""

    def __init__(self, text: str):
        self.lines = text.split("\n")

    def character(self, line: int, utf16: int) -> int:
        if 0 <= line < len(self.lines):
            return _utf16_to_codepoints(self.lines[line], utf16)
        return utf16


def ruff_code(item: Mapping[str, Any]) -> str:
    code = item.get("code")
    if not code or code == "invalid-syntax" or code == "E999":
        return SYNTAX_CODE
    return str(code)


def from_ruff(item: Mapping[str, Any]) -> Diagnostic:
    """One entry of `ruff check --output-format json`."""
    code = ruff_code(item)
    start, end = item["location"], item.get("end_location") or item["location"]
    fix = item.get("fix")
    message = item["message"]
    if code == SYNTAX_CODE and not message.startswith("SyntaxError"):
        message = f"SyntaxError: {message}"
    return Diagnostic(
        source="ruff",
        code=code,
        severity="error" if code in RUFF_ERROR_CODES else "warning",
        message=message,
        start_line=max(start["row"] - 1, 0),
        start_character=max(start["column"] - 1, 0),
        end_line=max(end["row"] - 1, 0),
        end_character=max(end["column"] - 1, 0),
        has_code_action=bool(fix) and fix.get("applicability") in _RUFF_FIXABLE,
    )


def from_pyright(
    item: Mapping[str, Any], text: str, config: LintConfig, *, lines: _Lines | None = None
) -> Diagnostic:
    """One entry of `basedpyright --outputjson` (`rule`, string severity) or of an LSP
    `publishDiagnostics` (`code`, numeric severity)."""
    code = item.get("rule") or item.get("code") or SYNTAX_CODE
    severity = item.get("severity", "error")
    if isinstance(severity, int):
        severity = _LSP_SEVERITIES.get(severity, "error")
    lines = lines or _Lines(text)
    rng = item["range"]
    start, end = rng["start"], rng["end"]
    return Diagnostic(
        source="pyright",
        code=str(code),
        severity=severity,
        message=item["message"],
        start_line=start["line"],
        start_character=lines.character(start["line"], start["character"]),
        end_line=end["line"],
        end_character=lines.character(end["line"], end["character"]),
        has_code_action=code in config.pyright_quick_fix_rules,
    )


def is_reported_pyright(item: Mapping[str, Any]) -> bool:
    """The language server also publishes "unused"/"unreachable" hints (faded text, no rule);
    the CLI does not report them and neither does the IDE's problem list, so they are dropped."""
    severity = item.get("severity", 1)
    return severity not in (4, "hint")


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = set(diagnostics)
    return sorted(unique, key=lambda d: (d.start_line, d.start_character, d.source, d.code, d.message))


def pyright_diagnostics(items: Iterable[Mapping[str, Any]], text: str, config: LintConfig) -> list[Diagnostic]:
    lines = _Lines(text)
    return [from_pyright(item, text, config, lines=lines) for item in items if is_reported_pyright(item)]
