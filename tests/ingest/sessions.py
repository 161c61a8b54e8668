"""A small, hand-made daily partition of session logs for the ingest tests: two projects with files
importing each other, edits over two sessions, diagnostics, the other event kinds, and a few bad
lines. Written through the project's own packet emitters (repair.ot)."""

from __future__ import annotations

import gzip
import json
from typing import Any

from repair.ot import make_packet
from resources.object_store import ObjectStore

DAY = "2026-01-05"
T0 = 1_767_571_200_000  # 2026-01-05T00:00:00Z


class SessionWriter:
    """Builds events with consistent versions and crc32s, file by file."""

    def __init__(self) -> None:
        self.texts: dict[tuple[str, str], str] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.events: list[dict[str, Any]] = []

    def base(self, repl: str, session: str, ts: int, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"v": 1, "session": session, "repl": repl, "ts": ts, "kind": kind, **fields}
        self.events.append(event)
        return event

    def edit(self, repl: str, session: str, ts: int, file: str, new_text: str) -> dict[str, Any]:
        key = (repl, file)
        version = self.versions.get(key, 0) + 1
        packet = make_packet(self.texts.get(key, ""), new_text, version)
        self.texts[key], self.versions[key] = new_text, version
        return self.base(repl, session, ts, "ot", file=file, author="user", **packet)

    def diagnose(
        self,
        repl: str,
        session: str,
        ts: int,
        file: str,
        line: int,
        code: str,
        message: str,
        source: str = "pyright",
        has_code_action: bool = False,
    ) -> dict[str, Any]:
        return self.base(
            repl,
            session,
            ts,
            "lsp_diagnostic",
            file=file,
            version=self.versions[(repl, file)],
            source=source,
            code=code,
            severity="error",
            message=message,
            has_code_action=has_code_action,
            range={"start": {"line": line, "character": 0}, "end": {"line": line, "character": 5}},
        )


def build_sessions() -> SessionWriter:
    w = SessionWriter()
    # Project r-turtle: two files, main.py imports shapes.py; a mistake, then its fix.
    w.edit("r-turtle", "s1", T0 + 1000, "shapes.py", "def square(t):\n    pass\n")
    w.edit(
        "r-turtle",
        "s1",
        T0 + 1500,
        "shapes.py",
        "def square(t):\n    for _ in range(4):\n        t.forward(10)\n",
    )
    w.edit("r-turtle", "s1", T0 + 2000, "main.py", "import turtle\n")
    w.edit(
        "r-turtle",
        "s1",
        T0 + 2300,
        "main.py",
        "import turtle\nfrom shapes import square\n\nscreen = turtle.screen\n",
    )
    w.diagnose(
        "r-turtle",
        "s1",
        T0 + 2300,
        "main.py",
        3,
        "reportAttributeAccessIssue",
        '"screen" is not a known attribute of module "turtle"',
    )
    w.base(
        "r-turtle",
        "s1",
        T0 + 2400,
        "run",
        command="python main.py",
        exit_code=1,
        stderr_tail="AttributeError: module 'turtle' has no attribute 'screen'",
    )
    w.base("r-turtle", "s1", T0 + 2500, "editor", file="main.py", action="paste")
    w.edit(
        "r-turtle",
        "s1",
        T0 + 2500,
        "main.py",
        "import turtle\nfrom shapes import square\n\nscreen = turtle.Screen()\nsquare(turtle.Turtle())\n",
    )
    w.edit(
        "r-turtle",
        "s2",
        T0 + 60_000,
        "shapes.py",
        "def square(t, n=10):\n    for _ in range(4):\n        t.forwrd(n)\n",
    )
    w.diagnose(
        "r-turtle",
        "s2",
        T0 + 60_100,
        "shapes.py",
        2,
        "reportAttributeAccessIssue",
        'Cannot access attribute "forwrd"',
    )
    w.edit(
        "r-turtle",
        "s2",
        T0 + 61_000,
        "shapes.py",
        "def square(t, n=10):\n    for _ in range(4):\n        t.forward(n)\n",
    )
    # Project r-unicode: one file with non-ASCII text, an unused import with a deterministic fix.
    w.edit("r-unicode", "s3", T0 + 5000, "app.py", "import os\nprint('héllo 👋 中文')\n")
    w.diagnose(
        "r-unicode",
        "s3",
        T0 + 5000,
        "app.py",
        0,
        "F401",
        "`os` imported but unused",
        source="ruff",
        has_code_action=True,
    )
    w.base("r-unicode", "s3", T0 + 5100, "package_install", manager="pip", packages=["rich"])
    w.base("r-unicode", "s3", T0 + 5200, "shell", command="ls -la")
    w.edit("r-unicode", "s3", T0 + 6000, "app.py", "print('héllo 👋 中文!')\n")
    return w


BAD_LINES = [
    b'{"v": 1, "session": "s9", "repl": "r-turtle", "ts": 5, "kind": "telepathy"}',
    b'{"v": 1, "session": "s9", "repl": "r-turtle", "ts": 5, "kind": "ot", "fi',
    b"\xff\xfe",
]


def write_partition(store: ObjectStore, day: str = DAY, bad_lines: bool = True) -> SessionWriter:
    """Writes the sessions as two shards (one gzip'd) and the snapshots; returns the writer."""
    w = build_sessions()
    lines = [json.dumps(e, ensure_ascii=False).encode("utf-8") for e in w.events]
    half = len(lines) // 2
    first = lines[:half] + (BAD_LINES if bad_lines else [])
    store.write_bytes(f"sessions/date={day}/shard-000.jsonl", b"\n".join(first) + b"\n")
    store.write_bytes(
        f"sessions/date={day}/shard-001.jsonl.gz", gzip.compress(b"\n".join(lines[half:]) + b"\n")
    )
    for (repl, file), text in w.texts.items():
        store.write_text(f"snapshots/{repl}/{file}", text)
    return w


DAYS = ("2026-01-05", "2026-01-06", "2026-01-07")


def _day_ms(n: int) -> int:
    return T0 + n * 86_400_000


def write_days(store: ObjectStore, dated_snapshots: bool = True) -> SessionWriter:
    """Three days of one project whose files live on: main.py and lib.py begin on day 1, day 2 edits
    main.py (lib.py only appears in its context), day 3 edits both. Each day's shard, the copy of
    every file edited that day as of that day (`snapshots/date=D/...`, unless `dated_snapshots` is
    False) and the latest copies."""
    w = SessionWriter()
    texts = {
        0: [("lib.py", "def area(r):\n    return 3.14 * r * r\n"), ("main.py", "from lib import area\n")],
        1: [
            ("main.py", "from lib import area\n\nprint(aera(2))\n"),
            ("main.py", "from lib import area\n\nprint(area(2))\n"),
        ],
        2: [
            ("lib.py", "def area(r):\n    return 3.14159 * r * r\n"),
            ("main.py", "from lib import area\nprint(area(3)\n"),
        ],
    }
    diagnosed = {
        1: ("main.py", 2, "reportUndefinedVariable", '"aera" is not defined', 0),
        2: ("main.py", 1, "syntax", '"(" was not closed', 1),
    }
    for n, edits in texts.items():
        start = len(w.events)
        session = f"s-day{n + 1}"
        edited = {}
        for k, (file, text) in enumerate(edits):
            w.edit("r-multi", session, _day_ms(n) + 3_600_000 + k * 1000, file, text)
            edited[file] = text
            if n in diagnosed and diagnosed[n][4] == k and diagnosed[n][0] == file:
                _, line, code, message, _ = diagnosed[n]
                w.diagnose(
                    "r-multi", session, _day_ms(n) + 3_600_000 + k * 1000 + 500, file, line, code, message
                )
        day = DAYS[n]
        lines = [json.dumps(e, ensure_ascii=False).encode("utf-8") for e in w.events[start:]]
        store.write_bytes(f"sessions/date={day}/shard-000.jsonl.gz", gzip.compress(b"\n".join(lines) + b"\n"))
        for file, text in edited.items():
            if dated_snapshots:
                store.write_text(f"snapshots/date={day}/r-multi/{file}", text)
            store.write_text(f"snapshots/r-multi/{file}", text)
    return w
