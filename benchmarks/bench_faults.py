"""Fault injection (issue 18): kill -9 at seeded random points of a stage, run it again, and check
that the outputs are the same as an uninterrupted run's, nothing is lost, counts reconcile and (for
a rollout) the served version answered throughout.

Workloads (each runs in a child process, which is what gets SIGKILL):

- `publish`: `repair_dataset`'s publication (`repair.dataset.publish_dataset`) into a local object
  store. The child is killed at the k-th object write (k seeded at random over the writes of a clean
  run), before or after the write's rename; after every kill, the registry's current dataset must be a
  complete version; after the final run, its files equal a clean run's, row for row.
- `session_logs`: the `session_logs` asset (the ingest of one simulated day, with a shard of bad
  lines) materialized through Dagster on a persistent instance. The child is killed at the k-th call
  it makes on the store (listing, shard read or write; k seeded at random over a clean run's calls),
  before or after it; after every kill, an output that exists equals a clean run's (never half
  written); the rerun succeeds with both checks passing (`counts_reconcile`: lines read = events +
  quarantined) and outputs equal to a clean run's, every line accounted for.
- `rollout`: `repair.serving.rollout.roll_out` of version 2 against a live Triton serving version 1,
  killed after a seeded random delay while clients keep sending requests; after every kill the
  stored config and the serving pointer agree on a version that is loaded, and no request failed;
  the final run promotes version 2.

`uv run python -m benchmarks bench_faults` measures them and rewrites the `## Fault injection`
section of RESULTS.md; `tests/faults/` runs the same code with fewer kills.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from benchmarks import results

SECTION = "## Fault injection"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class FaultReport:
    workload: str
    seed: int
    kills: int = 0  # processes actually killed by SIGKILL
    recoveries: int = 0  # runs after a kill that completed with the expected outputs
    records_expected: int = 0
    records_final: int = 0
    invariant_violations: list[str] = field(default_factory=list)
    requests_failed: int = 0
    requests_answered: int = 0
    wall_s: float = 0.0

    @property
    def records_lost(self) -> int:
        return self.records_expected - self.records_final

    @property
    def ok(self) -> bool:
        return not self.invariant_violations and self.records_lost == 0 and self.requests_failed == 0

    def to_dict(self) -> dict:
        return {**asdict(self), "records_lost": self.records_lost, "ok": self.ok}


def _child(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_faults", "child", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# -- publish -----------------------------------------------------------------------------------


def _dataset():
    from benchmarks.make_synthetic_repairs import repairs_for_file
    from repair import dataset as ds
    from repair.corpus import iter_source_files, stdlib_dir

    root, rng = stdlib_dir(), random.Random(0)
    paths = [p for p in iter_source_files(root) if p.stat().st_size > 4000][:12]
    rows = [row for path in paths for row in repairs_for_file(path, root, 4, rng)]
    return ds.build_dataset(rows)


STORE_WRITES = ("write_bytes",)
# Every call a stage makes on its store: reads, listings and writes (a kill may land at any of them).
STORE_CALLS = ("list", "exists", "open_read", "read_bytes", "write_bytes")


def _sigkill_at_store_call(kill_at: int, after: bool, methods: tuple[str, ...]) -> Callable[[], int]:
    """Makes this process SIGKILL itself at its `kill_at`-th call (0: never) of one of the local
    store's `methods`: before the call (a write leaves half its temporary file behind, as a write cut
    short does) or after it. Returns a function that counts the calls made so far."""
    from repair.object_store import LocalObjectStore

    calls = 0

    def wrap(name: str):
        real = getattr(LocalObjectStore, name)

        def call(self, *args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == kill_at and not after:
                if name == "write_bytes":  # the temporary file is written, the rename never happens
                    key, data = args
                    path = self._path(key)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.with_name(f".{path.name}.tmp-{os.getpid()}").write_bytes(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            value = real(self, *args, **kwargs)
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return value

        return call

    for name in methods:
        setattr(LocalObjectStore, name, wrap(name))
    return lambda: calls


def _child_publish(built_file: str, store_dir: str, kill_at: int, after_rename: bool) -> None:
    """Publishes the dataset; SIGKILLs itself at its `kill_at`-th object write (0: never)."""
    import pickle
    import tempfile

    from repair import dataset as ds
    from repair import registry
    from resources.object_store import LocalObjectStore

    built = pickle.loads(Path(built_file).read_bytes())
    store = LocalObjectStore(store_dir)
    writes = _sigkill_at_store_call(kill_at, after_rename, STORE_WRITES)
    with tempfile.TemporaryDirectory() as tmp:
        # What the asset does: a candidate version, then approval (the registry's current dataset).
        record = ds.publish_dataset(
            store,
            built,
            {"counts": built.counts},
            Path(tmp) / "files",
            data_version="fault-injection",
            checks={},
        )
        record = registry.approve(store, record)
    print(json.dumps({"version": record.version, "writes": writes()}), flush=True)


def _published(store_dir: Path) -> tuple[dict | None, dict[str, list[str]]]:
    """The current (approved) dataset's record facts and, per jsonl split, the lines of its files."""
    from repair import registry
    from resources.object_store import LocalObjectStore

    store = LocalObjectStore(store_dir)
    try:
        record = registry.latest_approved(store, registry.DATASET)
    except (FileNotFoundError, LookupError, registry.RegistryError):
        return None, {}
    splits = {
        k.rsplit("/", 1)[1]: store.read_text(k).splitlines()
        for k in store.list(f"{record.prefix}/jsonl/")
        if k.endswith(".jsonl")
    }
    facts = {"version": record.version, "prefix": record.prefix, "rows": record.details.get("rows", {})}
    return facts, splits


def _check_published(store_dir: Path, report: FaultReport, when: str) -> dict[str, list[str]]:
    pointer, splits = _published(store_dir)
    if pointer is None:
        return {}
    rows = {name.removesuffix(".jsonl"): len(lines) for name, lines in splits.items() if lines}
    expected = {split: n for split, n in pointer["rows"].items() if n}
    if rows != expected:
        report.invariant_violations.append(
            f"{when}: the current dataset v{pointer['version']} has rows {expected}, its files hold {rows}"
        )
    from resources.object_store import LocalObjectStore

    if not LocalObjectStore(store_dir).exists(f"{pointer['prefix']}/card.json"):
        report.invariant_violations.append(f"{when}: the current dataset v{pointer['version']} has no card")
    return splits


def run_publish(work: Path, seed: int = 0, kills: int = 5) -> FaultReport:
    import pickle

    report = FaultReport("publish", seed)
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    built = str(work / "built.pickle")  # the dataset is built once; the children publish it
    Path(built).write_bytes(pickle.dumps(_dataset()))
    clean = _child(["publish", built, str(work / "clean"), "0", "0"])
    out, _ = clean.communicate(timeout=600)
    if clean.returncode != 0:
        raise RuntimeError(f"the clean publication failed: {out[-2000:]}")
    total_writes = json.loads(out.strip().splitlines()[-1])["writes"]
    reference = _check_published(work / "clean", report, "clean run")
    report.records_expected = sum(len(v) for v in reference.values())
    rng = random.Random(seed)
    for attempt in range(kills):
        store = work / f"faulty-{attempt}"  # each kill hits a publication from scratch
        kill_at, after = rng.randint(1, total_writes), rng.random() < 0.5
        child = _child(["publish", built, str(store), str(kill_at), str(int(after))])
        child.communicate(timeout=600)
        if child.returncode == -signal.SIGKILL:
            report.kills += 1
        _check_published(store, report, f"after kill {attempt + 1} (write {kill_at}/{total_writes})")
        final = _child(["publish", built, str(store), "0", "0"])  # the retry
        final.communicate(timeout=600)
        splits = _check_published(store, report, f"retry after kill {attempt + 1}")
        if final.returncode == 0 and splits == reference:
            report.recoveries += 1
        else:
            report.invariant_violations.append(
                f"retry after kill {attempt + 1}: outputs differ from a clean run"
            )
        report.records_final = sum(len(v) for v in splits.values())
    report.wall_s = time.perf_counter() - started
    return report


# -- session_logs -----------------------------------------------------------------------------

SESSION_LOGS_DAY = "2026-11-20"
SESSION_LOGS_OUTPUTS = ("assets/session_logs/{day}.parquet", "quarantine/session_logs/{day}.parquet")
# Lines a real day also brings (docs/formats.md section 1): each must be quarantined, never lost.
BAD_LINES = (
    b'{"v": 1, "session": "s-cut", "repl": "r-cut", "ts": 1, "kind": "ot", "fi',
    b"not json at all",
    b'{"v": 1, "session": "s-odd", "repl": "r-odd", "ts": 1, "kind": "telepathy"}',
    b"\xff\xfe invalid utf-8",
)


def _session_logs_input(work: Path, sessions: int, seed: int) -> Path:
    """A simulated day of `sessions` sessions (`repair simulate`), plus one shard of bad lines."""
    from repair.object_store import LocalObjectStore
    from repair.simulate import SimulationConfig, simulate_partition

    store = LocalObjectStore(work / "input")
    simulate_partition(store, SimulationConfig(day=SESSION_LOGS_DAY, sessions=sessions, seed=seed))
    store.write_bytes(f"sessions/date={SESSION_LOGS_DAY}/zz-redelivered.jsonl", b"\n".join(BAD_LINES) + b"\n")
    return store.root


def _child_session_logs(store_dir: str, dagster_home: str, kill_at: int, after: bool) -> None:
    """Materializes `session_logs` for the day through Dagster (a persistent instance, as a
    deployment has); SIGKILLs itself at its `kill_at`-th store call (0: never)."""
    os.environ["DAGSTER_HOME"] = dagster_home
    import dagster as dg

    from repair_assets.ingest import session_logs
    from resources.io_manager import ObjectStoreIOManager
    from resources.object_store import ObjectStoreResource

    store = ObjectStoreResource(backend="local", root=store_dir)
    calls = _sigkill_at_store_call(kill_at, after, STORE_CALLS)
    result = dg.materialize(
        [session_logs],
        partition_key=SESSION_LOGS_DAY,
        instance=dg.DagsterInstance.get(),
        resources={"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store)},
        raise_on_error=False,
    )
    (event,) = result.get_asset_materialization_events() or [None]
    metadata = {k: v.value for k, v in event.materialization.metadata.items()} if event else {}
    print(
        json.dumps(
            {
                "success": result.success,
                "calls": calls(),
                "checks": {e.check_name: e.passed for e in result.get_asset_check_evaluations()},
                **{k: metadata.get(k) for k in ("lines_read", "events", "quarantined")},
            }
        ),
        flush=True,
    )


def _session_logs_outputs(store_dir: Path) -> dict[str, object]:
    """The day's events and quarantine as frames (None: not written)."""
    from repair.ingest.frames import read_frame
    from repair.object_store import LocalObjectStore

    store = LocalObjectStore(store_dir)
    keys = [k.format(day=SESSION_LOGS_DAY) for k in SESSION_LOGS_OUTPUTS]
    return {key: read_frame(store, key) if store.exists(key) else None for key in keys}


def _records(outputs: dict[str, object]) -> set[tuple[str, int]]:
    """Every line accounted for, as (shard, line number), in the events or the quarantine."""
    return {
        row
        for frame in outputs.values()
        if frame is not None
        for row in frame.select("shard", "line_no").iter_rows()
    }


def run_session_logs(work: Path, seed: int = 0, kills: int = 5, sessions: int = 30) -> FaultReport:
    """`session_logs` of one simulated day: `kills` runs killed at a seeded random store call (of a
    clean run's), each on a fresh copy of the day and followed by a rerun."""
    import shutil

    report = FaultReport("session_logs", seed)
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    source = _session_logs_input(work, sessions, seed)

    def materialize(name: str, kill_at: int = 0, after: bool = False) -> tuple[subprocess.Popen, str]:
        store = work / name
        if not store.exists():
            shutil.copytree(source, store)
        (work / f"{name}-dagster").mkdir(exist_ok=True)
        child = _child(
            ["session_logs", str(store), str(work / f"{name}-dagster"), str(kill_at), str(int(after))]
        )
        out, _ = child.communicate(timeout=900)
        return child, out

    clean, out = materialize("clean")
    if clean.returncode != 0:
        raise RuntimeError(f"the clean session_logs run failed: {out[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    reference = _session_logs_outputs(work / "clean")
    records = _records(reference)
    report.records_expected = len(records)
    if summary["lines_read"] != len(records) or not all(summary["checks"].values()):
        raise RuntimeError(f"the clean session_logs run does not reconcile: {summary}")
    rng = random.Random(seed)
    for attempt in range(kills):
        name = f"faulty-{attempt}"
        kill_at, after = rng.randint(1, summary["calls"]), rng.random() < 0.5
        killed, _ = materialize(name, kill_at, after)
        when = f"after kill {attempt + 1} (store call {kill_at}/{summary['calls']}, {'after' if after else 'before'})"
        if killed.returncode == -signal.SIGKILL:
            report.kills += 1
        else:
            report.invariant_violations.append(f"{when}: the run was not killed (exit {killed.returncode})")
        for key, frame in _session_logs_outputs(work / name).items():
            if frame is not None and not frame.equals(reference[key]):
                report.invariant_violations.append(f"{when}: {key} is there but differs from a clean run's")
        rerun, out = materialize(name)
        outputs = _session_logs_outputs(work / name)
        final = json.loads(out.strip().splitlines()[-1]) if rerun.returncode == 0 else {}
        same = all(frame is not None and frame.equals(reference[key]) for key, frame in outputs.items())
        if final.get("success") and all(final["checks"].values()) and same:
            report.recoveries += 1
        else:
            report.invariant_violations.append(
                f"rerun {when}: {final or out[-500:]}; outputs equal a clean run's: {same}"
            )
        report.records_final = len(_records(outputs) & records)
    report.wall_s = time.perf_counter() - started
    return report


# -- rollout ----------------------------------------------------------------------------------


def _child_rollout(url: str, repository_dir: str, checkpoint: str) -> None:
    from repair.serving.repository import DeployRepository
    from repair.serving.rollout import ModelControl, roll_out
    from resources.object_store import LocalObjectStore

    control = ModelControl(url)
    result = roll_out(
        control, DeployRepository(LocalObjectStore(repository_dir)), 2, checkpoint, gate_passed=True
    )
    print(json.dumps({"promoted": result.promoted, "reason": result.reason}), flush=True)


class _Traffic:
    """One client sending repair requests back to back; records outcomes."""

    def __init__(self, url: str):
        self.url = url
        self.errors: list[str] = []
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from repair.serving.client import RepairClient, RepairClientError
        from repair.serving.rollout import SMOKE_CASES

        case = SMOKE_CASES[1]
        with RepairClient(self.url, timeout_s=120, retries=0) as client:
            while not self._stop.is_set():
                try:
                    self.versions.append(client.repair(case.code, case.diagnostic).model_version)
                except RepairClientError as exc:
                    self.errors.append(str(exc))
                time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=180)


def run_rollout(
    work: Path, checkpoint: Path, seed: int = 0, kills: int = 2, window_s: float = 60.0
) -> FaultReport:
    """Version 1 serves; `kills` rollouts of version 2 are killed at random times in `window_s`;
    a last one runs to the end."""
    from repair.serving.repository import DeployRepository
    from repair.serving.rollout import ModelControl, read_serving_pointer, roll_out
    from repair.serving.server import EmbeddedTritonServer
    from resources.object_store import LocalObjectStore

    report = FaultReport("rollout", seed, records_expected=0)
    started = time.perf_counter()
    store = LocalObjectStore(work / "store")
    repository = DeployRepository(store)
    rng = random.Random(seed)
    with EmbeddedTritonServer(repository.local_path(), log_path=work / "server.log") as server:
        control = ModelControl(server.grpc_url)
        try:
            roll_out(control, repository, 1, checkpoint, gate_passed=True)

            def consistent(when: str) -> None:
                stored = repository.served_versions()
                pointer = read_serving_pointer(store)
                if (
                    len(stored) != 1
                    or pointer is None
                    or pointer["version"] not in (stored[0], stored[0] - 1)
                ):
                    report.invariant_violations.append(f"{when}: config {stored}, pointer {pointer}")
                elif not control.is_ready(repository.model_name, stored[0]) and not control.is_ready(
                    repository.model_name
                ):
                    report.invariant_violations.append(f"{when}: the model is not ready")

            with _Traffic(server.grpc_url) as traffic:
                for attempt in range(kills):
                    child = _child(["rollout", server.grpc_url, str(store.root), str(checkpoint)])
                    time.sleep(rng.uniform(0.5, window_s))
                    if child.poll() is None:
                        child.send_signal(signal.SIGKILL)
                        report.kills += 1
                    child.communicate(timeout=600)
                    consistent(f"after kill {attempt + 1}")
                result = roll_out(control, repository, 2, checkpoint, gate_passed=True)
                consistent("after the final run")
                pointer = read_serving_pointer(store)
                if repository.served_versions() == [2] and pointer and pointer["version"] == 2:
                    report.recoveries = report.kills
                else:
                    report.invariant_violations.append(f"final run: {result.reason}; pointer {pointer}")
                time.sleep(1)
            report.requests_failed = len(traffic.errors)
            report.requests_answered = len(traffic.versions)
            report.invariant_violations += [f"request failed: {e}" for e in traffic.errors[:3]]
        finally:
            control.close()
    report.wall_s = time.perf_counter() - started
    return report


# -- the section ------------------------------------------------------------------------------


write_section = partial(results.write_section, SECTION)


def render(reports: list[FaultReport]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        (
            f"Command: `uv run python -m benchmarks bench_faults`; {when}; {platform.machine()} "
            f"{os.cpu_count()}-core CPU shared with other engineers' jobs (load average "
            f"{os.getloadavg()[0]:.1f}). Each kill is a real SIGKILL of the process doing the work; "
            "each is followed by a rerun."
        ),
        "",
        "| workload | seed | kills injected | recoveries | records expected | records after reruns | records lost | requests answered during kills | requests failed | invariant violations | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        lines.append(
            f"| {r.workload} | {r.seed} | {r.kills} | {r.recoveries} | {r.records_expected} | {r.records_final} | "
            f"{r.records_lost} | {r.requests_answered if r.workload == 'rollout' else '-'} | "
            f"{r.requests_failed if r.workload == 'rollout' else '-'} | {len(r.invariant_violations)} | {r.wall_s:.0f} |"
        )
    problems = [f"- {r.workload}: {v}" for r in reports for v in r.invariant_violations]
    lines += [
        "",
        (
            "Invariants checked after every kill: the registry's current dataset is complete (card and rows "
            "as its record says); the stored Triton config and the serving record agree on a loaded version. "
            "After the reruns: the dataset's files equal an uninterrupted run's line for line; version 2 "
            "serves."
        ),
    ]
    lines += ["", *(problems or ["No invariant was violated."])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import tempfile

    args = sys.argv[1:] if argv is None else argv
    args = [a for a in args if a != "bench_faults"]  # `python -m benchmarks bench_faults` passes its name
    if args and args[0] == "child":
        workload, *rest = args[1:]
        runners: dict[str, Callable[..., None]] = {
            "publish": lambda built, store, k, after: _child_publish(built, store, int(k), bool(int(after))),
            "rollout": _child_rollout,
            "session_logs": lambda store, home, k, after: _child_session_logs(
                store, home, int(k), bool(int(after))
            ),
        }
        runners[workload](*rest)
        return
    parser = argparse.ArgumentParser(description="Fault injection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--publish-kills", type=int, default=10)
    parser.add_argument("--session-logs-kills", type=int, default=5, help="0: skip the session_logs workload")
    parser.add_argument(
        "--sessions", type=int, default=30, help="sessions of the simulated day session_logs reads"
    )
    parser.add_argument("--rollout-kills", type=int, default=3, help="0: skip the rollout workload")
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args(args)
    from repair.serving.demo import tiny_checkpoint

    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        reports = [run_publish(work / "publish", options.seed, options.publish_kills)]
        if options.session_logs_kills:
            reports.append(
                run_session_logs(
                    work / "session_logs", options.seed, options.session_logs_kills, options.sessions
                )
            )
        if options.rollout_kills:
            checkpoint = tiny_checkpoint(work / "checkpoint")
            reports.append(run_rollout(work / "rollout", checkpoint, options.seed, options.rollout_kills))
    body = render(reports)
    print(body)
    if not options.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
