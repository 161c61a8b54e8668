"""The numbered line diff (docs/formats.md section 2): the model's output and every teacher's.

```
<diff>
-3 screen = turtle.screen
+3 screen = turtle.Screen()
</diff>
```

Line model. A file's lines are `code.split("\\n")`: exactly the text between newline characters, so
`"\\n".join(lines)` gives the file back byte for byte. A file that ends with a newline therefore has a
last, empty line (the line the language server puts a diagnostic at the end of the file on); the
empty file has one empty line. This keeps every edit expressible: adding or removing the trailing
newline is adding or removing that last empty line, and `apply_diff(a, make_diff(a, b)) == b` for any
two texts. Only `"\\n"` separates lines: a `"\\r"` of a CRLF file stays part of its line's text.

Applying is all or nothing: the diff is checked in full (order, ranges, the exact text of every
removed line) before anything is built, and any violation raises `DiffApplyError` with a reason
category (`DiffError.reason`) that verification records.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

OPEN_TAG = "<diff>"
CLOSE_TAG = "</diff>"

# A sign, a 1-based number, then one space and the text (or nothing: an empty line). Leading blanks
# before the sign are tolerated (models indent blocks); the text itself is kept exactly.
_OP_LINE = re.compile(r"[ \t]*([+-])([0-9]+)(?: (.*))?", re.DOTALL)


class DiffError(ValueError):
    """A diff that cannot be used; `reason` is a short category, the message says where and why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class DiffParseError(DiffError):
    """The text holds no well-formed diff. Reasons: `no_diff_block`, `malformed_line`,
    `bad_line_number`, `out_of_order`, `duplicate_removal`."""


class DiffApplyError(DiffError):
    """The diff does not fit the file. Reasons: `line_out_of_range`, `hallucinated_line`."""


@dataclass(frozen=True)
class DiffOp:
    sign: str  # "-" removes original line `line`; "+" inserts `text` before original line `line`
    line: int  # 1-based number in the ORIGINAL file
    text: str

    def render(self) -> str:
        return f"{self.sign}{self.line} {self.text}" if self.text else f"{self.sign}{self.line}"


def _check_order(ops: tuple[DiffOp, ...]) -> None:
    removed: set[int] = set()
    previous: DiffOp | None = None
    for position, op in enumerate(ops, start=1):
        if op.sign not in "+-" or len(op.sign) != 1:
            raise DiffParseError("malformed_line", f"op {position}: sign {op.sign!r} is neither + nor -")
        if "\n" in op.text:
            raise DiffParseError("malformed_line", f"op {position}: text holds a newline")
        if op.line < 1:
            raise DiffParseError("bad_line_number", f"op {position}: line {op.line} (lines start at 1)")
        if previous is not None and (
            op.line < previous.line or (op.line == previous.line and (previous.sign, op.sign) == ("+", "-"))
        ):
            raise DiffParseError(
                "out_of_order",
                f"op {position} ({op.render()!r}) comes after {previous.render()!r}: "
                "lines must ascend, and at the same line '-' comes before '+'",
            )
        if op.sign == "-":
            if op.line in removed:
                raise DiffParseError("duplicate_removal", f"line {op.line} is removed twice")
            removed.add(op.line)
        previous = op


@dataclass(frozen=True)
class LineDiff:
    """An ordered, well-formed list of ops (checked on construction). Empty means "no fix"."""

    ops: tuple[DiffOp, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        _check_order(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[DiffOp]:
        return iter(self.ops)

    @property
    def is_empty(self) -> bool:
        return not self.ops

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(op.line for op in self.ops if op.sign == "-")

    @property
    def touched(self) -> tuple[int, ...]:
        """Original line numbers the diff removes or inserts before, ascending, once each."""
        return tuple(sorted({op.line for op in self.ops}))


def split_lines(code: str) -> list[str]:
    """The line model of this module (see the module docstring)."""
    return code.split("\n")


def join_lines(lines: Iterable[str]) -> str:
    return "\n".join(lines)


def _is_tag(line: str, tag: str) -> bool:
    return line.strip() == tag


def extract_diff(text: str) -> str | None:
    """The last `<diff>` ... `</diff>` block in free text (prose, code fences, stray blank lines or
    indentation around it), normalised to the rendered form; None when there is none.

    Tags are looked for on lines of their own first, so that code mentioning `<diff>` inside an op
    line never confuses the search; tags inline with other text (`<diff>-1 x</diff>`) are the
    fallback. Blank lines and code-fence lines inside the block are dropped, and so are blanks
    before an op's sign.
    """
    lines = text.split("\n")
    close = next((i for i in range(len(lines) - 1, -1, -1) if _is_tag(lines[i], CLOSE_TAG)), None)
    body: list[str] | None = None
    if close is not None:
        opening = next((i for i in range(close - 1, -1, -1) if _is_tag(lines[i], OPEN_TAG)), None)
        if opening is not None:
            body = lines[opening + 1 : close]
    if body is None:
        end = text.rfind(CLOSE_TAG)
        start = text.rfind(OPEN_TAG, 0, end) if end >= 0 else -1
        if start < 0:
            return None
        body = text[start + len(OPEN_TAG) : end].split("\n")
    kept = [
        line.lstrip(" \t") if _OP_LINE.fullmatch(line) else line
        for line in body
        if line.strip() and not line.lstrip().startswith("```")
    ]
    return "\n".join([OPEN_TAG, *kept, CLOSE_TAG])


def parse_diff(text: str) -> LineDiff:
    """The diff in `text` (free LLM text is fine: see `extract_diff`). Raises `DiffParseError`."""
    block = extract_diff(text)
    if block is None:
        raise DiffParseError("no_diff_block", f"no {OPEN_TAG} ... {CLOSE_TAG} block in the text")
    ops = []
    for line in block.split("\n")[1:-1]:
        match = _OP_LINE.fullmatch(line)
        if match is None:
            raise DiffParseError("malformed_line", f"{line[:80]!r} is not '-N TEXT' or '+N TEXT'")
        sign, number, op_text = match.groups()
        ops.append(DiffOp(sign, int(number), op_text or ""))
    return LineDiff(tuple(ops))


def render_diff(diff: LineDiff) -> str:
    """The diff block, `<diff>` and `</diff>` lines included, without a trailing newline."""
    return "\n".join([OPEN_TAG, *(op.render() for op in diff.ops), CLOSE_TAG])


def apply_diff(code: str, diff: LineDiff) -> str:
    """`code` with `diff` applied, or `DiffApplyError` naming the first op that does not fit."""
    lines = split_lines(code)
    inserts: dict[int, list[str]] = {}
    removed: set[int] = set()
    for op in diff.ops:
        if op.sign == "-":
            if op.line > len(lines):
                raise DiffApplyError(
                    "line_out_of_range", f"-{op.line} removes a line past the end ({len(lines)} lines)"
                )
            if lines[op.line - 1] != op.text:
                raise DiffApplyError(
                    "hallucinated_line",
                    f"-{op.line} expects {op.text!r} but line {op.line} is {lines[op.line - 1]!r}",
                )
            removed.add(op.line)
        else:
            if op.line > len(lines) + 1:
                raise DiffApplyError(
                    "line_out_of_range",
                    f"+{op.line} inserts past one beyond the last line ({len(lines)} lines)",
                )
            inserts.setdefault(op.line, []).append(op.text)
    result: list[str] = []
    for number in range(1, len(lines) + 2):
        result.extend(inserts.get(number, ()))
        if number <= len(lines) and number not in removed:
            result.append(lines[number - 1])
    return join_lines(result)


def make_diff(old: str, new: str) -> LineDiff:
    """A minimal numbered line diff turning `old` into `new` (difflib's line matching).

    A replaced block reads as pairs (`-3 a`, `+3 b`, `-4 c`, `+4 d`); extra inserted lines go
    before the first original line after the block.
    """
    old_lines, new_lines = split_lines(old), split_lines(new)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, inserted = old_lines[i1:i2], new_lines[j1:j2]
        for k in range(max(len(removed), len(inserted))):
            if k < len(removed):
                ops.append(DiffOp("-", i1 + k + 1, removed[k]))
            if k < len(inserted):
                ops.append(DiffOp("+", i1 + min(k, len(removed)) + 1, inserted[k]))
    # Stable sort into the canonical order; moving a removal before inserts at its line changes nothing.
    ops.sort(key=lambda op: (op.line, op.sign == "+"))
    return LineDiff(tuple(ops))
