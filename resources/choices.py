"""The launchpad's choice fields, as enums. Dagster's config names enum members, so each member's
name is the value operators type (`spark`, `cpu-tiny`, `missing colons`); the values come from the
library's own lists, so a new executor, preset or bug kind shows in the launchpad without a second
list to keep in step."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from evals.inject import KINDS as BUG_KINDS
from repair.reproduce import EXECUTORS, LINTING
from repair.serving.repository import INSTANCE_KINDS
from repair.settle import EVIDENCE
from repair.training.config import preset_names


def choices(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A `StrEnum` whose members are named by their values (what Dagster's config shows and takes)."""
    return StrEnum(name, [(value, value) for value in values])


LintExecutor = choices("LintExecutor", EXECUTORS)
LintMode = choices("LintMode", LINTING)
# basedpyright's `typeCheckingMode` settings.
TypeCheckingMode = choices("TypeCheckingMode", ("off", "basic", "standard", "strict", "recommended", "all"))
SettleEvidence = choices("SettleEvidence", EVIDENCE)
Teacher = choices("Teacher", ("search", "user_fix", "dspy"))
TrainingPreset = choices("TrainingPreset", preset_names())
BugKind = choices("BugKind", BUG_KINDS)
TritonMode = choices("TritonMode", ("embedded", "remote"))
InstanceKind = choices("InstanceKind", INSTANCE_KINDS)
