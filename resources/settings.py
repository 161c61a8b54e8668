"""Settings an operator gives in the environment, read when a run uses them, not when the code
location loads: a resource field left empty (None) takes `$VARIABLE` through `dg.EnvVar` at that
moment, else its default. So changing a variable takes effect in the next run without reloading the
code location, and the launchpad shows what an explicit value overrides. Settings without a default
(the production bucket, the Triton URL, API keys) are `dg.EnvVar` fields, resolved by Dagster when the
run starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import dagster as dg


@dataclass(frozen=True)
class FromEnv:
    variable: str
    default: Any  # or a callable giving it, evaluated when read
    parse: Callable[[str], Any] = str


def environment_name() -> str:
    """`REPAIR_ENV` as a run sees it (`local` unless set)."""
    return dg.EnvVar("REPAIR_ENV").get_value("local") or "local"


class EnvSettings:
    """Mixin for a `ConfigurableResource`: `FROM_ENV` names the variable behind each optional field."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {}

    def setting(self, name: str) -> Any:
        value = getattr(self, name)
        if value is not None:
            return value
        source = self.FROM_ENV[name]
        raw = dg.EnvVar(source.variable).get_value()
        if raw is None or raw == "":
            return source.default() if callable(source.default) else source.default
        try:
            return source.parse(raw)
        except ValueError as error:
            raise dg.DagsterInvalidConfigError(f"${source.variable}={raw!r}: {error}", [], None) from error
