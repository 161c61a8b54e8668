"""`benchmarks/RESULTS.md`: each benchmark script rewrites its own section and no other."""

from __future__ import annotations

import os
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


EARLIER = "### Earlier run"


def earlier_runs(heading: str, kept: int, path: Path = RESULTS) -> list[str]:
    """The runs under `heading` as `write_run` wrote them, newest first (at most `kept`)."""
    text = path.read_text(encoding="utf-8")
    if heading not in text:
        return []
    start = text.index(heading) + len(heading)
    following = text.find("\n## ", start)
    runs = [run.strip() for run in text[start : None if following < 0 else following].split(EARLIER)]
    return [run for run in runs if run][:kept]


def write_run(heading: str, body: str, kept: int = 2, path: Path = RESULTS) -> None:
    """`write_section` for a benchmark whose runs are read side by side (a new base, a new day): the
    new run first, then the last `kept` runs it replaces, each under `### Earlier run`."""
    before = earlier_runs(heading, kept, path)
    write_section(heading, "\n\n".join([body.strip(), *(f"{EARLIER}\n\n{run}" for run in before)]), path)


def load_words(before: float, after: float | None = None) -> str:
    """How busy the machine was when a benchmark ran, from its 1-minute load averages at the start
    and the end (default: now): measured, never typed in.
    The start says whether other work was running (the end counts the benchmark's own processes
    too); a niced run says so. Under load, absolute times inflate several-fold and only the rows of
    one run compare."""
    after = os.getloadavg()[0] if after is None else after
    cores = os.cpu_count() or 1
    loads = f"load average {before:.1f} at the start, {after:.1f} at the end, on {cores} cores"
    if os.nice(0):
        loads += f"; this ran under `nice -n {os.nice(0)}`"
    if before < cores + 0.5:
        return f"otherwise idle ({loads})"
    return f"shared with other work ({loads}: absolute times inflate with it; compare the rows of one run)"
