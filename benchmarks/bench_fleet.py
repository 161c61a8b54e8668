"""A version swap across a fleet of Triton replicas under continuous client load (issue 17).

Two `tritonserver` processes (the embedded server, free ports) are started on one deploy repository,
as production replicas are on one bucket, and serve version 1. Clients send repair requests back to
back to every replica while `repair.serving.rollout.roll_out` swaps the fleet to version 2 (staged
and smoke-tested on every replica before any is switched); then a planted bad version 3 (weights
that do not load) is rolled out and must leave every replica on version 2. Counted: requests sent,
answered and dropped (an error of any kind), latency before, during and after the swap, and which
version each replica ends on.

`uv run python -m benchmarks bench_fleet` rewrites the `## Fleet rollout` section of RESULTS.md;
`tests/deployment/test_fleet.py` runs the same code.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Fleet rollout"


@dataclass
class Phase:
    """The requests sent while one thing happened, over all replicas."""

    name: str
    seconds: float
    sent: int
    answered: int
    dropped: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    versions: dict[str, int]  # model version -> answers


@dataclass
class FleetSwapReport:
    replicas: int
    clients_per_replica: int
    promoted: bool = False
    swap_reason: str = ""
    bad_reason: str = ""
    phases: list[Phase] = field(default_factory=list)
    final_versions: dict[str, list[int]] = field(default_factory=dict)  # replica -> loaded versions
    after_bad_versions: dict[str, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(p.sent for p in self.phases)

    @property
    def dropped(self) -> int:
        return sum(p.dropped for p in self.phases)

    def to_dict(self) -> dict:
        return {**asdict(self), "sent": self.sent, "dropped": self.dropped}


def broken_checkpoint(good: Path, out: Path) -> Path:
    """`good` with weights that are not a safetensors file: a version that cannot load."""
    out.mkdir(parents=True, exist_ok=True)
    for item in good.iterdir():
        if item.is_file() and item.name != "model.safetensors":
            (out / item.name).write_bytes(item.read_bytes())
    (out / "model.safetensors").write_bytes(b"not weights")
    return out


def _phase(name: str, outcomes, start: float, end: float) -> Phase:
    from collections import Counter

    from repair.serving.traffic import latency_summary

    sent = [o for o in outcomes if start <= o.started < end]
    versions = Counter(o.version for o in sent if o.version is not None)
    return Phase(
        name,
        round(end - start, 1),
        len(sent),
        sum(versions.values()),
        sum(o.version is None for o in sent),
        **latency_summary(sent),
        versions=dict(sorted(versions.items())),
    )


def run_fleet_swap(
    work: Path,
    checkpoint: Path,
    *,
    replicas: int = 2,
    clients_per_replica: int = 2,
    serving=None,
    settle_s: float = 10.0,
) -> FleetSwapReport:
    from benchmarks.rollout_registry import approved_models
    from repair.serving.repository import DEFAULT_SERVING, DeployRepository
    from repair.serving.rollout import SMOKE_CASES, ModelControl, RolloutError, roll_out
    from repair.serving.server import EmbeddedTritonServer
    from repair.serving.traffic import Traffic
    from resources.object_store import LocalObjectStore

    serving = serving or DEFAULT_SERVING
    report = FleetSwapReport(replicas, clients_per_replica)
    repository = DeployRepository(LocalObjectStore(work / "store"))
    pointer = approved_models(repository.store, [1, 2, 3])
    model = repository.model_name
    bad = broken_checkpoint(checkpoint, work / "bad-checkpoint")
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                EmbeddedTritonServer(repository.local_path(), log_path=work / f"replica-{i}.log")
            )
            for i in range(replicas)
        ]
        controls = [ModelControl(s.grpc_url) for s in servers]
        for control in controls:
            stack.callback(control.close)
        urls = [c.url for c in controls]
        first = roll_out(
            controls,
            repository,
            1,
            checkpoint,
            gate_passed=True,
            serving=serving,
            cases=SMOKE_CASES[:1],
            pointer=pointer,
        )
        if not first.promoted:
            raise RuntimeError(f"version 1 did not deploy: {first.reason}")
        with Traffic(urls, clients_per_url=clients_per_replica) as traffic:
            marks = [time.monotonic()]
            time.sleep(settle_s)
            marks.append(time.monotonic())
            swap = roll_out(
                controls, repository, 2, checkpoint, gate_passed=True, serving=serving, pointer=pointer
            )
            report.promoted, report.swap_reason = swap.promoted, swap.reason
            marks.append(time.monotonic())
            time.sleep(settle_s)
            marks.append(time.monotonic())
            report.final_versions = {c.url: c.ready_versions(model) for c in controls}
            try:
                kept = roll_out(
                    controls, repository, 3, bad, gate_passed=True, serving=serving, pointer=pointer
                )
                report.bad_reason = f"not refused: {kept.reason}"
            except RolloutError as exc:
                report.bad_reason = str(exc)
            marks.append(time.monotonic())
            time.sleep(settle_s)
            report.after_bad_versions = {c.url: c.ready_versions(model) for c in controls}
            marks.append(time.monotonic())
        names = (
            "version 1 serving",
            "swap to version 2",
            "version 2 serving",
            "bad version 3 refused",
            "after",
        )
        report.phases = [
            _phase(n, traffic.outcomes, a, b) for n, a, b in zip(names, marks, marks[1:], strict=False)
        ]
        report.errors = traffic.errors[:5]
    return report


def render(report: FleetSwapReport, new_tokens: str, load_before: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        (
            f"Command: `uv run python -m benchmarks bench_fleet`; {when}; {platform.machine()} {os.cpu_count()}-core "
            f"CPU, {load_words(load_before)}. {report.replicas} replicas (`tritonserver` from nvidia-pytriton, "
            f"one deploy repository), {report.clients_per_replica} clients per replica sending repair requests "
            f"back to back (no retries), the served configuration (max_new_tokens {new_tokens}), an untrained "
            "model of the cpu-tiny shape (random weights)."
        ),
        "",
        "| phase | seconds | requests sent | answered | dropped | p50 ms | p95 ms | max ms | answers by version |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in report.phases:
        versions = ", ".join(f"v{v}: {n}" for v, n in p.versions.items()) or "-"
        lines.append(
            f"| {p.name} | {p.seconds:.0f} | {p.sent} | {p.answered} | {p.dropped} | {p.p50_ms:.0f} | "
            f"{p.p95_ms:.0f} | {p.max_ms:.0f} | {versions} |"
        )
    lines += [
        "",
        (
            f"In all: {report.sent} requests sent, {report.dropped} dropped. Swap: {report.swap_reason}; each replica "
            f"then had loaded {', '.join(f'{v}' for v in report.final_versions.values())}. Bad version 3: "
            f"refused ({report.bad_reason[:300]}); each replica then had loaded "
            f"{', '.join(f'{v}' for v in report.after_bad_versions.values())}."
        ),
        "",
        "A request counts in the phase in which it was sent; latency is per request, end to end at the client.",
    ]
    if report.errors:
        lines += ["", "Errors seen: " + "; ".join(report.errors)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from repair.serving.demo import tiny_checkpoint
    from repair.serving.repository import parse_config, template_config

    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Two-replica version swap under load")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--clients-per-replica", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args([a for a in args if a != "bench_fleet"])
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        checkpoint = tiny_checkpoint(Path(tmp) / "checkpoint")
        report = run_fleet_swap(
            Path(tmp), checkpoint, replicas=options.replicas, clients_per_replica=options.clients_per_replica
        )
    new_tokens = parse_config(template_config()).parameters["max_new_tokens"].string_value
    body = render(report, new_tokens, load_before)
    print(body)
    if not options.no_write:
        results.write_section(SECTION, body)


if __name__ == "__main__":
    main()
