"""The text edit that turns a document into its fixed text: one replacement of the changed lines
(common leading and trailing lines kept), so that the editor keeps cursor, marks and folds elsewhere.
"""

from __future__ import annotations

from lsprotocol import types

from repair.ot import common_affixes


def text_edits(old: str, new: str, codec) -> list[types.TextEdit]:
    """`[]` when the texts are equal, else one `TextEdit` on `old`; `codec` counts a line's length in
    the client's position units (`pygls` `PositionCodec.client_num_units`)."""
    if old == new:
        return []
    old_lines, new_lines = old.split("\n"), new.split("\n")
    prefix, suffix = common_affixes(old_lines, new_lines)
    middle_new = new_lines[prefix : len(new_lines) - suffix]
    last = len(old_lines) - 1
    end_of_file = types.Position(line=last, character=codec.client_num_units(old_lines[last]))
    if suffix:
        # Whole lines up to the first kept trailing line: every replaced line keeps its newline.
        start = types.Position(line=prefix, character=0)
        end = types.Position(line=len(old_lines) - suffix, character=0)
        text = "".join(line + "\n" for line in middle_new)
    elif prefix:
        # The change reaches the end of the file: replace from the end of the last kept line, so
        # that removing or adding lines at the end takes their newline along.
        start = types.Position(line=prefix - 1, character=codec.client_num_units(old_lines[prefix - 1]))
        end = end_of_file
        text = "".join("\n" + line for line in middle_new)
    else:
        start, end, text = types.Position(line=0, character=0), end_of_file, new
    return [types.TextEdit(range=types.Range(start=start, end=end), new_text=text)]
