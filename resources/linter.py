"""The linting service as a Dagster resource: how reproduction batches and scales out, the linters'
timeouts and size limit, the ruff/basedpyright settings (defaults: `repair.lint.config`, the IDE's
configuration) and the style rules the reproduction stage drops.

The executor, workers, batch size, timeout and linting mode left empty come from
`REPAIR_LINT_EXECUTOR`, `REPAIR_LINT_WORKERS`, `REPAIR_LINT_BATCH_SIZE`, `REPAIR_LINT_TIMEOUT_S` and
`REPAIR_LINT_MODE` (`batch`, `warm`), read when a run lints (`resources.settings`); without them
production lints on Spark executors, local in processes.
"""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from repair.lint import DEFAULT_MAX_FILE_BYTES, LintConfig, WarmLinter, lint_batch
from repair.lint.config import RUFF_LINE_LENGTH, RUFF_SELECT
from repair.reproduce import DEFAULT_BATCH_SIZE, STYLE_RULES, ReproduceSettings
from resources.choices import LintExecutor, LintMode, TypeCheckingMode
from resources.settings import EnvSettings, FromEnv, environment_name


class LinterResource(EnvSettings, dg.ConfigurableResource):
    """ruff + basedpyright for the stages that lint (reproduction, verification)."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "executor": FromEnv(
            "REPAIR_LINT_EXECUTOR",
            lambda: LintExecutor.spark if environment_name() == "production" else LintExecutor.process,
            LintExecutor,
        ),
        "workers": FromEnv("REPAIR_LINT_WORKERS", 2, int),
        "batch_size": FromEnv("REPAIR_LINT_BATCH_SIZE", DEFAULT_BATCH_SIZE, int),
        "timeout_s": FromEnv("REPAIR_LINT_TIMEOUT_S", 120.0, float),
        "linting": FromEnv("REPAIR_LINT_MODE", LintMode.batch, LintMode),
    }

    executor: LintExecutor | None = Field(
        default=None,
        description="Where files are linted: serial (in the step), process (a pool of `workers`) or spark (the "
        "`spark` resource's executors); empty: $REPAIR_LINT_EXECUTOR, else spark in production, process locally.",
    )
    workers: int | None = Field(default=None, description="Processes of the `process` executor; empty: $REPAIR_LINT_WORKERS, else 2.")
    batch_size: int | None = Field(
        default=None, description=f"File states per linter process call; empty: $REPAIR_LINT_BATCH_SIZE, else {DEFAULT_BATCH_SIZE}."
    )
    timeout_s: float | None = Field(
        default=None, description="Seconds one linter process may take; empty: $REPAIR_LINT_TIMEOUT_S, else 120."
    )
    linting: LintMode | None = Field(
        default=None,
        description="How states are linted: batch (one ruff and one basedpyright per batch) or warm (each file's "
        "states as edits to a warm language server; docs/diagnostics.md); empty: $REPAIR_LINT_MODE, else batch.",
    )
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, description="larger files are refused")
    ruff_select: list[str] = Field(default=list(RUFF_SELECT), description="ruff rules the IDE shows")
    ruff_line_length: int = Field(default=RUFF_LINE_LENGTH, description="Line length ruff checks against (as the IDE is configured).")
    type_checking_mode: TypeCheckingMode = Field(default=TypeCheckingMode.standard, description="basedpyright typeCheckingMode")
    pyright_overrides: dict[str, str] = Field(default_factory=dict, description="pyrightconfig rule settings")
    style_rules: list[str] = Field(default=list(STYLE_RULES), description="rules dropped as style-only")
    min_reproduction_rate: float = Field(
        default=0.5, description="asset check floor: share of linted diagnostics that must reproduce"
    )

    def lint_config(self) -> LintConfig:
        return LintConfig(
            ruff_select=tuple(self.ruff_select),
            ruff_line_length=self.ruff_line_length,
            type_checking_mode=self.type_checking_mode,
            pyright_overrides=dict(self.pyright_overrides),
        )

    def reproduce_settings(self, **overrides) -> ReproduceSettings:
        values = {
            "batch_size": self.setting("batch_size"), "timeout_s": self.setting("timeout_s"),
            "workers": self.setting("workers"), "executor": str(self.setting("executor")),
            "linting": str(self.setting("linting")), "max_file_bytes": self.max_file_bytes,
            "style_rules": tuple(self.style_rules), "lint_config": self.lint_config(),
        }
        return ReproduceSettings(**(values | {k: v for k, v in overrides.items() if v is not None}))

    def lint_batch(self, projects, targets):
        return lint_batch(
            projects, targets, timeout_s=self.setting("timeout_s"), config=self.lint_config(), max_file_bytes=self.max_file_bytes
        )

    def warm(self) -> WarmLinter:
        """A warm linter with these settings; use it as a context manager."""
        return WarmLinter(config=self.lint_config(), timeout_s=self.setting("timeout_s"), max_file_bytes=self.max_file_bytes)
