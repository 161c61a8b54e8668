"""The user-fix miner: the fix the user actually made, taken from later in the session.

For one error state (the file at version v with a diagnostic), walk the file's later versions in
the same session (replayed from the `ot` packets after v, at most `horizon` of them) and find the
first one in which the diagnostic is gone (`is_fixed`, the linter's verdict). Linting every
intermediate keystroke would be wasteful, so the search first checks the last version of the
horizon and then bisects for the earliest fixed version; a diagnostic that disappears and comes back
within the horizon may so yield a later fixed version than the very first.

The earliest fixed version is often the fix half typed: `is = ...` retyped as `filename = ...` is
already clean at `fi = ...`. The fix is taken where its typing ends (`finished_typing`): the last of
the versions that follow while every edit stays on the lines the fix changed or added (a body typed
under `if ...:` is followed to the end of its line, not taken at `package = package.r`), if that one
is fixed.

The user's change up to that version often holds more than the fix (the user kept typing the next
function, reformatted, added a comment). The mined diff is trimmed to the edit that removed the
diagnostic: the smallest of (the ops on the error line; the hunk around it, within `radius` lines;
every op within `radius`) that still fixes it by the same rule. A change with ops elsewhere is
flagged `noisy` (the case study's point: such targets teach the model more than the fix); when no
trimmed edit fixes the diagnostic on its own, the fix is `dropped` (an empty diff, counted) rather
than taught whole. So is an edit that is no correction (`_not_a_fix`, the reason counted): code the
user went on to write (`continued_typing`: lines added, or a line completed with new words), the line
commented out (`commented_out`) or deleted (`deleted`, unless the rule is about unused code).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from repair.diagnostic import Diagnostic
from repair.linediff import DiffApplyError, LineDiff, apply_diff, make_diff
from repair.ot import FileReplay, OTError

DEFAULT_RADIUS = 3
DEFAULT_HORIZON = 200


@dataclass(frozen=True)
class MinedFix:
    diff: LineDiff  # the edit that removed the diagnostic (empty when `dropped`)
    full_diff: LineDiff  # everything the user changed up to the fixed version
    fixed_version: int
    noisy: bool  # the user's change also touched other lines than the edit kept
    unrelated_ops: int  # how many of its ops were left out
    dropped: bool = False  # the change is not taught: `dropped_reason` says why
    # `noisy`: no trimmed edit fixes it on its own; `continued_typing`, `commented_out`, `deleted`:
    # the edit that removed the diagnostic is no correction (`_not_a_fix`).
    dropped_reason: str = ""


def later_versions(
    content: str, version: int, packets: Iterable[Mapping[str, Any]], horizon: int = DEFAULT_HORIZON
) -> list[tuple[int, str]]:
    """(version, text) of the file after each of `packets` (its `ot` events after `version`, in log
    order), stopping at the horizon or at the first packet that does not replay."""
    replay = FileReplay(check_crc=True, text=content, version=version)
    states = []
    for packet in packets:
        event = json.loads(packet["event"]) if isinstance(packet.get("event"), str) else packet
        if event.get("version", 0) <= version:
            continue
        try:
            replay.apply(event)
        except OTError:
            break
        states.append((replay.version, replay.text()))
        if len(states) >= horizon:
            break
    return states


def _near(diff: LineDiff, line: int, radius: int) -> LineDiff:
    return LineDiff(tuple(op for op in diff.ops if line - radius <= op.line <= line + radius + (op.sign == "+")))


def _hunk(diff: LineDiff, line: int) -> LineDiff:
    """The run of ops on consecutive lines that holds (or is next to) `line`."""
    hunks: list[list] = []
    for op in diff.ops:
        if hunks and op.line - hunks[-1][-1].line <= 1:
            hunks[-1].append(op)
        else:
            hunks.append([op])
    around = [h for h in hunks if h[0].line - 1 <= line <= h[-1].line + 1]
    return LineDiff(tuple(around[0])) if around else LineDiff(())


def trimmed_edits(full: LineDiff, line: int, radius: int) -> list[LineDiff]:
    """The candidate edits for the fix, smallest first, without repeats: the ops on the error line,
    the hunk around it (within `radius`), every op within `radius`."""
    on_line = LineDiff(tuple(op for op in full.ops if op.line == line))
    near = _near(full, line, radius)
    hunk = LineDiff(tuple(op for op in _hunk(full, line).ops if op in near.ops))
    out: list[LineDiff] = []
    for edit in (on_line, hunk, near):
        if edit.ops and edit not in out:
            out.append(edit)
    return out


def first_fixed(
    versions: Sequence[tuple[int, str]], is_fixed: Callable[[str], bool]
) -> tuple[int, str] | None:
    """The earliest version (by bisection, see the module docstring) for which `is_fixed` holds."""
    if not versions or not is_fixed(versions[-1][1]):
        return None
    low, high = 0, len(versions) - 1  # versions[high] is fixed
    while low < high:
        middle = (low + high) // 2
        if is_fixed(versions[middle][1]):
            high = middle
        else:
            low = middle + 1
    return versions[high]


def _changed_rows(before: str, after: str) -> set[int] | None:
    """The rows of `after` that differ from `before` when only lines were rewritten in place (same
    number of lines); None when lines were added or removed."""
    old, new = before.split("\n"), after.split("\n")
    if len(old) != len(new):
        return None
    return {row for row, (a, b) in enumerate(zip(old, new, strict=True)) if a != b}


def _written_rows(before: str, after: str) -> set[int]:
    """The rows of `after` that `before` does not hold as they are: rewritten or added."""
    matcher = difflib.SequenceMatcher(None, before.split("\n"), after.split("\n"), autojunk=False)
    return {row for tag, _, _, start, end in matcher.get_opcodes() if tag != "equal" for row in range(start, end)}


def finished_typing(content: str, versions: Sequence[tuple[int, str]], first: int) -> int:
    """The index in `versions` where the user stopped typing the fix first seen at `versions[first]`:
    later versions count while each edit only rewrites rows that fix wrote (rewrote or added)."""
    rows = _written_rows(content, versions[first][1])
    last = first
    while rows and last + 1 < len(versions):
        step = _changed_rows(versions[last][1], versions[last + 1][1])
        if step is None or not step <= rows:
            break
        last += 1
    return last


# Rules whose fix is to remove code: deleting the line is the correction, not a way to hide the error.
REMOVAL_RULES = frozenset({"F401", "F811", "F841", "reportUnusedImport", "reportUnusedVariable", "reportUnusedExpression"})
_COMMENT = re.compile(r"^\s*#")
_IMPORT = re.compile(r"^\s*(import|from)\s+[\w.]+")


def _not_a_fix(edit: LineDiff, diagnostic: Diagnostic) -> str | None:
    """Why a change that removed the diagnostic teaches no fix, or None:

    - `continued_typing`: it adds lines other than imports (a block's body, the rest of a call), or completes
      a line with new words (`"enable_shared_cache` -> `"enable_shared_cache is deprecated"`): the
      user was writing code not yet there, and the diagnostic was typing in progress;
    - `commented_out`: a removed line comes back as a comment: the error is hidden, not fixed;
    - `deleted`: it only removes lines, where the rule is not about unused code."""
    removed = [op.text for op in edit.ops if op.sign == "-"]
    added = [op.text for op in edit.ops if op.sign == "+"]
    if any(_COMMENT.match(text) and not _COMMENT.match(old) and text.split("#", 1)[1].strip() == old.strip()
           for text in added for old in removed):  # fmt: skip
        return "commented_out"
    if len([text for text in added if not _IMPORT.match(text)]) > len(removed):  # an import added fixes a name
        return "continued_typing"
    if removed and not added:
        return None if diagnostic.code in REMOVAL_RULES else "deleted"
    for old, new in zip(removed, added, strict=False):
        stem = old.rstrip()
        if stem and new.startswith(stem):
            rest = new[len(stem):]
            if stem[-1:].isalnum() or stem[-1:] == "_":
                rest = re.sub(r"^\w+", "", rest)  # finishing the last word is a correction (`sel` -> `self`)
            if re.search(r"\w", rest):
                return "continued_typing"
    return None


def mine_user_fix(
    content: str,
    diagnostic: Diagnostic,
    versions: Sequence[tuple[int, str]],
    is_fixed: Callable[[str], bool],
    radius: int = DEFAULT_RADIUS,
) -> MinedFix | None:
    """The user's fix of `diagnostic` in `content`, or None when it is never gone in `versions`."""
    changed = [(v, text) for v, text in versions if text != content]
    found = first_fixed(changed, is_fixed)
    if found is None:
        return None
    typed = finished_typing(content, changed, changed.index(found))
    if changed[typed] != found and is_fixed(changed[typed][1]):
        found = changed[typed]
    version, fixed = found
    full = make_diff(content, fixed)
    edits = trimmed_edits(full, diagnostic.line1, radius)
    for edit in edits:
        unrelated = len(full.ops) - len(edit.ops)
        try:
            if unrelated and not is_fixed(apply_diff(content, edit)):
                continue
        except DiffApplyError:
            continue
        reason = _not_a_fix(edit, diagnostic)
        if reason is not None:
            return MinedFix(LineDiff(()), full, version, bool(unrelated), len(full.ops), True, reason)
        return MinedFix(edit, full, version, bool(unrelated), unrelated)
    # A fix made far from the error (an import at the top) keeps nothing near it: an empty diff,
    # which verification rejects; a change whose near part does not fix it alone is dropped.
    return MinedFix(
        LineDiff(()), full, version, bool(full.ops), len(full.ops), dropped=bool(edits), dropped_reason="noisy" if edits else ""
    )
