"""The LLM teacher: a typed DSPy program that answers a diagnostic with a numbered line diff.

Any LiteLLM-supported model works (`resources/teacher_lm.py` builds the `dspy.LM`: model name, API
base for OpenAI-compatible servers such as a local vLLM, key from an environment variable). The
program's few-shot demonstrations are chosen from verified repairs (`with_demonstrations`:
`LabeledFewShot`, or `BootstrapFewShot` with verification as the metric). `DSPyRepairer.propose_many`
runs requests with bounded concurrency; retries, timeouts and caching are the `dspy.LM`'s own (`num_retries`,
`timeout`, `cache`: every call is bounded); tokens and cost are summed per batch (`Usage`) for the asset's metadata.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dspy

from repair.diagnostic import Diagnostic
from repair.prompt import prompt_parts

DIFF_FORMAT = (
    "A <diff> block, one op per line: '-N TEXT' removes original line N (TEXT exactly as in the "
    "file), '+N TEXT' inserts TEXT before original line N (indentation kept). N ascends; at the "
    "same N '-' comes before '+'. Change as few lines as possible; an empty block means no fix."
)


class RepairSignature(dspy.Signature):
    """Fix the diagnostic in the Python file with the smallest correct change."""

    numbered_code: str = dspy.InputField(desc="'#<file name>' then every line as 'N TEXT' (N from 1)")
    diagnostic: str = dspy.InputField(desc="the language server's message, then (source rule)")
    error_line: str = dspy.InputField(desc="'N TEXT' of the line the diagnostic is on")
    diff: str = dspy.OutputField(desc=DIFF_FORMAT)


class JudgeSignature(dspy.Signature):
    """Decide whether the fixed file repairs the diagnostic the way the author intended, without
    deleting or changing behaviour beyond the error."""

    numbered_code: str = dspy.InputField(desc="the original file, lines 'N TEXT'")
    diagnostic: str = dspy.InputField()
    fixed_code: str = dspy.InputField(desc="the file after the proposed fix")
    is_right_fix: bool = dspy.OutputField()
    reason: str = dspy.OutputField(desc="one sentence")


class RepairProgram(dspy.Module):
    def __init__(self):
        super().__init__()
        self.repair = dspy.Predict(RepairSignature)

    def forward(self, numbered_code: str, diagnostic: str, error_line: str) -> dspy.Prediction:
        return self.repair(numbered_code=numbered_code, diagnostic=diagnostic, error_line=error_line)


def repair_inputs(
    code: str, diagnostic: Diagnostic, file_name: str = "main.py", window: int | None = None
) -> dict[str, str]:
    """The program's inputs: the blocks of the model input (docs/formats.md section 3)."""
    parts = prompt_parts(code, diagnostic, file_name, window)
    return {"numbered_code": parts.code, "diagnostic": parts.lsp_error, "error_line": parts.error_line}


def demonstration(
    code: str, diagnostic: Diagnostic, diff_text: str, file_name: str = "main.py", window: int | None = None
) -> dspy.Example:
    """A verified repair as a DSPy example (inputs marked, `diff` the label)."""
    inputs = repair_inputs(code, diagnostic, file_name, window)
    return dspy.Example(**inputs, diff=diff_text).with_inputs(*inputs)


def with_demonstrations(
    demonstrations: Sequence[dspy.Example],
    k: int = 4,
    metric: Callable[[dspy.Example, dspy.Prediction, object], bool] | None = None,
    program: RepairProgram | None = None,
) -> RepairProgram:
    """The program with `k` few-shot demonstrations: the first `k` verified repairs as labelled
    (`LabeledFewShot`), or, with a `metric` (e.g. "the prediction verifies"), bootstrapped by
    running the program on them and keeping the traces that pass (`BootstrapFewShot`)."""
    program = program or RepairProgram()
    if not demonstrations:
        return program
    if metric is None:
        return dspy.LabeledFewShot(k=k).compile(program, trainset=list(demonstrations))
    optimizer = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=k, max_labeled_demos=k)
    return optimizer.compile(program, trainset=list(demonstrations))


@dataclass
class Usage:
    """Token and cost accounting of a batch (cost None when the provider does not price it)."""

    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    errors: list[str] = field(default_factory=list)

    def add_tokens(self, usage_by_model: Mapping[str, Mapping[str, int | None]]) -> None:
        for usage in usage_by_model.values():
            self.prompt_tokens += usage.get("prompt_tokens") or 0
            self.completion_tokens += usage.get("completion_tokens") or 0

    def as_metadata(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "failures": self.failures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True)
class RepairRequest:
    code: str
    diagnostic: Diagnostic
    file_name: str = "main.py"


class DSPyRepairer:
    """`Repairer` over a DSPy program and LM; `propose_many` for batches with bounded concurrency."""

    def __init__(
        self,
        lm: dspy.BaseLM,
        program: RepairProgram | None = None,
        window: int | None = None,
        max_workers: int = 4,
        name: str | None = None,
    ):
        self.lm = lm
        self.program = program or RepairProgram()
        self.window = window
        self.max_workers = max(1, max_workers)
        self.name = name or f"dspy:{lm.model}"
        self.usage = Usage()
        self._lock = threading.Lock()

    def _one(self, request: RepairRequest) -> str:
        inputs = repair_inputs(request.code, request.diagnostic, request.file_name, self.window)
        with dspy.context(lm=self.lm, track_usage=True):
            prediction = self.program(**inputs)
        with self._lock:
            self.usage.calls += 1
            self.usage.add_tokens(prediction.get_lm_usage() or {})
        return prediction.diff or ""

    def _safe(self, request: RepairRequest) -> str:
        try:
            return self._one(request)
        except Exception as error:  # noqa: BLE001 - a failed call (after the LM's retries) is "no fix", recorded
            with self._lock:
                self.usage.failures += 1
                if len(self.usage.errors) < 20:
                    self.usage.errors.append(f"{type(error).__name__}: {error}"[:300])
            return ""

    def propose(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> str:
        return self.propose_many([RepairRequest(code, diagnostic, file_name)])[0]

    def propose_many(self, requests: Sequence[RepairRequest]) -> list[str]:
        """Raw answers in request order; failures are "" and counted in `usage`."""
        history_before = len(self.lm.history)
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            answers = list(pool.map(self._safe, requests))
        costs = [entry.get("cost") for entry in self.lm.history[history_before:]]
        priced = [c for c in costs if c is not None]
        if priced:
            self.usage.cost_usd = (self.usage.cost_usd or 0.0) + float(sum(priced))
        return answers


class DSPyJudge:
    """The optional LLM judge of verification (`repair.verify.Judge`)."""

    def __init__(self, lm: dspy.BaseLM):
        self.lm = lm
        self.predict = dspy.Predict(JudgeSignature)

    def __call__(self, code: str, diagnostic: Diagnostic, fixed: str, file_name: str) -> tuple[bool, str]:
        inputs = repair_inputs(code, diagnostic, file_name)
        with dspy.context(lm=self.lm):
            verdict = self.predict(
                numbered_code=inputs["numbered_code"], diagnostic=inputs["diagnostic"], fixed_code=fixed
            )
        return bool(verdict.is_right_fix), str(verdict.reason)
