"""The LLM teacher's model, as a Dagster resource: any LiteLLM-supported model through DSPy.

| setting | environment variable | meaning |
| --- | --- | --- |
| `model` | `REPAIR_TEACHER_MODEL` | LiteLLM model name, e.g. `openai/gpt-4o-mini`, `anthropic/claude-3-5-sonnet-latest`, or `openai/<served name>` for an OpenAI-compatible server; empty: no LLM teacher |
| `api_base` | `REPAIR_TEACHER_API_BASE` | base URL of an OpenAI-compatible server (a local vLLM: `http://host:8000/v1`) |
| `api_key` | `REPAIR_TEACHER_API_KEY` | the key, read from the environment when a run calls the model, never stored in config |
| `max_workers` | `REPAIR_TEACHER_CONCURRENCY` | requests in flight at once |
| `timeout_s` | `REPAIR_TEACHER_TIMEOUT_S` | the most one request may take (connect and answer), default 60 |

A field left empty takes its variable when a run uses it (`resources.settings`), so a changed
variable reaches the next run without reloading the code location; an explicit value wins.

Retries (`num_retries`, LiteLLM's backoff on rate limits and transient errors) and caching
(`cache`, DSPy's disk and memory cache: the same request is answered once) are the `dspy.LM`'s.
Every call is bounded: a server that accepts and never answers costs at most
`timeout_s * (num_retries + 1)` plus the backoff (LiteLLM's default would be 600 s per attempt).
"""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from resources.settings import EnvSettings, FromEnv


class TeacherLMResource(EnvSettings, dg.ConfigurableResource):
    """Which LLM the DSPy teacher (and the optional judge) calls; unconfigured by default."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "model": FromEnv("REPAIR_TEACHER_MODEL", ""),
        "api_base": FromEnv("REPAIR_TEACHER_API_BASE", ""),
        "api_key": FromEnv("REPAIR_TEACHER_API_KEY", ""),
        "max_workers": FromEnv("REPAIR_TEACHER_CONCURRENCY", 4, int),
        "timeout_s": FromEnv("REPAIR_TEACHER_TIMEOUT_S", 60.0, float),
    }

    model: str | None = Field(
        default=None,
        description="LiteLLM model name of the teacher, e.g. openai/gpt-4o-mini; empty: $REPAIR_TEACHER_MODEL "
        "when a run uses it, else no LLM teacher.",
    )
    api_base: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server; empty: $REPAIR_TEACHER_API_BASE, else the "
        "provider's default.",
    )
    api_key: str | None = Field(
        default=None,
        description="API key for the provider; empty: $REPAIR_TEACHER_API_KEY, else the provider's own "
        "environment variable.",
    )
    temperature: float = Field(default=0.1, description="Sampling temperature of the teacher.")
    max_tokens: int = Field(default=1024, description="Longest answer per call.")
    num_retries: int = Field(default=2, description="Retries of a failed call, with backoff (LiteLLM).")
    timeout_s: float | None = Field(
        default=None,
        description="The most one call may take, connect and answer, in seconds; empty: "
        "$REPAIR_TEACHER_TIMEOUT_S, else 60.",
    )
    max_workers: int | None = Field(
        default=None, description="Calls in flight at once; empty: $REPAIR_TEACHER_CONCURRENCY, else 4."
    )
    cache: bool = Field(default=True, description="Reuse answers to identical prompts (DSPy's cache).")

    @property
    def configured(self) -> bool:
        return bool(self.setting("model"))

    def model_name(self) -> str:
        """The model a run calls ("" when none is configured)."""
        return self.setting("model")

    def concurrency(self) -> int:
        return self.setting("max_workers")

    def lm_options(self) -> dict:
        """What `dspy.LM` takes besides the model name: where, with which key, how patiently."""
        return {
            "api_base": self.setting("api_base") or None,
            "api_key": self.setting("api_key") or None,
            "num_retries": self.num_retries,
            "timeout": self.setting("timeout_s"),
            "cache": self.cache,
        }

    def build_lm(self):
        """The `dspy.LM`; raises when no model is configured."""
        import dspy

        if not self.configured:
            raise ValueError("no teacher model configured (set REPAIR_TEACHER_MODEL)")
        return dspy.LM(
            self.model_name(), temperature=self.temperature, max_tokens=self.max_tokens, **self.lm_options()
        )
