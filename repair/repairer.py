"""What every repairer (teacher, baseline, the finetuned model in process or behind Triton) offers,
so that synthesis, evaluation and serving can swap one for another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from repair.diagnostic import Diagnostic


@runtime_checkable
class Repairer(Protocol):
    name: str

    def propose(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> str:
        """Returns text holding a numbered line diff (docs/formats.md section 2), possibly inside
        surrounding prose; an empty string means "no fix"."""
        ...
