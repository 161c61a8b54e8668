"""The model input (docs/formats.md section 3) and the expected completion (section 2).

```
<code>
#main.py
1 import turtle
2
3 screen = turtle.screen
</code>
<lsp_error>"screen" is not a known attribute of module "turtle" (pyright reportAttributeAccessIssue)</lsp_error>
<error_line>3 screen = turtle.screen</error_line>
```

Lines are numbered from 1 in the line model of `repair.linediff` (`N TEXT`, one space, the text
exactly). The empty last line that a trailing newline leaves is not shown unless the diagnostic sits
on it; `+N` with N one past the last shown line therefore appends before that newline. A window keeps
only the lines within `window` lines of the error line, with their original numbers, so that the
diff the model answers with still applies to the whole file.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

from repair.diagnostic import Diagnostic
from repair.linediff import LineDiff, parse_diff, render_diff, split_lines


class PromptError(ValueError):
    """A prompt that cannot be built (diagnostic outside the file) or parsed (not section 3)."""


@dataclass(frozen=True)
class ParsedPrompt:
    file_name: str
    lines: tuple[tuple[int, str], ...]  # (original 1-based number, text), ascending
    lsp_error: str
    error_line: int
    error_text: str

    @property
    def code_excerpt(self) -> str:
        """The shown lines joined; the whole file when no window cut it."""
        return "\n".join(text for _, text in self.lines)

    def diagnostic_parts(self) -> tuple[str, str, str] | None:
        """(message, source, code) from `<lsp_error>` (`Diagnostic.describe()`), None if unparseable."""
        match = re.fullmatch(r"(.*) \((\S+) (\S+)\)", self.lsp_error, re.DOTALL)
        return (match.group(1), match.group(2), match.group(3)) if match else None


@dataclass(frozen=True)
class Example:
    """One training example: the model input and the completion (EOS is added by training)."""

    prompt: str
    response: str


def shown_lines(code: str, error_line: int) -> list[str]:
    """The lines the prompt numbers: every line, less the empty one after a trailing newline unless
    the error is on it."""
    lines = split_lines(code)
    if len(lines) > 1 and lines[-1] == "" and error_line < len(lines):
        lines.pop()
    return lines


@dataclass(frozen=True)
class PromptParts:
    """The three blocks of the model input, without their sentinels."""

    code: str  # "#<file name>" then the numbered lines
    lsp_error: str
    error_line: str  # "N TEXT"

    def render(self) -> str:
        return "\n".join(
            [
                f"<code>\n{self.code}\n</code>",
                f"<lsp_error>{self.lsp_error}</lsp_error>",
                f"<error_line>{self.error_line}</error_line>",
            ]
        )


def prompt_parts(
    code: str, diagnostic: Diagnostic, file_name: str = "main.py", window: int | None = None
) -> PromptParts:
    """The blocks of the model input for `diagnostic` in `code`; `window` keeps lines within that
    many lines of the error line (None: the whole file)."""
    error_line = diagnostic.line1
    lines = shown_lines(code, error_line)
    if not 1 <= error_line <= len(lines):
        raise PromptError(f"diagnostic line {error_line} is outside {file_name} ({len(lines)} lines)")
    first, last = 1, len(lines)
    if window is not None:
        if window < 0:
            raise PromptError(f"window {window} is negative")
        first, last = max(1, error_line - window), min(len(lines), error_line + window)
    numbered = [f"{n} {lines[n - 1]}" for n in range(first, last + 1)]
    return PromptParts(
        code="\n".join([f"#{file_name}", *numbered]),
        lsp_error=diagnostic.describe(),
        error_line=f"{error_line} {lines[error_line - 1]}",
    )


def render_prompt(
    code: str, diagnostic: Diagnostic, file_name: str = "main.py", window: int | None = None
) -> str:
    """The section 3 model input (see `prompt_parts`)."""
    return prompt_parts(code, diagnostic, file_name, window).render()


_NUMBERED = re.compile(r"([0-9]+) (.*)", re.DOTALL)
_TAIL = re.compile(
    r"</code>\n<lsp_error>(?P<error>.*)</lsp_error>\n<error_line>(?P<line>[0-9]+) (?P<text>.*)</error_line>\s*",
    re.DOTALL,
)


def parse_prompt(text: str) -> ParsedPrompt:
    """The parts of a prompt made by `render_prompt`; `PromptError` names what is missing."""
    start = text.find("<code>\n#")
    if start < 0:
        raise PromptError("no '<code>' block followed by '#<file name>'")
    code_end = text.rfind("\n</code>\n<lsp_error>")
    if code_end < start:
        raise PromptError("no '</code>' line followed by '<lsp_error>'")
    tail = _TAIL.fullmatch(text, code_end + 1)
    if tail is None:
        raise PromptError("the '<lsp_error>' and '<error_line>' blocks are malformed")
    header, *body = text[start + len("<code>\n") : code_end].split("\n")
    lines = []
    for row in body:
        match = _NUMBERED.fullmatch(row)
        if match is None:
            raise PromptError(f"code line {row[:80]!r} is not 'N TEXT'")
        lines.append((int(match.group(1)), match.group(2)))
    return ParsedPrompt(
        file_name=header[1:],
        lines=tuple(lines),
        lsp_error=tail.group("error"),
        error_line=int(tail.group("line")),
        error_text=tail.group("text"),
    )


def diff_in_window(prompt: ParsedPrompt, diff: LineDiff) -> bool:
    """Whether every op of `diff` edits a line `prompt` shows (an insertion may also go right after
    its last line). A target outside the window, e.g. an import added at the top of a long file, is
    a guess: nothing the model reads says which line, or often which module."""
    shown = {number for number, _ in prompt.lines}
    last = max(shown, default=0)
    return all(op.line in shown or (op.sign == "+" and op.line == last + 1) for op in diff.ops)


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names a fix may write without the prompt showing them: the language's own.
KNOWN_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist)


def names_not_shown(prompt: ParsedPrompt, diff: LineDiff) -> set[str]:
    """The identifiers `diff` adds that no line of `prompt` shows, builtins and keywords aside. A
    fix that writes one recalls it from code the model never reads (a definition elsewhere in the
    project, another module's attribute); `raduis` -> `radius` a line below `radius = ...` is a
    copy, and only copies can be learnt from the prompt."""
    shown = set(IDENTIFIER.findall(prompt.code_excerpt))
    added = {name for op in diff.ops if op.sign == "+" for name in IDENTIFIER.findall(op.text)}
    return added - shown - KNOWN_NAMES


def render_response(diff: LineDiff) -> str:
    """The expected completion: the `<diff>` block (training appends the tokenizer's EOS)."""
    return render_diff(diff)


def parse_response(text: str) -> LineDiff:
    """The diff in a model's completion (free text tolerated); raises `DiffParseError`."""
    return parse_diff(text)


def make_example(
    code: str,
    diagnostic: Diagnostic,
    diff: LineDiff,
    file_name: str = "main.py",
    window: int | None = None,
) -> Example:
    return Example(render_prompt(code, diagnostic, file_name, window), render_response(diff))
