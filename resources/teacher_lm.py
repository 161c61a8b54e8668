"""The LLM teacher's model, as a Dagster resource: any LiteLLM-supported model through DSPy.

| setting | environment variable | meaning |
| --- | --- | --- |
| `model` | `REPAIR_TEACHER_MODEL` | LiteLLM model name, e.g. `openai/gpt-4o-mini`, `anthropic/claude-3-5-sonnet-latest`, or `openai/<served name>` for an OpenAI-compatible server; empty: no LLM teacher |
| `api_base` | `REPAIR_TEACHER_API_BASE` | base URL of an OpenAI-compatible server (a local vLLM: `http://host:8000/v1`) |
| `api_key` | `REPAIR_TEACHER_API_KEY` | the key, read from the environment (`dg.EnvVar`), never stored in config |
| `max_workers` | `REPAIR_TEACHER_CONCURRENCY` | requests in flight at once |
| `timeout_s` | `REPAIR_TEACHER_TIMEOUT_S` | the most one request may take (connect and answer), default 60 |

Retries (`num_retries`, LiteLLM's backoff on rate limits and transient errors) and caching
(`cache`, DSPy's disk and memory cache: the same request is answered once) are the `dspy.LM`'s.
Every call is bounded: a server that accepts and never answers costs at most
`timeout_s * (num_retries + 1)` plus the backoff (LiteLLM's default would be 600 s per attempt).
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field


class TeacherLMResource(dg.ConfigurableResource):
    """Which LLM the DSPy teacher (and the optional judge) calls; unconfigured by default."""

    model: str = Field(
        default="",
        description="LiteLLM model name of the teacher, e.g. openai/gpt-4o-mini; empty: no LLM teacher ($REPAIR_TEACHER_MODEL).",
    )
    api_base: str = Field(
        default="", description="Base URL of an OpenAI-compatible server; empty: the provider's default."
    )
    api_key: str = Field(
        default="", description="API key for the provider; empty: the provider's environment variable."
    )
    temperature: float = Field(default=0.1, description="Sampling temperature of the teacher.")
    max_tokens: int = Field(default=1024, description="Longest answer per call.")
    num_retries: int = Field(default=2, description="Retries of a failed call, with backoff (LiteLLM).")
    timeout_s: float = Field(
        default=60.0,
        description="The most one call may take, connect and answer, in seconds ($REPAIR_TEACHER_TIMEOUT_S).",
    )
    max_workers: int = Field(default=4, description="Calls in flight at once.")
    cache: bool = Field(default=True, description="Reuse answers to identical prompts (DSPy's cache).")

    @property
    def configured(self) -> bool:
        return bool(self.model)

    def build_lm(self):
        """The `dspy.LM`; raises when no model is configured."""
        import dspy

        if not self.configured:
            raise ValueError("no teacher model configured (set REPAIR_TEACHER_MODEL)")
        return dspy.LM(
            self.model,
            api_base=self.api_base or None,
            api_key=self.api_key or None,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            num_retries=self.num_retries,
            timeout=self.timeout_s,
            cache=self.cache,
        )

    @classmethod
    def from_env(cls, env: str = "local") -> TeacherLMResource:
        """Settings from the environment (the same in `local` and `production`: the model is an
        operator's choice, and without one the offline teachers run alone)."""
        key = dg.EnvVar("REPAIR_TEACHER_API_KEY") if os.environ.get("REPAIR_TEACHER_API_KEY") else ""
        return cls(
            model=os.environ.get("REPAIR_TEACHER_MODEL", ""),
            api_base=os.environ.get("REPAIR_TEACHER_API_BASE", ""),
            api_key=key,  # type: ignore[arg-type]
            max_workers=int(os.environ.get("REPAIR_TEACHER_CONCURRENCY", "4")),
            timeout_s=float(os.environ.get("REPAIR_TEACHER_TIMEOUT_S", "60")),
        )
