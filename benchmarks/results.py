"""`benchmarks/RESULTS.md`: each benchmark script rewrites its own section and no other."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Replaces the text under `heading` (up to the next `## `) with `body`, or appends the section
    when it is new. A `body` that starts with the heading itself is taken without it."""
    body = body.strip().removeprefix(heading).strip()
    text = path.read_text(encoding="utf-8")
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n"
    start = text.index(heading) + len(heading)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following + 1
    path.write_text(text[:start] + "\n\n" + body + "\n\n" + text[end:], encoding="utf-8")
