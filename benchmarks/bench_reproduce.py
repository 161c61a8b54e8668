"""Reproduction throughput (issue 17): the states per second the `reproduced_diagnostics` stage lints
on one stored day, today's batched path (`linting="batch"`: batches of 200 states, one ruff and one
basedpyright process per batch) side by side with the warm path (`linting="warm"`: one warm language
server per worker checks the states one by one as new documents, keeping its type cache; ruff batched),
all through `repair.reproduce.reproduce` in one run: both on `BENCH_REPRODUCE_EXECUTOR` (default
`serial`: one worker each, so that the per-call time allowance can be raised, see `main`), then the
warm path on the stage's pool of 2 workers (one warm server per core: the figure for the machine).
It checks that every path gives every state the batched path's diagnostics and the day the same
outcome, measures the stage's own CPU without linting (filtering and matching, paid by every path)
and times ruff alone on the same states (its share of the work). Then it profiles basedpyright on
the same states (the batched tree): one CLI call on all of them with `--stats` (its phases) against
a call on one state (the start-up), which gives the CPU a state costs beyond the start-up, the
ceiling that puts on states/s, and where it goes. Last, one warm server alone on the same states
three ways (`SERVER_VARIANTS`: new documents as the warm path, each later state of a file as an edit
of its open document, every rule off), its own CPU a state read from the process.

The day: `BENCH_REPRODUCE_STORE` (default `.data/store`, e.g. a copy of the demo's store) and
`BENCH_REPRODUCE_DAY` (default: the latest day with `error_states`); with no stored day, one is
simulated (`BENCH_REPRODUCE_SESSIONS`, default 120, the demo's size) and ingested there.
`BENCH_REPRODUCE_ALL=1` lints every distinct state (no settle or one-state-per-mistake filter: more
states per file). Writes the section "## Reproduction throughput" of benchmarks/RESULTS.md
(`BENCH_REPRODUCE_NO_WRITE=1`: only prints).

Run: `uv run python -m benchmarks bench_reproduce`.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Self

import polars as pl
import psutil

from benchmarks import results as results_md
from benchmarks.results import load_words
from repair import reproduce as rp
from repair.ingest import blobs_key, load_context
from repair.ingest.frames import read_frame, write_frame
from repair.ingest.logs import read_partition
from repair.ingest.states import build_error_states
from repair.ingest.timelines import build_timelines
from repair.lint import DEFAULT_CONFIG, DEFAULT_MAX_FILE_BYTES, FileState, LintConfig, LintResult, lint_batch
from repair.lint import batch as batch_module
from repair.lint.incremental import version_order
from repair.lint.normalize import pyright_diagnostics, sort_diagnostics
from repair.lint.tools import basedpyright_command
from repair.lint.warm import pull_diagnostics, start_server
from repair.object_store import LocalObjectStore, ObjectStore
from repair.simulate import SimulationConfig, simulate_partition

SECTION = "## Reproduction throughput"
GOAL = 100.0


class CpuMeter:
    """CPU seconds of this process and its descendants (pool workers live under the forkserver,
    so `RUSAGE_CHILDREN` misses them): a thread samples every descendant's CPU time, keeping each
    one's last reading (a process's last fraction of a sampling period before it exits is lost)."""

    def __init__(self, period_s: float = 0.1):
        self.period_s = period_s
        self._seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.period_s):
            for child in me.children(recursive=True):
                try:
                    times = child.cpu_times()
                    self._seen[(child.pid, child.create_time())] = times.user + times.system
                except psutil.Error:
                    continue

    def __enter__(self) -> Self:
        own = resource.getrusage(resource.RUSAGE_SELF)
        self._own = own.ru_utime + own.ru_stime
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.seconds = own.ru_utime + own.ru_stime - self._own + sum(self._seen.values())


@dataclass
class Run:
    mode: str
    executor: str
    states: int
    seconds: float
    cpu: float
    load: tuple[float, float]
    outcome: rp.Reproduction
    linted: list[tuple[FileState, LintResult]]

    @property
    def per_second(self) -> float:
        return self.states / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.states / self.cpu


def load_day(store: ObjectStore, day: str | None, sessions: int) -> tuple[str, pl.DataFrame, pl.DataFrame, list[dict]]:
    stored = sorted(key.rsplit("/", 1)[-1].removesuffix(".parquet") for key in store.list("assets/error_states/")
                    if not key.endswith(".blobs.parquet"))  # fmt: skip
    day = day or (stored[-1] if stored else "2026-12-01")
    if day in stored:
        rows = read_frame(store, f"assets/error_states/{day}.parquet")
        timelines = read_frame(store, f"assets/session_timelines/{day}.parquet")
    else:
        print(f"no error_states for {day} in {store.uri('')}: simulating {sessions} sessions", flush=True)
        simulate_partition(store, SimulationConfig(day=day, sessions=sessions), progress=print)
        timelines = build_timelines(read_partition(store, day).events)
        built = build_error_states(timelines)
        rows = built.states
        write_frame(store, blobs_key(day), built.blobs)
    return day, rows, timelines, load_context(store, day, rows)


def measure(mode: str, rows, contexts, timelines, settings: rp.ReproduceSettings) -> Run:
    """One reproduction of the day with `linting=mode` on `settings.executor`, recording what was
    linted."""
    linted: list[tuple[FileState, LintResult]] = []
    lint = rp.lint

    def recording(states, settings, **kw):
        found = lint(states, settings, **kw)
        linted.extend(zip(states, found, strict=True))
        return found

    rp.lint = recording  # reproduce looks `lint` up when it calls it
    load_before, started = os.getloadavg()[0], time.perf_counter()
    try:
        with CpuMeter() as cpu:
            outcome = rp.reproduce(rows, contexts, replace(settings, linting=mode), timelines=timelines)
    finally:
        rp.lint = lint
    seconds = time.perf_counter() - started
    run = Run(mode, settings.executor, outcome.states_linted, seconds, cpu.seconds, (load_before, os.getloadavg()[0]), outcome, linted)
    print(f"{mode} ({run.executor}): {run.states} states in {seconds:.1f} s = {run.per_second:.1f} states/s, "
          f"{run.per_cpu_second:.1f} per CPU-second, load {run.load[0]:.1f} -> {run.load[1]:.1f}", flush=True)
    return run


def filtering_cpu(rows, contexts, timelines, settings: rp.ReproduceSettings) -> float:
    """CPU seconds of the stage without its linting (every state given an empty result): the
    filtering before it (settle, left unfixed, one state per mistake) and the matching after it,
    which every path pays alike."""
    lint = rp.lint
    rp.lint = lambda states, settings, **kw: [LintResult() for _ in states]
    try:
        with CpuMeter() as cpu:
            rp.reproduce(rows, contexts, settings, timelines=timelines)
    finally:
        rp.lint = lint
    print(f"the stage without linting: {cpu.seconds:.1f} s CPU", flush=True)
    return cpu.seconds


def _outcome(run: Run) -> tuple:
    o = run.outcome
    return o.counts, o.rule_rates, sorted(o.kept["diagnostic_id"].to_list()), o.dropped.sort("diagnostic_id").to_dicts()


def compare(batch: Run, warm: Run) -> dict[str, int]:
    by_state = {(s.file_id, s.order, s.target): r for s, r in batch.linted}
    same = differ = 0
    for state, result in warm.linted:
        other = by_state[(state.file_id, state.order, state.target)]
        if (other.error, other.diagnostics) == (result.error, result.diagnostics):
            same += 1
        else:
            differ += 1
    return {
        "states": len(warm.linted), "same": same, "differ": differ,
        "diagnostics": sum(len(r.diagnostics) for _, r in warm.linted),
        "outcome_equal": int(_outcome(batch) == _outcome(warm)),
    }  # fmt: skip


def ruff_alone(states: list[FileState]) -> tuple[float, float]:
    """Wall and CPU seconds of ruff alone on the states, batched in one process."""
    started = time.perf_counter()
    with CpuMeter(period_s=0.01) as cpu:
        lint_batch([s.files for s in states], [s.target for s in states], tools=("ruff",))
    return time.perf_counter() - started, cpu.seconds


PHASES = ("Tokenize", "Parse", "Resolve Imports", "Bind", "Check")


@dataclass
class Profile:
    states: int
    cpu_all: float  # CPU s of one CLI call on every state
    cpu_one: float  # CPU s of one CLI call on one state: the start-up
    phases: dict[str, float]  # --stats seconds per phase, the call on every state less the one-state call

    @property
    def per_state_ms(self) -> float:
        """CPU a state costs beyond the start-up."""
        return 1000 * (self.cpu_all - self.cpu_one) / max(self.states - 1, 1)


def _pyright_stats(states: list[FileState]) -> tuple[float, dict[str, float]]:
    """CPU seconds and `--stats` phase seconds of one basedpyright CLI call on the batched tree of
    `states`."""
    root = Path(tempfile.mkdtemp(prefix="bench-reproduce-")).resolve()
    try:
        jobs = [(f"p{i:06d}", s.files, s.target) for i, s in enumerate(states)]
        batch_module.write_tree(root, jobs, DEFAULT_CONFIG, DEFAULT_MAX_FILE_BYTES, [LintResult() for _ in jobs])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([*basedpyright_command(), "--stats", "--project", str(root / "pyrightconfig.json")],
                              check=False, cwd=root, capture_output=True, text=True)  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    phases = {name: float(m.group(1)) for name in PHASES
              if (m := re.search(rf"^{name}:\s+([\d.]+)sec", done.stdout, re.MULTILINE))}  # fmt: skip
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, phases


def profile(states: list[FileState]) -> Profile:
    cpu_one, phases_one = _pyright_stats(states[:1])
    cpu_all, phases_all = _pyright_stats(states)
    phases = {name: max(0.0, phases_all[name] - phases_one.get(name, 0.0)) for name in phases_all}
    found = Profile(len(states), cpu_all, cpu_one, phases)
    print(f"profile: {found}, {found.per_state_ms:.0f} ms a state beyond start-up", flush=True)
    return found


SERVER_VARIANTS = {
    "as the warm path: each state a new document in its own folder": "documents",
    "each later state of a file as an edit of its one open document (didChange)": "edits",
    "as the warm path, every pyright rule off (typeCheckingMode off)": "rules_off",
}


def _server_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def server_variant(states: list[FileState], how: str) -> tuple[float, float, list[list]]:
    """One warm language server on `states` (a file's states in version order), checked `how`
    (`SERVER_VARIANTS`): the server's own CPU seconds from its first state to its last (its
    start-up excluded), that of its first state (the standard library's stubs parsed and bound), and
    each state's basedpyright diagnostics, in input order."""
    config = LintConfig(type_checking_mode="off") if how == "rules_off" else DEFAULT_CONFIG
    order = version_order(states)
    first_of_file: dict[str, int] = {}
    for index in order:
        first_of_file.setdefault(states[index].history, index)
    # "edits": one folder per file, written with the file's first state; otherwise one per state.
    folder = {i: f"f{first_of_file[s.history]:06d}" if how == "edits" else f"s{i:06d}" for i, s in enumerate(states)}
    jobs = [(folder[i], states[i].files, states[i].target) for i in sorted(set(first_of_file.values()))] \
        if how == "edits" else [(folder[i], s.files, s.target) for i, s in enumerate(states)]  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="bench-reproduce-server-")).resolve()
    found: list[list] = [[] for _ in states]
    try:
        batch_module.write_tree(root, jobs, config, DEFAULT_MAX_FILE_BYTES, [LintResult() for _ in jobs])
        client = start_server(root, 120)
        try:
            started = _server_cpu(client.pid)
            first = None
            for version, index in enumerate(order, 1):
                state = states[index]
                text = str(state.files[state.target])
                uri = (root / folder[index] / state.target).as_uri()
                if how == "edits" and first_of_file[state.history] != index:
                    change = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}
                    client.notify("textDocument/didChange", change)
                else:
                    document = {"uri": uri, "languageId": "python", "version": version, "text": text}
                    client.notify("textDocument/didOpen", {"textDocument": document})
                found[index] = sort_diagnostics(pyright_diagnostics(pull_diagnostics(client, uri, 600), text, config))
                if first is None:
                    first = _server_cpu(client.pid) - started
            cpu = _server_cpu(client.pid) - started
        finally:
            client.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return cpu, first or 0.0, found


def server_variants(run: Run) -> list[tuple[str, float, float, int]]:
    """Each `SERVER_VARIANTS` entry on the states `run` linted: (variant, server CPU s, CPU s of the
    first state, states whose basedpyright diagnostics equal `run`'s)."""
    states = [s for s, _ in run.linted]
    expected = [[d for d in r.diagnostics if d.source == "pyright"] for _, r in run.linted]
    rows = []
    for label, how in SERVER_VARIANTS.items():
        cpu, first, found = server_variant(states, how)
        same = sum(a == b for a, b in zip(found, expected, strict=True))
        print(f"server {how}: {cpu:.1f} s CPU, first state {first:.1f} s, {same} of {len(states)} same", flush=True)
        rows.append((label, cpu, first, same))
    return rows


def render_server(rows: list[tuple[str, float, float, int]], states: int) -> str:
    table = "\n".join(
        f"| {label} | {cpu:.1f} | {first:.1f} | **{1000 * (cpu - first) / max(states - 1, 1):.0f}** | {same} of {states} |"
        for label, cpu, first, same in rows
    )
    return f"""What the warm server itself spends (one `basedpyright-langserver` on the same {states} states, one
state after another, a file's states in version order; the server's CPU from its first state to its
last, read from the process; its first state pays for parsing and binding the standard library's
stubs; the last column compares its basedpyright diagnostics with the warm path's above):

| how the states reach the server | server CPU s | first state CPU s | ms of CPU a later state | same basedpyright diagnostics |
| --- | --- | --- | --- | --- |
{table}

Edits cost more than new documents because every change makes the server build a new type evaluator
(`Program.markFilesDirty` -> `_createNewEvaluator`), so each state evaluates typeshed's types again;
a new document leaves the evaluator and its cache alone. Turning every rule off saves little: the
checker evaluates every expression's type whatever rules report, and that evaluation (calls,
overloads, constructors against typeshed) is the per-state cost.
"""


def render_profile(found: Profile, ruff: tuple[float, float], best: Run) -> str:
    total = sum(found.phases.values()) or 1.0
    ruff_ms = 1000 * ruff[1] / max(found.states, 1)
    ceiling = 2 * 1000 / (found.per_state_ms + ruff_ms)
    phases = "\n".join(
        f"| {name} | {seconds:.2f} | {seconds / total:.0%} | {found.per_state_ms * seconds / total:.0f} |"
        for name, seconds in found.phases.items()
    )
    return f"""Where a state's time goes (basedpyright CLI on the same {found.states} states, the batched tree: one call on
all of them against one call on a single state, both with `--stats`, measured after the two paths):
start-up {found.cpu_one:.2f} s CPU a call; {found.cpu_all:.1f} s CPU for all, i.e. **{found.per_state_ms:.0f} ms of CPU a state** beyond
the start-up; ruff {ruff_ms:.0f} ms a state. With no start-up, no Python and both cores busy, that caps the rate at
**~{ceiling:.0f} states/s** at this load (goal {GOAL:.0f}: a state must cost at most {2000 / GOAL:.0f} ms of CPU in all).
basedpyright's phases beyond the start-up (`--stats` of the call on all states less the one-state
call's, wall seconds, so inflated by the load alike; the last column spreads the per-state CPU over
them):

| phase | seconds | share | ms of CPU a state |
| --- | --- | --- | --- |
{phases}

`Check` is the type evaluation of each state's own code against typeshed (overloads, calls), i.e.
the work that produces the diagnostics; its cache is shared across the states of a call, not
across calls. `Resolve Imports` is paid per state because every state is its own execution root
and each new root rescans the environment's search paths for partial stub packages, which empties
basedpyright's directory cache (`ensurePartialStubPackages` -> `_invalidateFileSystemCache`), so the
standard library's and site-packages' folders are listed again for each state. Best measured path
above: {best.mode}, {best.per_cpu_second:.1f} states per CPU-second.
"""


def render(day: str, rows: pl.DataFrame, runs: list[Run], same: list[dict[str, int]], ruff: tuple[float, float],
           all_states: bool, total_s: float, filtering: float) -> str:  # fmt: skip
    batch, warm = runs[:2]
    states = [s for s, _ in warm.linted]
    per_file = list(pl.Series([s.history for s in states]).value_counts()["count"]) if states else [0]
    lines = statistics.median(str(s.files[s.target]).count("\n") for s in states) if states else 0
    best = max(runs, key=lambda r: r.per_second)
    table = "\n".join(
        f"| {r.mode} | {r.executor} | {r.states} | {r.seconds:.1f} | **{r.per_second:.1f}** | {r.cpu:.1f} "
        f"| {r.per_cpu_second:.1f} | {1000 * max(r.cpu - filtering, 0.0) / max(r.states, 1):.0f} "
        f"| {r.per_second / batch.per_second:.2f}x | {r.load[0]:.1f} -> {r.load[1]:.1f} |"
        for r in runs
    )
    compared = "; ".join(
        f"{r.mode} ({r.executor}) {c['same']} of {c['states']} states identical ({c['differ']} differ; "
        f"{c['diagnostics']:,} diagnostics), outcome {'identical' if c['outcome_equal'] else '**different**'}"
        for r, c in zip(runs[1:], same, strict=True)
    )
    filters = ("every distinct state (no settle or one-state-per-mistake filter)" if all_states
               else "the states the stage lints with its defaults (settled, last state of each mistake)")  # fmt: skip
    return f"""{SECTION}

`uv run python -m benchmarks bench_reproduce`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()},
{os.cpu_count()} CPUs, {load_words(batch.load[0], runs[-1].load[1])}.
Day {day}: {rows.height:,} `error_states` rows; {filters}: {warm.states} states of
{len(per_file)} files ({statistics.mean(per_file):.1f} states per file, at most {max(per_file)}), {lines:.0f} lines at the median.
Every path through `repair.reproduce.reproduce` in one run ({total_s:.0f} s in all), batched first: `serial` is one
worker (one linter process at a time; under this load the batched path's per-call allowance must be raised, which only
this process sees), `process` the stage's pool of 2 workers (the warm path: one warm language server per core).
CPU counts this process and all its descendants (sampled every 0.1 s). The stage without its linting (filtering
before, matching after: every state given an empty result) costs {filtering:.1f} s of CPU, paid alike by every path;
the column "linting ms CPU a state" is a path's CPU less that, per state.

| linting | executor | states | wall s | states/s | CPU s | states per CPU-second | linting ms CPU a state | vs batch | load average |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
{table}

Same diagnostics as the batched path, state by state: {compared} (kept rows, quarantine, counts, rule rates).
ruff alone on the same states (one batched process):
{ruff[0]:.1f} s wall, {ruff[1]:.1f} s CPU, {ruff[1] / max(batch.cpu, 1e-9):.0%} of the batched path's CPU: basedpyright is the cost.

Goal >= {GOAL:.0f} states/s on 2 cores: **{"met" if best.per_second >= GOAL else "not met"}** here ({best.per_second:.1f} states/s,
{best.mode} on `{best.executor}`; {best.per_cpu_second:.1f} states per CPU-second, i.e. at most ~{2 * best.per_cpu_second:.0f} states/s with both cores to itself
at this CPU cost per state).
"""


def main() -> None:
    store = LocalObjectStore(Path(os.environ.get("BENCH_REPRODUCE_STORE", ".data/store")))
    all_states = os.environ.get("BENCH_REPRODUCE_ALL") == "1"
    started = time.perf_counter()
    day, rows, timelines, contexts = load_day(
        store, os.environ.get("BENCH_REPRODUCE_DAY"), int(os.environ.get("BENCH_REPRODUCE_SESSIONS", "120"))
    )
    executor = os.environ.get("BENCH_REPRODUCE_EXECUTOR", "serial")
    settings = rp.ReproduceSettings(one_state_per_mistake=not all_states, executor=executor, timeout_s=3600.0)
    # On a machine loaded 20x, a batch call's allowance (30 s + 0.5 s a state) fires and bisects
    # the batch, which measures the timeouts, not the linting: in this process, allow 10 s a state.
    batch_module.LintBudget = partial(batch_module.LintBudget, per_state_s=10.0)
    timelines = None if all_states else timelines
    runs = [measure(mode, rows, contexts, timelines, settings) for mode in ("batch", "warm")]
    if executor == "serial":  # and one warm server per core, the stage's pool as it is
        runs.append(measure("warm", rows, contexts, timelines, replace(settings, executor="process", workers=2)))
    same = [compare(runs[0], run) for run in runs[1:]]
    print(f"same diagnostics: {same}", flush=True)
    filtering = filtering_cpu(rows, contexts, timelines, settings)
    ruff = ruff_alone([s for s, _ in runs[1].linted])
    found = profile([s for s, _ in runs[1].linted])
    server = server_variants(runs[1])
    body = render(day, rows, runs, same, ruff, all_states, time.perf_counter() - started, filtering)
    body += "\n" + render_profile(found, ruff, max(runs, key=lambda r: r.per_second))
    body += "\n" + render_server(server, len(runs[1].linted))
    print(body)
    if os.environ.get("BENCH_REPRODUCE_NO_WRITE") != "1":
        results_md.write_section(SECTION, body)


if __name__ == "__main__":
    main()
