"""The compact edit a small model emits (docs/formats.md section 2b), and its expansion into the
numbered line diff of section 2 before anything else sees it.

A numbered line diff makes a model copy whole lines and their numbers: `-N TEXT` repeats line N of
the prompt, and `+N TEXT` repeats it again with one word changed. A tiny model gets the frame right and
paraphrases the line, or writes the number it saw most often. The compact edit names only what
changes, and where relative to the error line; everything it leaves out is in the prompt:

```
<edit>
@0 sellf
=self
</edit>
```

Every K below is a line offset from the prompt's error line (`<error_line>`): 0 is that line, -1 the
one before it, 2 two after it.

- `@K SPAN` then `=NEW`: line K (shown in the prompt) with its one occurrence of SPAN replaced by NEW;
  it stands for the diff's `-N <line N>` and `+N <line N edited>`.
- `-K`: remove line K (its text is the prompt's line).
- `+K TEXT`: insert TEXT before original line K, as a diff's `+N TEXT` does.
- `+^ IMPORT`: add the import statement IMPORT where the file's imports are (`repair.prompt.import_line`,
  wherever the window is): an edit's first rows. In it `$0` stands for the flagged name and `$K` for
  the Kth module of the modules line (`+^ from $2 import $0`).

`to_edit(prompt, diff)` writes the edit of a diff: a `-N`/`+N` pair becomes `@K`/`=` with the
smallest span that is whole lexical pieces (`_PIECE`) around the change and occurs once in the line.
`expand_edit(prompt, completion)` turns it back: `expand_edit(p, to_edit(p, d)) == d` for every diff
whose removed lines the prompt shows and that adds no import; an added import comes back at the line
`+^` places it on, which is why held-out references are compared with `same_fix`. A diff that removes
a line the prompt does not show (outside the window) keeps its `<diff>` form, which `expand_edit`
passes through unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from repair.hints import flagged_name, providing_modules, similar_names
from repair.linediff import (
    CLOSE_TAG,
    OPEN_TAG,
    DiffOp,
    DiffParseError,
    LineDiff,
    extract_diff,
    parse_diff,
    render_diff,
)
from repair.prompt import ParsedPrompt, PromptError, import_line, parse_prompt, placed_import

OPEN_EDIT, CLOSE_EDIT = "<edit>", "</edit>"
STOP_STRINGS = (CLOSE_TAG, CLOSE_EDIT)  # a completion ends after either block
# Lexical pieces a span is made of: a word, a run of blanks, or one other character.
_PIECE = re.compile(r"\w+|\s+|[^\w\s]")
_SPAN = re.compile(r"@(-?[0-9]+)(?: (.*))?", re.DOTALL)
_REMOVE = re.compile(r"-(-?[0-9]+)")
_INSERT = re.compile(r"\+(-?[0-9]+)(?: (.*))?", re.DOTALL)
_IMPORT = re.compile(r"\+\^ (.*)", re.DOTALL)
TOP = "^"  # the offset of a `+^` row: where the file's imports are
_ROW_OFFSET = re.compile(r"[@+-](-?[0-9]+)")


def _occurrences(line: str, span: str) -> int:
    return sum(line.startswith(span, i) for i in range(len(line) + 1))


def edit_span(old: str, new: str) -> tuple[str, str]:
    """(SPAN, NEW) with `old.replace(SPAN, NEW, 1) == new` and SPAN occurring once in `old`: the
    changed characters, widened to whole pieces, then piece by piece (right first) until unique."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    bounds = [m.span() for m in _PIECE.finditer(old)]
    start, end = prefix, len(old) - suffix
    if start == end and old:  # a pure insertion: take the piece before it (or after, at the start)
        start, end = (start - 1, start) if start > 0 else (0, 1)
    start = max([s for s, _ in bounds if s <= start] or [0])
    end = min([e for _, e in bounds if e >= end] or [len(old)])
    start, end = _widen_until_unique(old, bounds, start, end)
    return old[start:end], new[start : len(new) - (len(old) - end)]


def _widen_until_unique(line: str, bounds: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """`line[start:end]` (piece-aligned) widened piece by piece, right first, until it occurs once."""
    while _occurrences(line, line[start:end]) > 1:
        after = [e for _, e in bounds if e > end]
        before = [s for s, _ in bounds if s < start]
        if after:
            end = after[0]
        else:
            start = before[-1]
    return start, end


# The widest change `edit_headers` offers a span for, in pieces (before widening to a unique span).
MAX_SPAN_PIECES = 6


def edit_spans(line: str, max_pieces: int = MAX_SPAN_PIECES) -> list[str]:
    """Every SPAN `to_edit` can write for `line`: each run of up to `max_pieces` whole pieces,
    widened (as `edit_span` widens) until it occurs once in the line."""
    bounds = [m.span() for m in _PIECE.finditer(line)]
    spans: dict[str, None] = {}
    for first in range(len(bounds)):
        for last in range(first, min(first + max_pieces, len(bounds))):
            start, end = _widen_until_unique(line, bounds, bounds[first][0], bounds[last][1])
            spans[line[start:end]] = None
    return list(spans)


def edit_headers(prompt: ParsedPrompt) -> list[str]:
    """The ways an edit's first row can begin for `prompt`, up to where the model's free text starts:
    `@K SPAN` and its newline for every span of every shown line (`edit_spans`), `-K` and its newline
    for every shown line, and `+K` (its TEXT follows) for every line from the first of the file (an
    import goes above the window) to the one after the last shown, as `EditGrammar` allows. Decoding
    ranks these whole (`repair.model`), so that its candidates differ in where they edit; `+^`
    (an import, its TEXT follows) comes first."""
    headers: list[str] = [f"+{TOP}"]
    for number, line in prompt.lines:
        offset = number - prompt.error_line
        headers += [f"@{offset} {span}\n" for span in edit_spans(line)] + [f"-{offset}\n"]
    last = prompt.lines[-1][0] if prompt.lines else prompt.error_line
    headers += [f"+{number - prompt.error_line}" for number in range(1, last + 2)]
    return headers


def _shown(prompt: ParsedPrompt) -> dict[int, str]:
    return dict(prompt.lines)


def to_edit(prompt: ParsedPrompt, diff: LineDiff) -> str | None:
    """The `<edit>` block of `diff` for `prompt`, or None when a removed line is not shown."""
    shown = _shown(prompt)
    rows: list[str] = []
    ops = list(diff.ops)
    i = 0
    imports = [op for op in ops if op.sign == "+" and placed_import(op.text)]
    rows += [f"+{TOP} {op.text}" for op in imports]
    ops = [op for op in ops if op not in imports]
    while i < len(ops):
        op = ops[i]
        offset = op.line - prompt.error_line
        if op.sign == "+":
            rows.append(f"+{offset} {op.text}" if op.text else f"+{offset}")
        elif shown.get(op.line) != op.text:
            return None
        elif i + 1 < len(ops) and ops[i + 1].sign == "+" and ops[i + 1].line == op.line:
            span, new = edit_span(op.text, ops[i + 1].text)
            rows += [f"@{offset} {span}", f"={new}"]
            i += 1
        else:
            rows.append(f"-{offset}")
        i += 1
    return "\n".join([OPEN_EDIT, *rows, CLOSE_EDIT])


def extract_edit(text: str) -> list[str] | None:
    """The rows of the last `<edit>` block in `text` (None when there is none)."""
    end = text.rfind(CLOSE_EDIT)
    start = text.rfind(OPEN_EDIT, 0, end) if end >= 0 else -1
    if start < 0:
        return None
    return [row for row in text[start + len(OPEN_EDIT) : end].strip("\n").split("\n") if row]


# For a model that reads the names like the flagged one (docs/formats.md 3b), `$K` in a `=NEW` row
# stands for the Kth of them: a pointer to a name, where copying it piece by piece is what the small
# models did not learn (given `<names>radius</names>`, the shipped base wrote `=raw`). In a `+^` row
# `$0` is the flagged name itself (an import names what is undefined: `+^ import $0`), and `$K` the
# Kth module of the modules line (`+^ from $2 import $0`).
_NAME_REFERENCE = re.compile(r"\$([1-9])")
_FLAGGED_REFERENCE = "$0"


def _referred(text: str, name: str, reference: str) -> str:
    return re.sub(rf"(?<![\w$]){re.escape(name)}(?!\w)", lambda _: reference, text)


def refer_to_names(
    edit: str, names: Sequence[str], flagged: str | None = None, modules: Sequence[str] = ()
) -> str:
    """`edit` with every whole-word occurrence of a name of `names` in its `=NEW` rows written `$K`
    (K from 1, in `names`' order), and in its `+^` rows, of `flagged` `$0` and of a module of
    `modules` `$K`; a row that holds a `$` already is left as it is."""

    def refer(row: str) -> str:
        if "$" in row:
            return row
        if row.startswith(f"+{TOP} "):
            row = _referred(row, flagged, _FLAGGED_REFERENCE) if flagged else row
            for k, module in enumerate(modules, 1):
                row = _referred(row, module, f"${k}")
            return row
        if not row.startswith("="):
            return row
        for k, name in enumerate(names, 1):
            row = "=" + _referred(row[1:], name, f"${k}")
        return row

    return "\n".join(refer(row) for row in edit.split("\n"))


def resolve_names(new: str, names: Sequence[str]) -> str:
    """A `=NEW` row's text with each `$K` the Kth of `names` (`refer_to_names` undone); in a `+^`
    row's import, `names` are the modules."""
    return _NAME_REFERENCE.sub(lambda m: names[int(m[1]) - 1] if int(m[1]) <= len(names) else m[0], new)


def top_line(prompt: ParsedPrompt) -> int:
    """Where `+^` adds an import when only the prompt is at hand: `import_line` of the lines it shows
    from line 1 on, or line 1 when it does not show the file's first line."""
    shown = _shown(prompt)
    count = 0
    while count + 1 in shown:
        count += 1
    return import_line("".join(f"{shown[n]}\n" for n in range(1, count + 1))) if count else 1


def same_fix(diff: LineDiff, reference: LineDiff) -> bool:
    """Whether two diffs make the same edit, an added import counting wherever it goes (`+^` puts it
    at `import_line`, a user's fix anywhere among the file's imports)."""

    def placed(d: LineDiff) -> list[DiffOp]:
        return sorted(
            (DiffOp(op.sign, 0, op.text) if op.sign == "+" and placed_import(op.text) else op for op in d.ops),
            key=lambda op: (op.line, op.sign == "+"),
        )

    return placed(diff) == placed(reference)


def expand_edit(
    prompt: ParsedPrompt,
    text: str,
    names: Sequence[str] = (),
    top: int | None = None,
    flagged: str | None = None,
    modules: Sequence[str] = (),
) -> str:
    """The `<diff>` block a completion stands for: its `<edit>` block expanded against the prompt's
    lines (a `$K` of a NEW is the Kth of `names`; in a `+^` row `$0` is `flagged` and `$K` the Kth
    of `modules`: `refer_to_names`), or its `<diff>` block as is. A `+^` row adds its import at line
    `top` (the file's `import_line`; `top_line` of the prompt when None). Raises `DiffParseError`
    (with the reason) when neither fits."""
    rows = extract_edit(text)
    if rows is None:
        if extract_diff(text) is None:
            raise DiffParseError("no_diff_block", f"no {OPEN_EDIT} or <diff> block in the text")
        return render_diff(parse_diff(text))
    shown = _shown(prompt)
    ops: list[DiffOp] = []
    pending: tuple[int, str] | None = None  # an `@K SPAN` waiting for its `=NEW`
    imports = 0  # `+^` rows so far, all before any other
    for row in rows:
        if pending is not None:
            if not row.startswith("="):
                raise DiffParseError(
                    "malformed_line", f"{row[:80]!r} should be '=NEW' after an '@K SPAN' row"
                )
            number, span = pending
            line = shown[number]
            new = resolve_names(row[1:], names) if names else row[1:]
            ops += [DiffOp("-", number, line), DiffOp("+", number, line.replace(span, new, 1))]
            pending = None
        elif match := _SPAN.fullmatch(row):
            number, span = prompt.error_line + int(match.group(1)), match.group(2) or ""
            if number not in shown:
                raise DiffParseError("bad_line_number", f"{row[:20]!r}: line {number} is not in the prompt")
            if _occurrences(shown[number], span) != 1:
                raise DiffParseError("malformed_line", f"{row[:80]!r}: {span!r} is not once in line {number}")
            pending = (number, span)
        elif match := _REMOVE.fullmatch(row):
            number = prompt.error_line + int(match.group(1))
            if number not in shown:
                raise DiffParseError("bad_line_number", f"{row!r}: line {number} is not in the prompt")
            ops.append(DiffOp("-", number, shown[number]))
        elif match := _IMPORT.fullmatch(row):
            if len(ops) > imports:
                raise DiffParseError("malformed_line", f"{row[:80]!r}: a '+^' row comes before every other row")
            imports += 1
            line = match.group(1).replace(_FLAGGED_REFERENCE, flagged) if flagged else match.group(1)
            line = resolve_names(line, modules) if modules else line
            ops.append(DiffOp("+", top if top is not None else top_line(prompt), line))
        elif match := _INSERT.fullmatch(row):
            number = prompt.error_line + int(match.group(1))
            if number < 1:
                raise DiffParseError("bad_line_number", f"{row[:20]!r}: line {number} (lines start at 1)")
            ops.append(DiffOp("+", number, match.group(2) or ""))
        else:
            raise DiffParseError(
                "malformed_line", f"{row[:80]!r} is not '@K SPAN', '=NEW', '-K', '+K TEXT' or '+^ IMPORT'"
            )
    if pending is not None:
        raise DiffParseError("malformed_line", f"the '@K SPAN' row of line {pending[0]} has no '=NEW' row")
    # An import placed below a line that a later row edits goes after that line's removal, as a diff has it.
    return render_diff(LineDiff(tuple(sorted(ops, key=lambda op: (op.line, op.sign == "+")))))


def expand_completion(prompt: str, completion: str, names: bool = False, top: int | None = None) -> str:
    """`expand_edit` for a section 3 prompt's text (with `names`, for a model that reads them and the
    modules line, its `$K` and `$0` resolved; `top`, the file's `import_line` when known); the
    completion unchanged when it cannot be expanded (so that parsing it later reports why)."""
    try:
        parsed = parse_prompt(prompt)
        if not names:
            return expand_edit(parsed, completion, top=top)
        return expand_edit(
            parsed, completion, similar_names(parsed), top, flagged_name(parsed), providing_modules(parsed)
        )
    except (DiffParseError, PromptError):
        return completion


def edit_response(prompt: str, response: str, names: bool = False) -> str:
    """A diff response in the edit form (with `names`, its names like the flagged one written
    `$K`); the response as is when the edit cannot express it (a removed line the prompt does not
    show) or it is not a well-formed diff."""
    try:
        parsed = parse_prompt(prompt)
        edit = to_edit(parsed, parse_diff(response))
    except (DiffParseError, PromptError):
        return response
    if edit is None:
        return response
    if not names:
        return edit
    return refer_to_names(edit, similar_names(parsed), flagged_name(parsed), providing_modules(parsed))


def to_edit_example(example: dict[str, Any]) -> dict[str, str]:
    """LLM Foundry `preprocessing_fn` (`repair.edits:to_edit_example`): a dataset row with its
    `<diff>` response rewritten as the compact edit the model learns to emit."""
    return {"prompt": example["prompt"], "response": edit_response(example["prompt"], example["response"])}


def to_named_edit_example(example: dict[str, Any]) -> dict[str, str]:
    """LLM Foundry `preprocessing_fn` (`repair.edits:to_named_edit_example`): `to_edit_example`,
    with the names like the flagged one after the prompt (`repair.dataset.model_input`) and
    referred to by number in the edit (`refer_to_names`)."""
    from repair.dataset import model_input

    return {
        "prompt": model_input(example["prompt"], names=True),
        "response": edit_response(example["prompt"], example["response"], names=True),
    }


class EditGrammar:
    """Constrained decoding of the `<edit>` block: given the text a model has emitted so far, the
    tokens that keep it well formed for its prompt, so that every finished edit expands:

    - a row starts with `@`, `-`, `+` or `</edit>`, and only with `=` right after an `@K SPAN` row
      (which must get its `=NEW` before anything else);
    - K is an offset whose line the prompt shows (`@K`, `-K`), or a line >= 1 (`+K`): digits that
      cannot still become such an offset are refused; `+^` only before every other row;
    - SPAN grows only by what follows it somewhere in line K, and the row ends only once SPAN occurs
      exactly once there;
    - `=NEW`, `+K TEXT` and `+^ IMPORT` are free text up to the newline.

    The answer opens with `<edit>` (or `<diff>`, the form of a fix outside the window, which is then
    not constrained). The vocabulary is the tokenizer's decoded tokens, by id; the tokenizers here
    split a newline from every other token (as byte-level BPE does), which `allowed` relies on.
    """

    _OPENING = OPEN_EDIT + "\n"
    _OPENINGS = (_OPENING, OPEN_TAG)

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = vocabulary
        self.everything = list(range(len(vocabulary)))
        self.ids = {text: i for i, text in enumerate(vocabulary) if text}
        self.longest = max((len(t) for t in self.ids), default=1)
        self.row_starts = [self.ids[t] for t in ("@", "-", "+", "<", "</", "--") if t in self.ids]
        self.equals = [self.ids["="]] if "=" in self.ids else []
        self.numbers = [i for t, i in self.ids.items() if t.isdigit() or t == "-" or t.startswith("-") and t[1:].isdigit()]
        self.top = [self.ids[TOP]] if TOP in self.ids else []
        self.spaced = [i for t, i in self.ids.items() if t.startswith(" ")]
        self.newline = [self.ids["\n"]] if "\n" in self.ids else []

    def allowed(self, prompt: ParsedPrompt, text: str) -> list[int]:
        """The token ids that may follow `text` (the completion so far) for `prompt`."""
        if not text.startswith(self._OPENING):
            if text.startswith(OPEN_TAG) or len(text) >= len(self._OPENING):
                return self.everything
            return self._opening_ids(text)
        rows = text[len(self._OPENING) :].split("\n")
        row = rows[-1]
        pending = bool(rows[:-1]) and _SPAN.fullmatch(rows[-2]) is not None
        if row.startswith("=") or (_INSERT.fullmatch(row) or _IMPORT.fullmatch(row)) and " " in row:
            return self.everything  # free text up to the newline
        if CLOSE_EDIT.startswith(row) and row:
            return self._closing_ids(row) if row != CLOSE_EDIT else self.everything
        if row == "":
            return self.equals if pending else self.row_starts
        # The diff's order: lines ascend, a line is removed once, and '+' never precedes '-' at a line.
        done = [_ROW_OFFSET.match(r) for r in rows[:-1]]
        last = max((prompt.error_line + int(m.group(1)) for m in done if m), default=0)
        first = all(_IMPORT.fullmatch(r) for r in rows[:-1])
        found = self._row(prompt, row, last, first) if not pending else []
        return found or self.everything  # never an empty choice (no step may mask every token)

    # The opening and the closing tag depend on the text alone: every row of a batch asks for the same
    # few prefixes at every step, and a scan of the vocabulary each time was 40% of a batch's decoding.
    @functools.lru_cache(maxsize=64)  # noqa: B019 - one grammar per loaded model
    def _opening_ids(self, text: str) -> list[int]:
        return [i for t, i in self.ids.items() if any(o.startswith(text + t) for o in self._OPENINGS)]

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one grammar per loaded model
    def _closing_ids(self, row: str) -> list[int]:
        return [i for t, i in self.ids.items() if CLOSE_EDIT.startswith(row + t)]

    def _row(self, prompt: ParsedPrompt, row: str, last: int, first: bool) -> list[int]:
        kind, offset, rest = row[0], row[1:], ""
        if " " in offset:
            offset, rest = offset.split(" ", 1)
        if kind not in "@-+":
            return []
        if kind == "+" and offset == TOP:
            return self.spaced  # its import follows
        shown = _shown(prompt)
        if kind == "+":
            lines = range(max(last, 1), max(shown, default=1) + 2)
        else:
            lines = range(last + 1, max(shown, default=0) + 1)
        texts = [str(n - prompt.error_line) for n in lines if kind == "+" or n in shown]
        if kind == "@" and " " in row[1:]:  # the span, once K is complete
            return self._span(shown[prompt.error_line + int(offset)], rest) if offset in texts else []
        grow = [i for i in self.numbers if any(t.startswith(offset + self.vocabulary[i]) for t in texts)]
        if kind == "+" and offset == "" and first:
            grow += self.top
        if offset not in texts:
            return grow
        if kind == "-":
            return grow + self.newline
        if kind == "+":
            return grow + self.newline + self.spaced
        line = shown[prompt.error_line + int(offset)]
        return grow + [i for i in self.spaced if self.vocabulary[i][1:] in line]

    def _span(self, line: str, span: str) -> list[int]:
        grow = [i for i, piece in self._pieces(line) if span + piece in line]
        return grow + self.newline if _occurrences(line, span) == 1 else grow

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one grammar per loaded model, lines recur every step
    def _pieces(self, line: str) -> list[tuple[int, str]]:
        """The tokens that are substrings of `line`, with their text."""
        # In the line's order, not a set's: the list's order must not depend on the hash seed.
        ends = ((i, n) for i in range(len(line)) for n in range(1, self.longest + 1) if i + n <= len(line))
        found = dict.fromkeys(line[i : i + n] for i, n in ends)
        return [(self.ids[piece], piece) for piece in found if piece in self.ids]
