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
- `training`: the `finetuned_model` asset through Dagster, its training launched through Pipes and
  Composer's launcher; rank 0's process is killed at a seeded random moment after the first
  checkpoint. The killed run registers nothing; the rerun resumes from the newest checkpoint on disk,
  registers exactly one model, and records every batch once.
- `rollout`: `repair.serving.rollout.roll_out` against a live Triton under continuous requests:
  version 1 is rolled out, then each kill hits the rollout of the next version at a seeded random
  step (a model load or unload, a write of version files, staging files or the stored config, a
  deletion, the pointer's write; before it, during it (a load the server carries on with after its
  client died, a write cut short) or after it), and the rollout is run again. After every kill the
  stored config names the version that served or the proven candidate, the pointer names the
  config's version or lags it by one write, and the server serves one of them; after every rerun
  both name the new version, the server has it alone loaded and staging is unloaded; no request
  failed. The load is sent by the production client (`RepairClient`, which retries a transient
  failure of an idempotent repair request); a request answered only after a retry is listed in a
  note with what failed and when, so a transport error is never hidden.

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
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

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
    notes: list[str] = field(default_factory=list)  # what happened that is no violation
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


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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


def _repair_rows(files: int, per_file: int) -> list[dict]:
    """Synthetic verified repairs of real standard-library files."""
    from benchmarks.make_synthetic_repairs import repairs_for_file
    from repair.corpus import iter_source_files, stdlib_dir

    root, rng = stdlib_dir(), random.Random(0)
    paths = [p for p in iter_source_files(root) if p.stat().st_size > 4000][:files]
    return [row for path in paths for row in repairs_for_file(path, root, per_file, rng)]


def _dataset():
    from repair import dataset as ds

    return ds.build_dataset(_repair_rows(12, 4))


# Every call a stage makes on its store: reads, listings and writes (a kill may land at any of them).
STORE_CALLS = ("list", "exists", "open_read", "read_bytes", "write_bytes")
WHEN = ("before", "during", "after")


def _sigkill_at_call(kill_at: int, when: str, targets: Sequence[tuple[type, str]]) -> Callable[[], int]:
    """Makes this process SIGKILL itself at its `kill_at`-th call (0: never) of one of the `targets`
    methods, `when` = before it, during it or after it returned. During a store write, half the
    temporary file is written and the rename never happens (as a write cut short); during a Triton
    load, the request is sent and the process dies while the server loads (the server goes on);
    during anything else is before. Returns a function that counts the calls made so far."""
    calls = 0

    def wrap(owner: type, name: str):
        real = getattr(owner, name)

        def call(self, *args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == kill_at and when != "after":
                if when == "during" and name == "write_bytes":
                    key, data = args
                    path = self._path(key)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.with_name(f".{path.name}.tmp-{os.getpid()}").write_bytes(data[: len(data) // 2])
                elif when == "during" and name == "load":
                    threading.Thread(target=real, args=(self, *args), kwargs=kwargs, daemon=True).start()
                    time.sleep(2)
                os.kill(os.getpid(), signal.SIGKILL)
            value = real(self, *args, **kwargs)
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return value

        return call

    for owner, name in targets:
        setattr(owner, name, wrap(owner, name))
    return lambda: calls


def _store_calls(names: Sequence[str]) -> list[tuple[type, str]]:
    from repair.object_store import LocalObjectStore

    return [(LocalObjectStore, name) for name in names]


def _child_publish(built_file: str, store_dir: str, kill_at: int, when: str) -> None:
    """Publishes the dataset; SIGKILLs itself at its `kill_at`-th object write (0: never)."""
    import pickle
    import tempfile

    from repair import dataset as ds
    from repair import registry
    from resources.object_store import LocalObjectStore

    built = pickle.loads(Path(built_file).read_bytes())
    store = LocalObjectStore(store_dir)
    writes = _sigkill_at_call(kill_at, when, _store_calls(["write_bytes"]))
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
        kill_at, when = rng.randint(1, total_writes), "after" if rng.random() < 0.5 else "during"
        child = _child(["publish", built, str(store), str(kill_at), when])
        child.communicate(timeout=600)
        if child.returncode == -signal.SIGKILL:
            report.kills += 1
        _check_published(store, report, f"after kill {attempt + 1} ({when} write {kill_at}/{total_writes})")
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


def _child_session_logs(store_dir: str, dagster_home: str, kill_at: int, when: str) -> None:
    """Materializes `session_logs` for the day through Dagster (a persistent instance, as a
    deployment has); SIGKILLs itself at its `kill_at`-th store call (0: never)."""
    os.environ["DAGSTER_HOME"] = dagster_home
    import dagster as dg

    from repair_assets.ingest import session_logs
    from resources.io_manager import ObjectStoreIOManager
    from resources.object_store import ObjectStoreResource

    store = ObjectStoreResource(backend="local", root=store_dir)
    calls = _sigkill_at_call(kill_at, when, _store_calls(STORE_CALLS))
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

    def materialize(name: str, kill_at: int = 0, when: str = "after") -> tuple[subprocess.Popen, str]:
        store = work / name
        if not store.exists():
            shutil.copytree(source, store)
        (work / f"{name}-dagster").mkdir(exist_ok=True)
        child = _child(["session_logs", str(store), str(work / f"{name}-dagster"), str(kill_at), when])
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
        kill_at, point = rng.randint(1, summary["calls"]), rng.choice(WHEN)
        killed, _ = materialize(name, kill_at, point)
        when = f"after kill {attempt + 1} ({point} store call {kill_at}/{summary['calls']})"
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


def _child_rollout(
    url: str, repository_dir: str, checkpoint: str, version: str, kill_at: str, when: str
) -> None:
    """Rolls `version` out; SIGKILLs itself at its `kill_at`-th rollout step (0: never): a model load
    or unload, a write of version files, staging files or the stored config, a deletion, the pointer."""
    from repair.serving import rollout
    from repair.serving.repository import DeployRepository
    from resources.object_store import LocalObjectStore

    class Pointer:  # the serving pointer's write, as a method the kill can wrap
        def __init__(self, inner: rollout.ServingPointer):
            self.inner = inner

        def write(self, version: int, facts: dict) -> None:
            self.inner.write(version, facts)

    repository = DeployRepository(LocalObjectStore(repository_dir))
    steps = [
        (DeployRepository, name)
        for name in ("write_version", "copy_version", "delete_model_files", "write_config")
    ]
    calls = _sigkill_at_call(
        int(kill_at),
        when,
        [*steps, (rollout.ModelControl, "load"), (rollout.ModelControl, "unload"), (Pointer, "write")],
    )
    pointer = Pointer(rollout.registry_pointer(repository.store))
    result = rollout.roll_out(
        rollout.ModelControl(url),
        repository,
        int(version),
        checkpoint,
        gate_passed=True,
        cases=rollout.SMOKE_CASES[:2],
        pointer=rollout.ServingPointer(pointer.inner.read, pointer.write),
    )
    print(json.dumps({"promoted": result.promoted, "reason": result.reason, "calls": calls()}), flush=True)


def _phase(phases: Sequence[tuple[float, str]], at: float) -> str:
    """Which of the `phases` (started at their times, in order) `at` fell in, with the seconds into it."""
    current = [(start, what) for start, what in phases if start <= at]
    if not current:
        return "before the first rollout"
    start, what = current[-1]
    return f"{at - start:.0f} s into {what} or the checks after it"


def run_rollout(work: Path, checkpoint: Path, seed: int = 0, kills: int = 2) -> FaultReport:
    """Version 1 serves under continuous requests; then, for each kill, the rollout of the next
    version is killed at a seeded random step (before, during or after it) and run again."""
    from benchmarks.rollout_registry import approved_models
    from repair.serving.client import DEFAULT_RETRIES
    from repair.serving.repository import DeployRepository
    from repair.serving.rollout import ModelControl
    from repair.serving.server import EmbeddedTritonServer
    from repair.serving.traffic import Traffic
    from resources.object_store import LocalObjectStore

    report = FaultReport("rollout", seed, records_expected=0)
    started = time.perf_counter()
    store = LocalObjectStore(work / "store")
    repository = DeployRepository(store)
    pointer = approved_models(store, range(1, kills + 2))
    model, staging = repository.model_name, repository.staging_name
    rng = random.Random(seed)
    switched_before_commit: list[str] = []
    phases: list[tuple[float, str]] = []  # (time.monotonic() at its start, what ran): to place a failure
    with EmbeddedTritonServer(repository.local_path(), log_path=work / "server.log") as server:
        control = ModelControl(server.grpc_url)

        def rollout(version: int, kill_at: int = 0, when: str = "after") -> tuple[int, dict]:
            killed = f", killed {when} step {kill_at}" if kill_at else ""
            phases.append((time.monotonic(), f"version {version}'s rollout{killed}"))
            child = _child(
                [
                    "rollout",
                    server.grpc_url,
                    str(store.root),
                    str(checkpoint),
                    str(version),
                    str(kill_at),
                    when,
                ]
            )
            out, _ = child.communicate(timeout=1800)
            last = out.strip().splitlines()[-1] if out.strip() else ""
            return child.returncode, json.loads(last) if child.returncode == 0 else {"output": out[-1500:]}

        def check(when: str, serving_before: int, version: int) -> None:
            """The stored config names the version that served or (once the replicas were switched
            and proved it) the candidate; the pointer names the config's version or lags it by one
            write; the server serves one of the two."""
            stored, named = repository.served_versions(), pointer.read()
            ready = control.ready_versions(model)
            if stored not in ([serving_before], [version]) or named not in (serving_before, stored[0]):
                report.invariant_violations.append(f"{when}: config {stored}, pointer {named}")
            elif not ready or not set(ready) <= {stored[0], version}:
                report.invariant_violations.append(
                    f"{when}: config {stored}, pointer {named}, loaded {ready}"
                )
            elif stored[0] not in ready:
                switched_before_commit.append(when)

        def settled(version: int, deadline_s: float = 120) -> bool:
            """Config, pointer and server name `version` alone, staging unloaded (unloads finish
            after the call returns)."""
            deadline = time.monotonic() + deadline_s
            while time.monotonic() < deadline:
                if (
                    repository.served_versions() == [version]
                    and pointer.read() == version
                    and control.ready_versions(model) == [version]
                    and "READY" not in control.version_states(staging).values()
                ):
                    return True
                time.sleep(1)
            return False

        try:
            code, first = rollout(1)
            if code != 0 or not first.get("promoted"):
                raise RuntimeError(f"the first rollout failed: {first}")
            # The steps of a clean rollout (a rerun's also count its recovery: a kill drawn among
            # those might never come in the next version's rollout).
            steps = first["calls"]
            with Traffic([server.grpc_url], pause_s=0.2, retries=DEFAULT_RETRIES) as traffic:
                for attempt in range(kills):
                    version = attempt + 2
                    kill_at, point = rng.randint(1, steps), rng.choice(WHEN)
                    code, _ = rollout(version, kill_at, point)
                    when = (
                        f"kill {attempt + 1} ({point} step {kill_at}/{steps} of version {version}'s rollout)"
                    )
                    if code == -signal.SIGKILL:
                        report.kills += 1
                    else:
                        report.invariant_violations.append(f"{when}: not killed (exit {code})")
                    check(f"after {when}", version - 1, version)
                    _progress(f"rollout: {when}: exit {code}; rerunning")
                    code, rerun = rollout(version)
                    if code == 0 and settled(version):
                        report.recoveries += 1
                    else:
                        report.invariant_violations.append(
                            f"rerun after {when}: {rerun}; config {repository.served_versions()}, "
                            f"pointer {pointer.read()}, loaded {control.ready_versions(model)}"
                        )
            report.requests_failed = len(traffic.errors)
            report.requests_answered = len(traffic.versions)
            report.invariant_violations += [
                f"request failed (sent {_phase(phases, o.started)}, after {o.latency_ms / 1000:.1f} s): "
                f"{o.url}: {o.error}"
                for o in traffic.outcomes
                if o.version is None
            ][:3]
            retried = [o for o in traffic.outcomes if o.retried and o.version is not None]
            report.notes += (
                [
                    f"{len(retried)} of {len(traffic.outcomes)} requests were answered only after the client's retry"
                    + "".join(
                        f"; one sent {_phase(phases, o.started)}: {' / '.join(o.retried)}"
                        for o in retried[:3]
                    )
                ]
                if retried
                else []
            )
            if switched_before_commit:
                report.notes.append(
                    f"{len(switched_before_commit)} of {report.kills} kills came after the switch and before the "
                    "store named the candidate: the server answered from the candidate, the store named the "
                    "previous version (what a restarted replica loads); the rerun finished the rollout"
                )
        finally:
            control.close()
    report.wall_s = time.perf_counter() - started
    return report


# -- training ---------------------------------------------------------------------------------

TRAINING_BATCHES = 24
TRAINING_CHECKPOINT_EVERY = 4


def _training_config(run_root: Path) -> dict:
    """`finetuned_model`'s run config: the smallest scratch model, a checkpoint every few batches."""
    overrides = {
        "variables.scratch_model.hidden_size": 32,
        "variables.scratch_model.num_layers": 1,
        "variables.scratch_model.num_heads": 2,
        "variables.scratch_model.intermediate_size": 64,
        "scheduler.t_warmup": "2ba",
        "eval_interval": f"{TRAINING_BATCHES}ba",
        "save_interval": f"{TRAINING_CHECKPOINT_EVERY}ba",
        "callbacks.hf_checkpointer.save_interval": f"{TRAINING_BATCHES}ba",
        "callbacks.repair_progress.log_every": 1,
    }
    config = {
        "preset": "cpu-tiny-scratch", "max_duration": f"{TRAINING_BATCHES}ba", "global_batch_size": 4,
        "microbatch_size": 4, "overrides_json": json.dumps(overrides), "heldout_items": 1,
        "run_root": str(run_root),
    }  # fmt: skip
    return {"ops": {"finetuned_model": {"config": config}}}


def training_workers() -> list:
    """This process's training ranks (children of Composer's launcher, which Pipes started)."""
    import psutil

    workers = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "repair.training.worker" in " ".join(process.cmdline()):
                workers.append(process)
        except psutil.NoSuchProcess:  # gone, or a zombie (ZombieProcess) no one has waited for yet
            pass
    return workers


def _kill_after_checkpoint(run_root: Path, delay_s: float, killed: list, batch: int | None = None) -> None:
    """Waits for the first checkpoint (or the one at `batch`), then `delay_s`, then SIGKILLs rank
    0's process."""
    import psutil

    pattern = f"*/*/run/checkpoints/ep*-ba{batch or '*'}-rank0.pt"
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if list(run_root.glob(pattern)):
            break
        time.sleep(0.05)
    else:
        return
    time.sleep(delay_s)
    for process in training_workers():
        try:
            if process.environ().get("RANK", "0") == "0":
                os.kill(process.pid, signal.SIGKILL)
                killed.append(process.pid)
        except psutil.NoSuchProcess:
            pass


def run_training(
    work: Path, seed: int = 18, kills: int = 1, after_final_checkpoint: bool = False
) -> FaultReport:
    """`finetuned_model` materialized through Dagster (training launched through Pipes and
    Composer's launcher): for each kill, a fresh run whose rank 0 is SIGKILLed at a seeded random
    moment after its first checkpoint (or, `after_final_checkpoint`, right after its last one,
    before the export), then rerun. After the kill nothing is registered; the rerun resumes from
    the newest checkpoint on disk that leaves batches to train (not from scratch), registers
    exactly one model, and its progress records every batch once (the records: batches)."""
    import dagster as dg
    import polars as pl

    from repair import registry
    from repair.training import config as tc
    from repair_assets.dataset import approved_dataset, repair_dataset
    from repair_assets.training import finetuned_model, tokenizer
    from resources.benchmarks import BenchmarkSourcesResource
    from resources.io_manager import ObjectStoreIOManager
    from resources.object_store import LocalObjectStore, ObjectStoreResource

    report = FaultReport("training", seed)
    started = time.perf_counter()
    rows = _repair_rows(24, 6)

    @dg.asset(name="verified_repairs")
    def verified_repairs():  # no annotation: Dagster cannot resolve a function-local import's type
        return pl.DataFrame(rows)

    upstream = [verified_repairs, repair_dataset, approved_dataset, tokenizer]
    rng = random.Random(seed)
    for attempt in range(kills):
        home = work / f"run-{attempt}"
        store = ObjectStoreResource(backend="local", root=str(home / "store"))
        resources = {"object_store": store, "io_manager": ObjectStoreIOManager(object_store=store),
                     "benchmark_sources": BenchmarkSourcesResource()}  # fmt: skip
        if not dg.materialize(upstream, resources=resources).success:
            raise RuntimeError("the training workload's dataset and tokenizer failed to materialize")
        run_root = home / "training"
        run_config = _training_config(run_root)
        killed: list[int] = []
        delay_s, at_batch = (
            (0.0, TRAINING_BATCHES) if after_final_checkpoint else (rng.uniform(0.0, 3.0), None)
        )
        killer = threading.Thread(target=_kill_after_checkpoint, args=(run_root, delay_s, killed, at_batch))
        killer.start()
        first = dg.materialize([*upstream, finetuned_model], resources=resources, run_config=run_config,
                               selection=[finetuned_model], raise_on_error=False)  # fmt: skip
        killer.join()
        when = f"kill {attempt + 1} ({delay_s:.1f} s after the {'final' if at_batch else 'first'} checkpoint)"
        report.kills += bool(killed)
        if not killed:
            report.invariant_violations.append(f"{when}: the training process was not found alive")
        registered = registry.versions(LocalObjectStore(home / "store"), registry.MODEL)
        if first.success or registered:
            report.invariant_violations.append(
                f"after {when}: success {first.success}, registered {registered}"
            )
        runs = [p / "run" for p in run_root.glob("*/*")]
        checkpoints = [p for run in runs for p in (run / "checkpoints").glob("ep*-ba*-rank0.pt")]
        # The kill may land after a checkpoint's file and before its record: the files say where to
        # resume. A final checkpoint leaves nothing to train, so the one before it is resumed.
        batches = [int(p.name.split("-ba")[1].split("-")[0]) for p in checkpoints]
        on_disk = max((b for b in batches if b < TRAINING_BATCHES), default=0)
        _progress(f"training: {when}: checkpoint on disk at batch {on_disk}; rerunning")
        second = dg.materialize([*upstream, finetuned_model], resources=resources, run_config=run_config,
                                selection=[finetuned_model], raise_on_error=False)  # fmt: skip
        (run_dir,) = runs
        result = run_dir / "result.json"
        attempt_progress = json.loads(result.read_text())["progress"] if result.exists() else []
        trained = [r["batch"] for r in attempt_progress if r["event"] == "train"]
        resumed_from = min(trained, default=1) - 1
        history = [r["batch"] for r in tc.read_progress(run_dir / tc.PROGRESS_FILE) if r["event"] == "train"]
        versions = [v.version for v in registry.versions(LocalObjectStore(home / "store"), registry.MODEL)]
        report.records_expected += TRAINING_BATCHES
        report.records_final += len(set(history) & set(range(1, TRAINING_BATCHES + 1)))
        problems = []
        materialized = second.asset_materializations_for_node("finetuned_model")
        metadata = {k: v.value for k, v in materialized[0].metadata.items()} if materialized else {}
        if (metadata.get("batches"), metadata.get("model_version")) != (TRAINING_BATCHES, 1):
            problems.append(
                f"materialization metadata batches {metadata.get('batches')}, version {metadata.get('model_version')}"
            )
        if not metadata.get("checkpoints"):
            problems.append("no checkpoints reported back through Pipes")
        if len(list((run_dir / "checkpoints").glob("ep*-ba*-rank0.pt"))) > 2:
            problems.append("more than the two newest checkpoints kept")
        if not (resumed_from == on_disk > 0):
            problems.append(
                f"resumed from batch {resumed_from}, the newest unfinished checkpoint is {on_disk}"
            )
        if versions != [1]:
            problems.append(f"registered {versions}, not exactly one model")
        if history != list(range(1, TRAINING_BATCHES + 1)):
            problems.append(f"batches recorded {history}, not each of 1..{TRAINING_BATCHES} once")
        if training_workers():
            problems.append("training processes left running")
        if problems:
            report.invariant_violations.append(f"rerun after {when}: {'; '.join(problems)}")
        else:
            report.recoveries += 1
    report.wall_s = time.perf_counter() - started
    return report


# -- the section ------------------------------------------------------------------------------


write_section = partial(results.write_section, SECTION)


WORKLOADS = ("publish", "session_logs", "training", "rollout")
HEADER = (
    "| workload | measured | seed | kills injected | recoveries | records expected | records after reruns | "
    "records lost | requests answered during kills | requests failed | invariant violations | wall s |"
)


def _kept_rows(replaced: set[str]) -> dict[str, list[str]]:
    """The section's rows (and their violation and note lines) of workloads not measured now, by
    workload, so that each workload can be measured on its own."""
    text = results.RESULTS.read_text(encoding="utf-8")
    if SECTION not in text or HEADER not in text:
        return {}
    body = text[text.index(SECTION) :].split("\n## ", 1)[0]
    kept: dict[str, list[str]] = {}
    for line in body.splitlines():
        for workload in set(WORKLOADS) - replaced:
            if line.startswith((f"| {workload} |", f"- {workload}: ", f"- {workload} (note): ")):
                kept.setdefault(workload, []).append(line)
    return kept


def render(reports: list[FaultReport], load_before: float, kept: dict[str, list[str]] | None = None) -> str:
    kept = kept or {}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    measured = f"{when}, load {os.getloadavg()[0]:.1f}"
    lines = [
        (
            f"Command: `uv run python -m benchmarks bench_faults` (`--only` measures some workloads and keeps "
            f"the other rows); {platform.machine()} {os.cpu_count()}-core CPU, {load_words(load_before)} "
            "(the load average when each row was measured is in its row). Each kill is a real SIGKILL of the "
            "process doing the work; each is followed by a rerun."
        ),
        "",
        HEADER,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_workload = {r.workload: r for r in reports}
    for workload in WORKLOADS:
        r = by_workload.get(workload)
        if r is None:
            lines += [line for line in kept.get(workload, []) if line.startswith("|")]
            continue
        lines.append(
            f"| {r.workload} | {measured} | {r.seed} | {r.kills} | {r.recoveries} | {r.records_expected} | "
            f"{r.records_final} | {r.records_lost} | {r.requests_answered if r.workload == 'rollout' else '-'} | "
            f"{r.requests_failed if r.workload == 'rollout' else '-'} | {len(r.invariant_violations)} | {r.wall_s:.0f} |"
        )
    kept_lines = [line for rows in kept.values() for line in rows if line.startswith("- ")]
    problems = [f"- {r.workload}: {v}" for r in reports for v in r.invariant_violations]
    problems += [line for line in kept_lines if " (note): " not in line]
    lines += [
        "",
        (
            "Invariants checked after every kill: the registry's current dataset is complete (card and rows "
            "as its record says); an ingest output that exists equals an uninterrupted run's; a killed training "
            "run registers no model; the stored Triton "
            "config names the version that served, or the candidate once every replica was switched to it and "
            "proved it; the serving record names the config's version or lags it by one write (config first); "
            "the server serves one of the two, and every request was answered. After the reruns: the "
            "dataset's files and the ingest outputs equal an uninterrupted run's line for line, "
            "`counts_reconcile` passes; training resumed from the newest checkpoint on disk, registered "
            "exactly one model and recorded each batch once (its records are batches); the new version serves "
            "alone, named by config and record, staging unloaded."
        ),
    ]
    lines += ["", *(problems or ["No invariant was violated."])]
    lines += [f"- {r.workload} (note): {note}" for r in reports for note in r.notes]
    lines += [line for line in kept_lines if " (note): " in line]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import tempfile

    args = sys.argv[1:] if argv is None else argv
    args = [a for a in args if a != "bench_faults"]  # `python -m benchmarks bench_faults` passes its name
    if args and args[0] == "child":
        workload, *rest = args[1:]
        runners: dict[str, Callable[..., None]] = {
            "publish": lambda built, store, k, when: _child_publish(built, store, int(k), when),
            "rollout": _child_rollout,
            "session_logs": lambda store, home, k, when: _child_session_logs(store, home, int(k), when),
        }
        runners[workload](*rest)
        return
    parser = argparse.ArgumentParser(description="Fault injection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--publish-kills", type=int, default=10, help="0: skip the publish workload")
    parser.add_argument("--session-logs-kills", type=int, default=5, help="0: skip the session_logs workload")
    parser.add_argument(
        "--sessions", type=int, default=30, help="sessions of the simulated day session_logs reads"
    )
    parser.add_argument("--training-kills", type=int, default=1, help="0: skip the training workload")
    parser.add_argument("--rollout-kills", type=int, default=3, help="0: skip the rollout workload")
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help="comma-separated workloads to measure; the others' rows are kept",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="a folder to work in and keep (the rollout's Triton log); default: a temporary one",
    )
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args(args)
    load_before = os.getloadavg()[0]
    only = {w.strip() for w in options.only.split(",") if w.strip()}
    if only - set(WORKLOADS):
        parser.error(
            f"--only: unknown workloads {sorted(only - set(WORKLOADS))}; known: {', '.join(WORKLOADS)}"
        )
    from repair.serving.demo import tiny_checkpoint

    reports = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-faults-")
        if options.work is None
        else nullcontext(options.work)
    ) as tmp:
        work = Path(tmp)
        if "publish" in only and options.publish_kills:
            reports.append(run_publish(work / "publish", options.seed, options.publish_kills))
        if "session_logs" in only and options.session_logs_kills:
            reports.append(
                run_session_logs(
                    work / "session_logs", options.seed, options.session_logs_kills, options.sessions
                )
            )
        if "training" in only and options.training_kills:
            reports.append(run_training(work / "training", options.seed, options.training_kills))
        if "rollout" in only and options.rollout_kills:
            checkpoint = tiny_checkpoint(work / "checkpoint")
            reports.append(run_rollout(work / "rollout", checkpoint, options.seed, options.rollout_kills))
    body = render(reports, load_before, _kept_rows({r.workload for r in reports}))
    print(body)
    if not options.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
