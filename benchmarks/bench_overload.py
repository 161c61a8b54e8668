"""Serving overload (issue 18): more concurrent requests than the served model can take, against the
bounded queue the deployment renders (`default_queue_policy`: `max_queue_size`, `REJECT`). Counts
the requests answered, rejected at once and hung (no answer within the client's deadline), with the
time a rejection took.

The configuration is the served one (`render_config` of the checked-in template) with the queue
shrunk so that a CPU model on this machine overflows it: one instance, batches of 1, a queue of 4.
`uv run python -m benchmarks bench_overload` rewrites the `## Serving overload` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import results
from benchmarks.results import load_words

SECTION = "## Serving overload"


def measure(requests: int, queue: int, deadline_s: float) -> dict:
    from repair.serving.client import RepairClient, RepairClientError
    from repair.serving.demo import tiny_checkpoint
    from repair.serving.repository import DeployRepository, ServingConfig
    from repair.serving.rollout import SMOKE_CASES, ModelControl
    from repair.serving.server import EmbeddedTritonServer
    from resources.object_store import LocalObjectStore

    serving = ServingConfig(max_batch_size=1, max_queue_size=queue, max_new_tokens=32)
    outcomes: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as tmp:
        store = LocalObjectStore(Path(tmp) / "store")
        repository = DeployRepository(store)
        repository.write_version(1, tiny_checkpoint(Path(tmp) / "checkpoint"))
        repository.write_config(repository.model_name, [1], serving)
        with EmbeddedTritonServer(repository.local_path(), log_path=Path(tmp) / "server.log") as server:
            control = ModelControl(server.grpc_url)
            control.load(repository.model_name)
            control.close()
            case = SMOKE_CASES[1]
            with RepairClient(server.grpc_url, retries=0, timeout_s=deadline_s) as warm:
                started = time.perf_counter()
                warm.repair(case.code, case.diagnostic)
                one_request_s = time.perf_counter() - started
            barrier = threading.Barrier(requests)

            def send() -> None:
                with RepairClient(server.grpc_url, retries=0, timeout_s=deadline_s) as client:
                    barrier.wait()
                    started = time.perf_counter()
                    try:
                        client.repair(case.code, case.diagnostic)
                        kind, message = "answered", ""
                    except RepairClientError as exc:
                        message = str(exc)
                        kind = (
                            "hung"
                            if "gave no answer" in message
                            else "rejected"
                            if "queue" in message.lower()
                            else "error"
                        )
                    outcomes.append((kind, time.perf_counter() - started, message))

            threads = [threading.Thread(target=send) for _ in range(requests)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    by_kind = {
        k: [s for kind, s, _ in outcomes if kind == k] for k in ("answered", "rejected", "hung", "error")
    }
    return {
        "requests": requests,
        "queue": queue,
        "one_request_s": one_request_s,
        "by_kind": by_kind,
        "messages": sorted({m[:120] for kind, _, m in outcomes if kind in ("rejected", "error")}),
    }


def render(result: dict, deadline_s: float, load_before: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    kinds = result["by_kind"]

    def ms(values: list[float], q: str) -> str:
        if not values:
            return "-"
        return f"{(statistics.median(values) if q == 'p50' else max(values)) * 1000:.0f}"

    lines = [
        (
            f"Command: `uv run python -m benchmarks bench_overload`; {when}; {platform.machine()} "
            f"{os.cpu_count()}-core CPU, {load_words(load_before)}. Served config: the checked-in template rendered by `render_config` "
            f"with one CPU instance, `max_batch_size` 1, `max_queue_size` {result['queue']}, `REJECT`; "
            f"the tiny checkpoint (32 new tokens; one request alone took {result['one_request_s']:.1f} s). "
            f"{result['requests']} requests sent at once (a barrier), no client retries, a {deadline_s:.0f} s "
            "client deadline (past it a request counts as hung)."
        ),
        "",
        "| requests offered | beyond capacity (offered - 1 running - queue) | answered | rejected | rejection ms p50 / max | answered ms p50 / max | hung | other errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        (
            f"| {result['requests']} | {result['requests'] - 1 - result['queue']} | {len(kinds['answered'])} | "
            f"{len(kinds['rejected'])} | {ms(kinds['rejected'], 'p50')} / {ms(kinds['rejected'], 'max')} | "
            f"{ms(kinds['answered'], 'p50')} / {ms(kinds['answered'], 'max')} | {len(kinds['hung'])} | "
            f"{len(kinds['error'])} |"
        ),
        "",
        "Rejection messages: " + ("; ".join(f"`{m}`" for m in result["messages"]) or "none"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "bench_overload"]
    parser = argparse.ArgumentParser(description="Serving overload")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--deadline-s", type=float, default=300.0)
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args(args)
    load_before = os.getloadavg()[0]
    body = render(measure(options.requests, options.queue, options.deadline_s), options.deadline_s, load_before)
    print(body)
    if not options.no_write:
        results.write_section(SECTION, body)


if __name__ == "__main__":
    main()
