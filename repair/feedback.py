"""`repair_feedback` session-log events (docs/formats.md, session log): what became of a model fix offered
in the editor, written by `repair lsp` and by the simulator, read by the `preference_pairs` asset.

```json
{"v": 1, "session": "lsp-3f2a...", "repl": "myproject", "ts": 1764633600000, "kind": "repair_feedback",
 "file": "main.py", "diagnostic_id": "9c1e...", "model_version": "3", "action": "offered",
 "diff": "<diff>\\n-3 screen = turtle.screen\\n+3 screen = turtle.Screen()\\n</diff>", "latency_ms": 84,
 "rule": "pyright:reportAttributeAccessIssue", "prompt": "<code>\\n#main.py\\n..."}
```

`action` is one of `offered` (the code action was shown), `accepted` (the user applied it),
`rejected` (the diagnostic went away by other edits, or the file was closed, without the fix being
applied), `undone` (applied, then undone). Every event of one offer carries the same
`diagnostic_id`, `model_version`, `diff` and `latency_ms` (the model call's). Optional fields:
`file`, `rule` (`source:code`), `prompt` (the model input the fix answers, section 3) and, on a
`rejected` event whose diagnostic the user fixed by hand, `user_diff` (the user's own fix as a
numbered line diff against the file the fix was offered on).

Events go to `sessions/date=YYYY-MM-DD/<shard>.jsonl` like every other event, so that ingest reads
them with the rest of the day.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repair.object_store import ObjectStore

KIND = "repair_feedback"
OFFERED, ACCEPTED, REJECTED, UNDONE = "offered", "accepted", "rejected", "undone"
ACTIONS = (OFFERED, ACCEPTED, REJECTED, UNDONE)
# What an offer ended as (an offer with none of these is still open, or its editor went away).
OUTCOMES = (ACCEPTED, REJECTED, UNDONE)
OPTIONAL_FIELDS = ("file", "rule", "prompt", "user_diff")


def feedback_id(*parts: object) -> str:
    """A stable id for a diagnostic instance the editor saw (a hash of what identifies it)."""
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(str(part).encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def feedback_event(
    *,
    session: str,
    repl: str,
    ts: int,
    diagnostic_id: str,
    model_version: str,
    diff: str,
    action: str,
    latency_ms: int,
    **optional: Any,
) -> dict[str, Any]:
    """One event; `optional` may hold the fields of `OPTIONAL_FIELDS` (None values are left out)."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    unknown = set(optional) - set(OPTIONAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown repair_feedback field(s): {', '.join(sorted(unknown))}")
    return {
        "v": 1,
        "session": session,
        "repl": repl,
        "ts": ts,
        "kind": KIND,
        "diagnostic_id": diagnostic_id,
        "model_version": str(model_version),
        "diff": diff,
        "action": action,
        "latency_ms": int(latency_ms),
        **{k: v for k, v in optional.items() if v is not None},
    }


def day_of(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


class FeedbackLog:
    """The events of one editor session, kept in one shard per day (`<shard>.jsonl`, rewritten
    whole on each `flush`: an object store has no append). Thread-safe."""

    def __init__(self, store: ObjectStore, shard: str):
        self.store = store
        self.shard = shard
        self._by_day: dict[str, list[dict[str, Any]]] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    def record(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            day = day_of(event["ts"])
            self._by_day.setdefault(day, []).append(dict(event))
            self._dirty.add(day)

    def key(self, day: str) -> str:
        return f"sessions/date={day}/{self.shard}.jsonl"

    def flush(self) -> list[str]:
        """Writes the days with new events; returns their keys."""
        with self._lock:
            written = []
            for day in sorted(self._dirty):
                lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self._by_day[day])
                self.store.write_text(self.key(day), lines)
                written.append(self.key(day))
            self._dirty.clear()
            return written

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for day in sorted(self._by_day) for e in self._by_day[day]]
