"""The linting service every stage shares: ruff + basedpyright with one configuration
(`repair.lint.config`), batched over many file states (`lint_batch`), warm for incremental
re-checks (`WarmLinter`), or state by state through a warm server (`lint_file_states`). Results
are `repair.diagnostic.Diagnostic`s."""

from repair.lint.batch import LintResult, lint_batch, lint_project
from repair.lint.config import DEFAULT_CONFIG, LintConfig
from repair.lint.files import DEFAULT_MAX_FILE_BYTES, BadInput, is_python_path
from repair.lint.incremental import FileState, lint_file_states
from repair.lint.tools import ToolFailure
from repair.lint.warm import WarmLinter

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_FILE_BYTES",
    "BadInput",
    "FileState",
    "LintConfig",
    "LintResult",
    "ToolFailure",
    "WarmLinter",
    "is_python_path",
    "lint_batch",
    "lint_file_states",
    "lint_project",
]
