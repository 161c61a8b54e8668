"""The code action's text edit turns the document into the fixed text exactly, for every shape of
change (start, middle, end, with and without a trailing newline, lines added or removed)."""

from __future__ import annotations

import itertools

from lsprotocol import types
from pygls.workspace import TextDocument

from repair.lsp.edits import text_edits

TEXTS = ["", "a", "a\n", "a\nb", "a\nb\n", "x\na\nb\n", "a\nc\nb", "b", "\n", "a\nb\nc\nd", "é😀\nb"]


def test_edit_turns_any_text_into_any_other():
    for old, new in itertools.product(TEXTS, TEXTS):
        document = TextDocument("file:///t.py", old)
        edits = text_edits(old, new, document.position_codec)
        assert (edits == []) == (old == new)
        for edit in edits:
            document.apply_change(types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
        assert document.source == new, (old, new, edits)


def test_one_edit_of_the_changed_lines_only():
    (edit,) = text_edits("a\nb\nc\n", "a\nB\nc\n", TextDocument("file:///t.py", "").position_codec)
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (1, 2, "B\n")


def test_common_affixes_of_strings_and_line_lists_are_the_longest():
    from repair.ot import common_affixes

    for a, b in itertools.product(TEXTS, repeat=2):
        for left, right in ((a, b), (a.split("\n"), b.split("\n"))):
            prefix, suffix = common_affixes(left, right)
            assert left[:prefix] == right[:prefix] and prefix + suffix <= min(len(left), len(right))
            assert left[len(left) - suffix :] == right[len(right) - suffix :]
            longer_prefix = prefix < min(len(left), len(right)) and left[prefix] == right[prefix]
            room = prefix + suffix < min(len(left), len(right))
            assert not longer_prefix and not (room and left[len(left) - 1 - suffix] == right[len(right) - 1 - suffix])
