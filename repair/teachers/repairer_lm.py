"""Any `Repairer` as a DSPy language model: a DSPy engine (`complete(Request) -> Response`, DSPy's
own LM interface) that reads the repair program's request, rebuilds the file and the diagnostic
from it, asks the repairer and answers in DSPy's chat format.

`repairer_lm(SearchRepairer(...))` is the local deterministic LM the offline tests drive the whole
DSPy plumbing with (adapter, cache, retries, usage, few-shot demonstrations); the same wrapper over
the Triton client of the serving stage (`repairer_lm(triton_repairer)`) lets the DSPy teacher run
against the deployed model.

The request only holds what the prompt shows: the numbered lines and the diagnostic's text and line.
A file cut to a window is rebuilt with empty lines where it was cut (line numbers stay right), and
the diagnostic's span is the first occurrence on its line of the name its message quotes (after a
dot for an attribute).
"""

from __future__ import annotations

import re

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage

from repair.diagnostic import Diagnostic
from repair.repairer import Repairer

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.DOTALL)
_NUMBERED = re.compile(r"([0-9]+) (.*)", re.DOTALL)
_DESCRIBED = re.compile(r"(.*) \((\S+) (\S+)\)", re.DOTALL)


def request_fields(text: str) -> dict[str, str]:
    return {name: value for name, value in _FIELD.findall(text)}


def rebuild(fields: dict[str, str]) -> tuple[str, Diagnostic, str] | None:
    """(code, diagnostic, file name) from the repair program's input fields; None if they are not
    the repair signature's."""
    try:
        header, *rows = fields["numbered_code"].split("\n")
        described = _DESCRIBED.fullmatch(fields["diagnostic"])
        error = _NUMBERED.fullmatch(fields["error_line"])
    except KeyError:
        return None
    if described is None or error is None or not header.startswith("#"):
        return None
    lines: list[str] = []
    for row in rows:
        numbered = _NUMBERED.fullmatch(row)
        if numbered is None:
            return None
        number = int(numbered.group(1))
        lines.extend([""] * (number - 1 - len(lines)))
        lines.append(numbered.group(2))
    message, source, code = described.groups()
    line0, text = int(error.group(1)) - 1, error.group(2)
    quoted = re.search(r"[\"`]([A-Za-z_]\w*)[\"`]", message)
    name = re.escape(quoted.group(1)) if quoted else None
    # An attribute's span follows a dot (`screen = turtle.screen` -> the second `screen`).
    span = name and (
        ("attribute" in message and re.search(rf"(?<=\.){name}\b", text)) or re.search(rf"\b{name}\b", text)
    )
    start, end = (span.start(), span.end()) if span else (0, len(text))
    diagnostic = Diagnostic(source, code, "error", message, line0, start, line0, end)
    return "\n".join(lines) + "\n", diagnostic, header[1:]


class RepairerEngine:
    """A DSPy engine answering the repair signature with a `Repairer`'s proposal."""

    def __init__(self, repairer: Repairer):
        self.repairer = repairer

    def complete(self, request) -> Response:
        user = next((m.text or "" for m in reversed(request.messages) if m.role == "user"), "")
        rebuilt = rebuild(request_fields(user))
        answer = self.repairer.propose(*rebuilt) if rebuilt is not None else ""
        diff = answer.strip() or "<diff>\n</diff>"
        text = f"[[ ## diff ## ]]\n{diff}\n\n[[ ## completed ## ]]"
        # Tokens are estimated (4 characters a token): the engine has no tokenizer.
        usage = Usage(input_tokens=len(user) // 4, output_tokens=len(text) // 4)
        return Response(
            id=None,
            model=f"repairer/{self.repairer.name}",
            message=Message.assistant((TextPart(text),)),
            finish_reason="stop",
            usage=usage,
        )

    def stream(self, request):
        raise NotImplementedError("the repairer engine does not stream")

    def close(self) -> None:
        pass


def repairer_lm(repairer: Repairer, cache: bool = False) -> dspy.LM:
    """A `dspy.LM` (a real DSPy `BaseLM`) whose answers come from `repairer`."""
    return dspy.LM(f"repairer/{repairer.name}", engine=RepairerEngine(repairer), cache=cache)
