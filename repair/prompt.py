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

import ast
import builtins
import keyword
import re
import sys
from dataclasses import dataclass

from repair import pyparse
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


def top_level_import(text: str) -> ast.Import | ast.ImportFrom | None:
    """The import statement `text` is, when it is one, on one line, at the top level."""
    if not text.startswith(("import ", "from ")):
        return None
    try:
        body = pyparse.parse(text).body
    except (SyntaxError, ValueError):
        return None
    return body[0] if len(body) == 1 and isinstance(body[0], ast.Import | ast.ImportFrom) else None


def placed_import(text: str) -> bool:
    """Whether `text` is an import a fix may add wherever the file's imports are (`import_line`):
    any but `from __future__`, which must open the file."""
    return _placed(top_level_import(text))


def _placed(node: ast.Import | ast.ImportFrom | None) -> bool:
    return node is not None and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")


def _imported_module(node: ast.Import | ast.ImportFrom) -> str | None:
    if isinstance(node, ast.ImportFrom):
        return None if node.level or node.names[0].name == "*" else node.module
    return node.names[0].name


def standard_import(text: str) -> bool:
    """Whether `text` imports one name of the standard library (`import math`, `from collections
    import Counter`, `import multiprocessing as mp`): a fix whose module is knowledge a model can
    learn, where any other module is a guess at the user's environment."""
    node = top_level_import(text)
    if not _placed(node) or len(node.names) != 1:
        return False
    module = _imported_module(node)
    return module is not None and module.split(".")[0] in sys.stdlib_module_names


def import_line(code: str) -> int:
    """The line (from 1) a new import goes on: after the imports that open the file (and its module
    docstring), else after its docstring, else after its leading comments. `from __future__` stays
    first, no import follows code (ruff E402), and a parenthesised import is never split."""
    try:
        body = pyparse.parse(code).body
    except (SyntaxError, ValueError):
        return _import_line_of_text(split_lines(code))
    end = 0
    for index, node in enumerate(body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        end = node.end_lineno or node.lineno
    return end + 1 if end else _leading_comments(split_lines(code)) + 1


def _leading_comments(lines: list[str]) -> int:
    count = 0
    while count < len(lines) and lines[count].startswith("#"):
        count += 1
    return count


def _import_line_of_text(lines: list[str]) -> int:
    """`import_line` of a file that does not parse: after the last import of the leading block (to
    its closing parenthesis), else after the leading comments."""
    last, index = -1, 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(("import ", "from ")):
            while "(" in line and ")" not in lines[index] and index + 1 < len(lines):
                index += 1
            last = index
        elif line and not line.startswith(("#", '"""', "'''", " ", "\t")) and last >= 0:
            break
        index += 1
    return last + 2 if last >= 0 else _leading_comments(lines) + 1


def diff_in_window(prompt: ParsedPrompt, diff: LineDiff) -> bool:
    """Whether every op of `diff` edits a line `prompt` shows (an insertion may also go right after
    its last line) or adds an import of the standard library, which the edit writes `+^` wherever
    the file's imports are. Any other target outside the window, e.g. a line added at the top of a
    long file, is a guess: nothing the model reads says which line, or often which module."""
    shown = {number for number, _ in prompt.lines}
    last = max(shown, default=0)
    return all(
        op.line in shown or (op.sign == "+" and (op.line == last + 1 or standard_import(op.text)))
        for op in diff.ops
    )


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
    modules = {
        part
        for op in diff.ops
        if op.sign == "+" and standard_import(op.text)
        for part in (_imported_module(top_level_import(op.text)) or "").split(".")
    }
    return added - shown - KNOWN_NAMES - modules


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
