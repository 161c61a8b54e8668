"""One daily partition of simulated session logs, written into an object store.

```
sessions/date=D/shard-NNNNN.jsonl.gz       the session logs (docs/formats.md section 1)
sessions/date=D/REALISM.md                 how the partition compares with real editing traces
snapshots/<repl>/<path>                    the last state of every file
snapshots/date=D/<repl>/<path>             every file edited on D, as it was at the end of D
ground_truth/date=D/shard-NNNNN.jsonl      what was broken, where, and the clean fix (never logged)
ground_truth_as_written/date=D/shard-NNNNN.jsonl   per file, the errors of the code as meant (not mistakes)
```

Projects live for up to `PROJECT_DAYS` days: a session that would start after 20:00, or (at
`next_day_rate`) any later session, starts the next day instead, so a project begun on day B may continue on B+1 and B+2 with its files' texts and
versions where it left them. Day D holds the sessions of the projects begun on D and the continued
sessions of the projects begun on the days before, when those days were simulated into the same
store (with the same settings: a project is re-simulated from its first day, deterministically).

Every random choice comes from a `random.Random` seeded with (seed, day the project began, project
number), the timestamps from the day, and the gzip header carries no time: the same arguments (and
the same earlier days in the store) give the same bytes.
Projects are simulated shard by shard; the language-server states of a whole shard are linted in one
`repair.lint.lint_batch` call (one ruff and one basedpyright process), so that process start-up is
paid once per shard, not per state.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from repair.corpus import iter_source_files, stdlib_dir
from repair.diagnostic import Diagnostic
from repair.ingest.logs import SHARD_SUFFIXES
from repair.linediff import make_diff, render_diff
from repair.lint import lint_batch
from repair.object_store import ObjectStore
from repair.sessionlog import KIND_RANK
from repair.simulate.behaviour import DEFAULT_MIX, BehaviourModel, TimingModel
from repair.simulate.feedback import simulated_feedback
from repair.simulate.mistakes import DETERMINISTIC_FIX_KINDS, MISTAKE_KINDS
from repair.simulate.projects import build_project
from repair.simulate.realism import realism_report
from repair.simulate.session import MistakeRecord, PublishPoint, ReplSimulator
from repair.simulate.summary import SimulationSummary

DAY_MS = 86_400_000
PROJECT_DAYS = 3  # a project's sessions span at most this many days (it has at most three sessions)
FIRST_SESSION_WINDOW_MS = (10 * 60_000, 17 * 3_600_000)  # first sessions start between 00:10 and 17:00
LAST_SESSION_START_MS = 20 * 3_600_000  # later sessions of a project only start before 20:00
# Beside the ground truth: per file, the errors of the code as the user meant it (`_written_files`).
AS_WRITTEN_PREFIX = "ground_truth_as_written"


@dataclass(frozen=True)
class SimulationConfig:
    day: str  # YYYY-MM-DD
    sessions: int
    seed: int = 0
    source: Path | None = None  # a directory of Python files; default: the standard library
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    timing: TimingModel = field(default_factory=TimingModel)
    behaviour: BehaviourModel = field(default_factory=BehaviourModel)
    min_lines: int = 30  # the size of a project (all files, all sessions)
    max_lines: int = 100
    multi_file_rate: float = 0.35
    next_day_rate: float = 0.5  # chance that a project's next session waits for the next day
    sessions_per_shard: int = 0  # 0: about a quarter of the day, 20 to 100 sessions (see `shard_size`)
    lint_timeout_s: float = 600.0

    @property
    def shard_size(self) -> int:
        """Sessions per shard. Each shard costs one linter start-up; below 100 sessions per shard a
        day has several shards, so that one shard is linted while the next is simulated."""
        return self.sessions_per_shard or min(100, max(20, self.sessions // 4))

    def __post_init__(self) -> None:
        date.fromisoformat(self.day)
        if self.sessions < 1:
            raise ValueError(f"sessions must be at least 1, got {self.sessions}")
        unknown = sorted(set(self.mix) - set(MISTAKE_KINDS))
        if unknown:
            raise ValueError(
                f"unknown mistake kinds in mix: {', '.join(unknown)} (known: {', '.join(MISTAKE_KINDS)})"
            )
        if not any(w > 0 for w in self.mix.values()):
            raise ValueError("the mistake mix needs at least one kind with a positive weight")


def _hash_id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:12]


def _day_start_ms(day: str) -> int:
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _day_after(day: str, days: int = 1) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


@dataclass
class SimulatedRepl:
    """A project simulated up to the end of one day: its sessions by the day they started on, and
    how many sessions it has in all (counted against the budget of the day it began)."""

    simulator: ReplSimulator
    sessions_by_day: dict[str, list[str]]
    planned: int

    @property
    def sessions(self) -> list[str]:
        """The sessions of the last day simulated (the day this project is written into)."""
        return self.sessions_by_day[max(self.sessions_by_day)] if self.sessions_by_day else []


def simulate_repl(
    number: int,
    config: SimulationConfig,
    sources: list[Path],
    root: Path,
    budget: int,
    until: str | None = None,
) -> SimulatedRepl:
    """Project `number` begun on `config.day` with up to `budget` sessions, simulated without
    diagnostics (the publish points are linted per shard) up to the end of day `until` (default:
    its whole life). Its own random stream makes it independent of the others."""
    rng = random.Random(f"{config.seed}/{config.day}/{number}")
    project = None
    for _ in range(50):
        project = build_project(
            rng.choice(sources),
            root,
            rng,
            min_lines=config.min_lines,
            max_lines=config.max_lines,
            multi_file_rate=config.multi_file_rate,
        )
        if project is not None:
            break
    if project is None:
        raise RuntimeError(
            f"no usable project in 50 tries from {root} (project {number}): a project needs a module with a "
            f"function or class whose module-level dependencies come to {config.min_lines}-{config.max_lines} lines"
        )
    repl = _hash_id("repl-", config.seed, config.day, number)
    sim = ReplSimulator(
        repl,
        project,
        rng,
        user=_hash_id("u-", config.seed, config.day, number),
        mix=config.mix,
        timing=config.timing,
        behaviour=config.behaviour,
    )
    weights = config.behaviour.session_count_weights
    count = min(budget, len(sim.order), rng.choices(range(1, len(weights) + 1), weights=weights)[0])
    cuts = sorted(rng.sample(range(1, len(sim.order)), count - 1)) if count > 1 else []
    bounds = [0, *cuts, len(sim.order)]
    day = config.day
    start = _day_start_ms(day) + rng.randint(*FIRST_SESSION_WINDOW_MS)
    sessions: dict[str, list[str]] = {}
    for k in range(count):
        if k and (start > _day_start_ms(day) + LAST_SESSION_START_MS or rng.random() < config.next_day_rate):
            day = _day_after(day)  # too late today, or done for the day: the project continues tomorrow
            start = _day_start_ms(day) + rng.randint(*FIRST_SESSION_WINDOW_MS)
        if until is not None and day > until:
            break
        session = _hash_id("s-", config.seed, config.day, number, k)
        end = sim.run_session(session, start, sim.order[bounds[k] : bounds[k + 1]])
        sessions.setdefault(day, []).append(session)
        start = end + rng.randint(20 * 60_000, 3 * 3_600_000)
    sim.finish()
    return SimulatedRepl(sim, sessions, count)


def _diagnostic_events(point: PublishPoint, repl: str, diagnostics: list[Diagnostic]) -> list[dict[str, Any]]:
    """One event per diagnostic of a publish. Two diagnostics with the same rule and range would be
    the same event to ingest (its ids leave the message out): the first one stands for both."""
    unique = {
        (d.source, d.code, d.start_line, d.start_character, d.end_line, d.end_character): d
        for d in reversed(diagnostics)
    }
    return [
        {
            "v": 1,
            "session": point.session,
            "repl": repl,
            "ts": point.ts,
            "kind": "lsp_diagnostic",
            "file": point.file,
            "version": point.version,
            **d.to_event_fields(),
        }
        for d in diagnostics
        if unique[(d.source, d.code, d.start_line, d.start_character, d.end_line, d.end_character)] is d
    ]


@dataclass
class _LintedShard:
    """A shard's publish points with their diagnostics (None where the linters failed on a state)."""

    points: list[PublishPoint]
    owner: list[int]  # index of the project (in the shard) each point belongs to
    results: list[list[Diagnostic] | None]
    caused: dict[int, list[dict[str, Any]] | None]  # per mistake (by id): what it made the server report
    as_written: list[list[Diagnostic] | None]  # per project file (`_written_files`): the errors of the code as meant
    distinct: int  # states actually linted: identical ones are linted once
    seconds: float


def _lint_shard(repls: list[SimulatedRepl], timeout_s: float) -> _LintedShard:
    """Lints the shard's publish points and, for the ground truth, each mistake's broken and clean
    states (the broken one is usually a publish point too, and identical states are linted once)."""
    started = time.perf_counter()
    points: list[PublishPoint] = []
    owner: list[int] = []
    for i, r in enumerate(repls):
        today = set(r.sessions)  # a continued project: only this day's sessions are written
        mine = [p for p in r.simulator.publishes if p.session in today]
        points.extend(mine)
        owner.extend([i] * len(mine))
    mistakes = [m for r in repls for m in _mistakes_of_the_day(r)]
    keys = [(tuple(sorted(p.files.items())), p.file) for p in points]
    for m in mistakes:
        for text in (m.before_fix, m.clean_fix):
            keys.append((tuple(sorted({**m.context, m.file: text or ""}.items())), m.file))
    written = [(r, path, project) for r in repls for path, project in _written_files(r.simulator)]
    keys += [(tuple(sorted(project.items())), path) for _, path, project in written]
    distinct = list(dict.fromkeys(keys))
    results = lint_batch([dict(k[0]) for k in distinct], [k[1] for k in distinct], timeout_s=timeout_s)
    by_key = {k: (r.diagnostics if r.ok else None) for k, r in zip(distinct, results, strict=True)}
    found = [by_key[k] for k in keys]
    caused = {
        id(m): _caused(found[len(points) + 2 * j], found[len(points) + 2 * j + 1], m.before_fix or "")
        for j, m in enumerate(mistakes)
    }
    as_written = found[len(points) + 2 * len(mistakes) :]
    return _LintedShard(
        points, owner, found[: len(points)], caused, as_written, len(distinct), time.perf_counter() - started
    )


def _mistakes_of_the_day(r: SimulatedRepl) -> list[MistakeRecord]:
    today = set(r.sessions)
    return [m for m in r.simulator.mistakes if m.session in today]


def _written_files(sim: ReplSimulator) -> list[tuple[str, dict[str, str]]]:
    """Each file the user wrote, with the project as the user meant it (every mistake undone): the
    errors linted there are the code's own (names its source module defined elsewhere, say), errors
    the user sees and leaves, not mistakes or typing in progress."""
    meant = {f.path: "".join(f.intended) for f in sim.files if f.version}
    return [(path, meant) for path in meant]


def _as_written_rows(sim: ReplSimulator, diagnostics: list[list[Diagnostic] | None]) -> list[dict[str, Any]]:
    rows = []
    for (path, project), found in zip(_written_files(sim), diagnostics, strict=True):
        lines = project[path].split("\n")
        rows.append({
            "repl": sim.repl, "file": path,
            "diagnostics": None if found is None else [
                {"source": d.source, "code": d.code, "line": d.line1, "message": d.message,
                 "text": lines[d.start_line] if d.start_line < len(lines) else ""}
                for d in found
            ],
        })  # fmt: skip
    return rows


def _caused(
    broken: list[Diagnostic] | None, clean: list[Diagnostic] | None, broken_text: str
) -> list[dict[str, Any]] | None:
    """The diagnostics of the broken state that the clean fix makes go away (None: lint failed),
    with the text of the line each is on."""
    if broken is None or clean is None:
        return None
    after = {(d.source, d.code, d.message) for d in clean}
    lines = broken_text.split("\n")
    return [
        {"source": d.source, "code": d.code, "line": d.line1, "message": d.message, "has_code_action": d.has_code_action,
         "text": lines[d.start_line] if d.start_line < len(lines) else ""}
        for d in broken
        if (d.source, d.code, d.message) not in after
    ]  # fmt: skip


def _lines_of(record: MistakeRecord, diff_lines: tuple[int, ...]) -> list[dict[str, Any]]:
    """The broken lines (1-based, in the state before the fix) with their text."""
    lines = (record.before_fix or "").split("\n")
    numbers = [n for n in diff_lines if n <= len(lines)]
    if record.kind == "missing_import":  # the broken lines are where the missing name is used
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, record.needs_use_of)) + r")\b")
        numbers = [
            i + 1
            for i, line in enumerate(lines)
            if pattern.search(line) and not line.lstrip().startswith(("import ", "from ", "#"))
        ][:3]
    return [{"line": n, "text": lines[n - 1]} for n in numbers]


def _ground_truth_row(record: MistakeRecord, caused: list[dict[str, Any]] | None) -> dict[str, Any]:
    clean = make_diff(record.before_fix or "", record.clean_fix or "")
    user = make_diff(record.before_fix or "", record.user_fix) if record.user_fix is not None else None
    return {
        "repl": record.repl,
        "session": record.session,
        "file": record.file,
        "kind": record.kind,
        "deterministic_fix": record.kind in DETERMINISTIC_FIX_KINDS,
        "outcome": record.outcome,
        "introduced_version": record.introduced_version,
        "introduced_ts": record.introduced_ts,
        "fixed_session": record.fixed_session,
        "fixed_version": record.fixed_version,
        "fixed_ts": record.fixed_ts,
        "broken_version": record.broken_version,
        "broken_lines": _lines_of(record, clean.removed or clean.touched),
        "clean_diff": render_diff(clean),
        "user_diff": render_diff(user) if user is not None else None,
        "diagnostics": caused,
    }


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows).encode(
        "utf-8"
    )


def _write_shard(
    store: ObjectStore,
    config: SimulationConfig,
    shard_no: int,
    repls: list[SimulatedRepl],
    linted: _LintedShard,
    summary: SimulationSummary,
) -> None:
    shard = f"shard-{shard_no:05d}"
    points, owner, results = linted.points, linted.owner, linted.results
    summary.lint_seconds += linted.seconds
    summary.lint_states += linted.distinct
    summary.lint_errors += sum(1 for r in results if r is None)
    lines: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    written: list[dict[str, Any]] = []
    as_written = iter(linted.as_written)
    for i, r in enumerate(repls):
        sim = r.simulator
        mine = [(p, d) for p, d, o in zip(points, results, owner, strict=True) if o == i]
        diag_events = [e for p, d in mine if d for e in _diagnostic_events(p, sim.repl, d)]
        by_session: dict[str, list[dict[str, Any]]] = {s: [] for s in r.sessions}
        feedback = simulated_feedback(sim.mistakes, linted.caused, config.seed)  # repair.simulate.feedback
        for event in sim.events + diag_events + feedback:
            if event["session"] in by_session:
                by_session[event["session"]].append(event)
        edited = set()
        for session in r.sessions:
            events = sorted(by_session[session], key=lambda e: (e["ts"], KIND_RANK[e["kind"]]))
            lines.extend(events)
            edited |= {e["file"] for e in events if e["kind"] == "ot"}
            _session_stats(events, summary)
        for f in sim.files:
            if f.version:
                key = f"snapshots/{sim.repl}/{f.path}"
                store.write_text(key, f.flushed)
                summary.snapshot_keys.append(key)
            if f.path in edited:  # the copy as of this day, for re-checking an old day
                store.write_text(f"snapshots/date={config.day}/{sim.repl}/{f.path}", f.flushed)
        if min(r.sessions_by_day) < config.day:
            summary.continued_repls += 1
            summary.continued_sessions += len(r.sessions)
        written += _as_written_rows(sim, [next(as_written) for _ in _written_files(sim)])
        for record in _mistakes_of_the_day(r):
            truth.append(_ground_truth_row(record, linted.caused[id(record)]))
            summary.mistakes_by_kind[record.kind] += 1
            summary.outcomes[record.outcome] += 1
        summary.repls += 1
        summary.sessions += len(r.sessions)
    for event in lines:
        summary.events_by_kind[event["kind"]] += 1
        if event["kind"] == "lsp_diagnostic":
            summary.diagnostics_by_rule[f"{event['source']}:{event['code']}"] += 1
    shard_key = f"sessions/date={config.day}/{shard}.jsonl.gz"
    store.write_bytes(shard_key, gzip.compress(_jsonl(lines), compresslevel=6, mtime=0))
    truth_key = f"ground_truth/date={config.day}/{shard}.jsonl"
    store.write_bytes(truth_key, _jsonl(truth))
    store.write_bytes(f"{AS_WRITTEN_PREFIX}/date={config.day}/{shard}.jsonl", _jsonl(written))
    summary.shard_keys.append(shard_key)
    summary.ground_truth_keys.append(truth_key)


def _session_stats(events: list[dict[str, Any]], summary: SimulationSummary) -> None:
    packets = [e for e in events if e["kind"] == "ot"]
    summary.session_stats.append(
        {
            "minutes": (events[-1]["ts"] - events[0]["ts"]) / 60_000 if events else 0.0,
            "events": len(events),
            "packets": len(packets),
            "diagnostics": sum(1 for e in events if e["kind"] == "lsp_diagnostic"),
        }
    )
    session_no = len(summary.session_stats)
    for p in packets:
        inserted = sum(len(op["insert"]) for op in p["ops"] if "insert" in op)
        deleted = sum(op["delete"] for op in p["ops"] if "delete" in op)
        summary.packets.append((session_no, p["ts"], inserted, deleted))


def _projects_of_the_day(
    store: ObjectStore, config: SimulationConfig, sources: list[Path], root: Path
) -> Iterator[SimulatedRepl]:
    """The projects with sessions on `config.day`: first those begun on the days before that continue
    today (when every day since they began is in the store), then the ones begun today, until today's
    budget of sessions is spent."""
    for back in range(PROJECT_DAYS - 1, 0, -1):
        began = _day_after(config.day, -back)
        if not all(
            any(k.endswith(SHARD_SUFFIXES) for k in store.list(f"sessions/date={_day_after(began, d)}/"))
            for d in range(back)
        ):
            continue
        earlier = dataclasses.replace(config, day=began)
        remaining, number = config.sessions, 0
        while remaining > 0:
            project = simulate_repl(number, earlier, sources, root, remaining, until=config.day)
            number += 1
            remaining -= project.planned
            if config.day in project.sessions_by_day:
                yield project
    remaining, number = config.sessions, 0
    while remaining > 0:
        project = simulate_repl(number, config, sources, root, remaining, until=config.day)
        number += 1
        remaining -= project.planned
        yield project


def simulate_partition(
    store: ObjectStore, config: SimulationConfig, progress: Callable[[str], None] | None = None
) -> SimulationSummary:
    """Simulates the sessions of `config.day` (those of the `config.sessions` sessions of the projects
    begun that day that fall on it, and the continued sessions of projects begun on the days before)
    and writes the partition into `store`."""
    started = time.perf_counter()
    root = Path(config.source) if config.source else stdlib_dir()
    sources = list(iter_source_files(root))
    if not sources:
        raise FileNotFoundError(f"no Python source files under {root}")
    summary = SimulationSummary(day=config.day)
    for key in (
        store.list(f"sessions/date={config.day}/")
        + store.list(f"ground_truth/date={config.day}/")
        + store.list(f"snapshots/date={config.day}/")
        + store.list(f"{AS_WRITTEN_PREFIX}/date={config.day}/")
    ):
        store.delete(key)  # a rerun replaces the partition instead of mixing two
    shard_no = 0
    batch: list[SimulatedRepl] = []
    in_batch = 0
    # The linters of one shard (subprocesses) run while the next shard is simulated (Python).
    with ThreadPoolExecutor(max_workers=1) as linter:
        waiting: tuple[int, list[SimulatedRepl], Future[_LintedShard]] | None = None

        def finish(item: tuple[int, list[SimulatedRepl], Future[_LintedShard]]) -> None:
            number_of_shard, repls, future = item
            _write_shard(store, config, number_of_shard, repls, future.result(), summary)
            if progress:
                progress(
                    f"{summary.sessions} sessions written ({summary.continued_sessions} continued from earlier "
                    f"days), {summary.events} events, {summary.diagnostics} diagnostics "
                    f"({time.perf_counter() - started:.0f} s)"
                )

        def flush() -> None:
            nonlocal waiting, shard_no, batch, in_batch
            future = linter.submit(_lint_shard, batch, config.lint_timeout_s)
            if waiting is not None:
                finish(waiting)
            waiting = (shard_no, batch, future)
            if progress:
                states = sum(len(r.simulator.publishes) for r in batch)
                progress(f"shard {shard_no}: {in_batch} sessions simulated, linting {states} states")
            shard_no += 1
            batch, in_batch = [], 0

        for simulated in _projects_of_the_day(store, config, sources, root):
            batch.append(simulated)
            in_batch += len(simulated.sessions)
            if min(simulated.sessions_by_day) == config.day:
                summary.sessions_begun += simulated.planned
            if in_batch >= config.shard_size:
                flush()
        if batch:
            flush()
        if waiting is not None:
            finish(waiting)
    report, summary.realism = realism_report(summary)
    summary.report_key = f"sessions/date={config.day}/REALISM.md"
    store.write_text(summary.report_key, report + "\n")
    summary.seconds = time.perf_counter() - started
    return summary
