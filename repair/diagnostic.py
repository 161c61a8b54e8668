"""The normalised language-server diagnostic every stage shares (docs/formats.md section 1).

Lines and characters are 0-based as in LSP; `line1` gives the 1-based line that the model input,
the numbered line diff and the Triton interface use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SEVERITIES = ("error", "warning", "information", "hint")
SOURCES = ("pyright", "ruff")


@dataclass(frozen=True)
class Diagnostic:
    source: str
    code: str
    severity: str
    message: str
    start_line: int
    start_character: int
    end_line: int
    end_character: int
    has_code_action: bool = False

    @property
    def line1(self) -> int:
        return self.start_line + 1

    @property
    def key(self) -> tuple[str, str, int]:
        """What "the same diagnostic" means when reproducing one: source, rule and line."""
        return (self.source, self.code, self.start_line)

    def to_lsp_range(self) -> dict[str, Any]:
        return {
            "start": {"line": self.start_line, "character": self.start_character},
            "end": {"line": self.end_line, "character": self.end_character},
        }

    def to_event_fields(self) -> dict[str, Any]:
        """The fields of an `lsp_diagnostic` event (without v/session/repl/ts/file/version)."""
        return {
            "source": self.source,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "range": self.to_lsp_range(),
            "has_code_action": self.has_code_action,
        }

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Diagnostic:
        rng = event["range"]
        return cls(
            source=event["source"],
            code=event["code"],
            severity=event["severity"],
            message=event["message"],
            start_line=rng["start"]["line"],
            start_character=rng["start"]["character"],
            end_line=rng["end"]["line"],
            end_character=rng["end"]["character"],
            has_code_action=bool(event.get("has_code_action", False)),
        )

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The text of the model input's `<lsp_error>` block."""
        return f"{self.message} ({self.source} {self.code})"
