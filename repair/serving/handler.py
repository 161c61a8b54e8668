"""What the served model does with one batch of requests, without Triton: validate each request
(docs/formats.md section 4), build the section 3 input, generate, then parse and apply the proposed diff
(section 2). `triton_models/code_repair/<N>/model.py` only converts tensors around `RepairService`;
the benchmark calls the same service in process to measure Triton's overhead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from repair.diagnostic import Diagnostic
from repair.linediff import DiffError, apply_diff, extract_diff, parse_diff, render_diff
from repair.prompt import PromptError, render_prompt

DEFAULT_FILE_NAME = "main.py"
DIAGNOSTIC_FIELDS = ("message", "code", "source", "line")
STATUS_FIXED = "fixed"
STATUS_NO_FIX = "no_fix"
REJECTED_PREFIX = "rejected: "
OUTCOME_KINDS = (STATUS_FIXED, STATUS_NO_FIX, "rejected", "bad_request")
DEFAULT_MAX_DIAGNOSTIC_CHARS = 8192


class BadRequest(ValueError):
    """A request the service refuses; the message names the input and the reason."""


@dataclass(frozen=True)
class RepairRequest:
    code: str
    diagnostic: Diagnostic
    file_name: str = DEFAULT_FILE_NAME


@dataclass(frozen=True)
class RepairOutcome:
    """The section 4 outputs for one request."""

    diff: str
    fixed_code: str
    status: str


def _text(name: str, value: bytes | str | None, max_chars: int) -> str:
    if value is None:
        raise BadRequest(f"input '{name}' is missing")
    # Checked before decoding (a UTF-8 character is at most 4 bytes) and again after.
    if len(value) > 4 * max_chars:
        raise BadRequest(f"input '{name}' has {len(value)} bytes; the limit is {max_chars} characters")
    if isinstance(value, str):
        text = value
    else:
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"input '{name}' is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if len(text) > max_chars:
        raise BadRequest(f"input '{name}' has {len(text)} characters; the limit is {max_chars}")
    return text


def parse_diagnostic(text: str) -> Diagnostic:
    """The `diagnostic` input: JSON `{"message", "code", "source", "line"}` with a 1-based `line`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"input 'diagnostic' is not JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise BadRequest("input 'diagnostic' is nested too deeply") from None
    if not isinstance(value, dict):
        raise BadRequest(f"input 'diagnostic' must be a JSON object, not {type(value).__name__}")
    missing = [f for f in DIAGNOSTIC_FIELDS if f not in value]
    if missing:
        raise BadRequest(f"input 'diagnostic' lacks {', '.join(repr(m) for m in missing)}")
    for field in ("message", "code", "source"):
        if not isinstance(value[field], str):
            raise BadRequest(f"input 'diagnostic': '{field}' must be a string")
    line = value["line"]
    if isinstance(line, bool) or not isinstance(line, int) or line < 1:
        raise BadRequest(f"input 'diagnostic': 'line' must be an integer >= 1 (1-based), not {line!r}")
    return Diagnostic(
        source=value["source"],
        code=value["code"],
        severity=str(value.get("severity", "error")),
        message=value["message"],
        start_line=line - 1,
        start_character=0,
        end_line=line - 1,
        end_character=0,
    )


def diagnostic_json(diagnostic: Diagnostic) -> str:
    """The `diagnostic` input for a `Diagnostic` (what clients send)."""
    return json.dumps(
        {
            "message": diagnostic.message,
            "code": diagnostic.code,
            "source": diagnostic.source,
            "line": diagnostic.line1,
        }
    )


def parse_request(
    code: bytes | str | None,
    diagnostic: bytes | str | None,
    file_name: bytes | str | None = None,
    *,
    max_code_chars: int,
    max_diagnostic_chars: int = DEFAULT_MAX_DIAGNOSTIC_CHARS,
) -> RepairRequest:
    code_text = _text("code", code, max_code_chars)
    name = (
        DEFAULT_FILE_NAME
        if file_name is None
        else _text("file_name", file_name, 255).strip() or DEFAULT_FILE_NAME
    )
    if "\n" in name:
        raise BadRequest("input 'file_name' must be one line of at most 255 characters")
    return RepairRequest(
        code_text, parse_diagnostic(_text("diagnostic", diagnostic, max_diagnostic_chars)), name
    )


def build_prompt(request: RepairRequest, window: int | None) -> str:
    try:
        return render_prompt(request.code, request.diagnostic, request.file_name, window)
    except PromptError as exc:
        raise BadRequest(f"input 'diagnostic': {exc}") from None


def outcome_from_completion(code: str, completion: str) -> RepairOutcome:
    """Parse the model's completion and apply it to `code`; never raises."""
    block = extract_diff(completion)
    try:
        diff = parse_diff(completion)
    except DiffError as exc:
        return RepairOutcome(block if block is not None else completion, "", f"{REJECTED_PREFIX}{exc}")
    if diff.is_empty:
        return RepairOutcome(render_diff(diff), "", STATUS_NO_FIX)
    try:
        fixed = apply_diff(code, diff)
    except DiffError as exc:
        return RepairOutcome(render_diff(diff), "", f"{REJECTED_PREFIX}{exc}")
    return RepairOutcome(render_diff(diff), fixed, STATUS_FIXED)


def outcome_kind(result: RepairOutcome | BadRequest) -> str:
    """One of `OUTCOME_KINDS` (the label of the served model's outcome metric)."""
    if isinstance(result, BadRequest):
        return "bad_request"
    return "rejected" if result.status.startswith(REJECTED_PREFIX) else result.status


# (prompts, per prompt the request's file and diagnostic) -> completions: the file lets the model
# check its candidate answers (`repair.quickcheck`) before it picks one.
Generate = Callable[[list[str], list[tuple[str, Diagnostic]]], list[str]]


class RepairService:
    """Turns a batch of requests into outcomes with one call to `generate` (prompts -> completions).

    A failure of the batched call is retried request by request so that one request the model cannot
    take (say, a prompt past its context) gets its own error and the others their answers.
    """

    def __init__(self, generate: Generate, window: int | None):
        self.generate = generate
        self.window = window

    def handle(self, requests: Sequence[RepairRequest | BadRequest]) -> list[RepairOutcome | BadRequest]:
        # BadRequests pass through; every other slot is filled below.
        results: list[RepairOutcome | BadRequest] = [
            r if isinstance(r, BadRequest) else BadRequest("not handled") for r in requests
        ]
        prompts: dict[int, str] = {}
        sources: dict[int, tuple[str, Diagnostic]] = {}
        for index, request in enumerate(requests):
            if isinstance(request, RepairRequest):
                try:
                    prompts[index] = build_prompt(request, self.window)
                    sources[index] = (request.code, request.diagnostic)
                except BadRequest as bad:
                    results[index] = bad
                except Exception as exc:  # noqa: BLE001 - one request's failure is its own
                    results[index] = internal_error(exc)
        if not prompts:
            return results
        order = sorted(prompts)
        try:
            completions = dict(
                zip(order, self.generate([prompts[i] for i in order], [sources[i] for i in order]), strict=True)
            )
        except Exception:  # noqa: BLE001 - isolate the request that breaks generation
            completions = {}
            for index in order:
                try:
                    completions[index] = self.generate([prompts[index]], [sources[index]])[0]
                except Exception as exc:  # noqa: BLE001
                    results[index] = BadRequest(f"generation failed: {type(exc).__name__}: {exc}")
        for index, completion in completions.items():
            request = requests[index]
            assert isinstance(request, RepairRequest)
            try:
                results[index] = outcome_from_completion(request.code, completion)
            except Exception as exc:  # noqa: BLE001
                results[index] = internal_error(exc)
        return results


def internal_error(exc: BaseException) -> BadRequest:
    """An unexpected failure while handling one request, as that request's error."""
    return BadRequest(f"request failed: {type(exc).__name__}: {str(exc)[:200]}")
