"""The user-fix miner: the fix the user actually made, taken from later in the session.

For one error state (the file at version v with a diagnostic), walk the file's later versions in
the same session (replayed from the `ot` packets after v, at most `horizon` of them) and find the
first one in which the diagnostic is gone (`is_fixed`, the linter's verdict). Linting every
intermediate keystroke would be wasteful, so the search first checks the last version of the
horizon and then bisects for the earliest fixed version; a diagnostic that disappears and comes back
within the horizon may so yield a later fixed version than the very first.

The mined diff keeps only the ops within `radius` lines of the error line. When the user's change
also touched lines further away (kept editing, reformatted, added a feature), the fix is flagged
`noisy`: the case study's point is that such targets teach the model more than the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from repair.diagnostic import Diagnostic
from repair.linediff import LineDiff, make_diff
from repair.ot import FileReplay, OTError

DEFAULT_RADIUS = 3
DEFAULT_HORIZON = 200


@dataclass(frozen=True)
class MinedFix:
    diff: LineDiff  # the ops around the error line
    full_diff: LineDiff  # everything the user changed up to the fixed version
    fixed_version: int
    noisy: bool  # the user's change also touched lines outside the radius
    unrelated_ops: int  # how many ops lie outside it


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


def _near(diff: LineDiff, line: int, radius: int) -> tuple[LineDiff, int]:
    kept = tuple(op for op in diff.ops if line - radius <= op.line <= line + radius + (op.sign == "+"))
    return LineDiff(kept), len(diff.ops) - len(kept)


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
    version, fixed = found
    full = make_diff(content, fixed)
    near, unrelated = _near(full, diagnostic.line1, radius)
    return MinedFix(near, full, version, unrelated > 0, unrelated)
