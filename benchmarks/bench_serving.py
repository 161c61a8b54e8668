"""Triton serving: latency p50/p95/p99 and throughput at concurrency 1, 4 and 16, with and without
dynamic batching, beside the same model called in process (Triton's overhead), in one run.

    uv run python -m benchmarks bench_serving              # writes the "Triton serving" section
    uv run python -m benchmarks.bench_serving --model-dir DIR --requests 40

The model: `--model-dir`, else the newest `models/code_repair/v<N>/` in the local store (the
`cpu-tiny` preset once trained), else a stand-in of the cpu-tiny shape with random weights and
`max_new_tokens` cut to a typical diff's length (said so in the results).
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.results import load_words
from repair.object_store import DEFAULT_LOCAL_ROOT, LocalObjectStore
from repair.serving.client import RepairClient
from repair.serving.handler import RepairRequest, RepairService
from repair.serving.repository import DeployRepository, ServingConfig
from repair.serving.rollout import SMOKE_CASES, ModelControl
from repair.serving.server import EmbeddedTritonServer

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Triton serving"
CONCURRENCY = (1, 4, 16)
STANDIN_NEW_TOKENS = 32  # about the length of a one-line numbered diff in this tokenizer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summarize(name: str, concurrency: int, latencies: list[float], wall: float) -> dict:
    return {
        "setup": name,
        "concurrency": concurrency,
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "req_per_s": len(latencies) / wall,
    }


def run_clients(send, concurrency: int, total: int) -> tuple[list[float], float]:
    """`total` calls of `send(i)` spread over `concurrency` threads; (latencies, wall seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            send(i)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def triton_run(
    url: str, cases: list[RepairRequest], concurrency: int, total: int
) -> tuple[list[float], float]:
    """`total` requests over `concurrency` connected clients (one per thread)."""
    clients = [RepairClient(url, timeout_s=300) for _ in range(concurrency)]
    for client in clients:  # connect before timing
        client.repair(cases[0].code, cases[0].diagnostic, cases[0].file_name)
    assigned: dict[int, RepairClient] = {}
    lock = threading.Lock()

    def send(i: int) -> None:
        with lock:
            if threading.get_ident() not in assigned:
                assigned[threading.get_ident()] = clients[len(assigned)]
            client = assigned[threading.get_ident()]
        case = cases[i % len(cases)]
        client.repair(case.code, case.diagnostic, case.file_name)

    try:
        return run_clients(send, concurrency, total)
    finally:
        for client in clients:
            client.close()


def paired_overhead(service: RepairService, url: str, cases: list[RepairRequest], total: int) -> list[dict]:
    """The same requests alternately in process and through Triton, one at a time, so that both
    see the same machine load (this sandbox is shared): the difference is Triton's overhead."""
    in_process, served = [], []
    with RepairClient(url, timeout_s=300) as client:
        client.repair(cases[0].code, cases[0].diagnostic)
        for i in range(total):
            case = cases[i % len(cases)]
            started = time.perf_counter()
            service.handle([case])
            in_process.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.repair(case.code, case.diagnostic, case.file_name)
            served.append(time.perf_counter() - started)
    return [
        summarize("in process (paired)", 1, in_process, sum(in_process)),
        summarize("Triton, no batching (paired)", 1, served, sum(served)),
    ]


def served_model(
    checkpoint: Path, max_new_tokens: int | None, edit_candidates: int | None = None, ranked_headers: bool = True
):
    """The model in process as the served config (`triton_models/code_repair/config.pbtxt`) decodes:
    its decoding parameters (`edit_candidates` overridden when given; `ranked_headers=False`: token
    beams instead, for comparison) and its CPU torch threads."""
    import torch

    from repair.model import RepairModel
    from repair.serving.repository import parse_config, template_config

    served = {key: value.string_value for key, value in parse_config(template_config()).parameters.items()}
    torch.set_num_threads(int(served["cpu_threads"]))
    return RepairModel(
        checkpoint,
        max_new_tokens=max_new_tokens or int(served["max_new_tokens"]),
        temperature=float(served["temperature"]),
        top_p=float(served["top_p"]),
        top_k=int(served["top_k"]),
        edit_candidates=edit_candidates or int(served["edit_candidates"]),
        ranked_headers=ranked_headers,
    )


def find_model(model_dir: str | None, work: Path) -> tuple[Path, str, int | None]:
    """(checkpoint, description, max_new_tokens override)."""
    from repair import registry

    if model_dir:
        return Path(model_dir), f"checkpoint {model_dir}", None
    store = LocalObjectStore(os.environ.get("REPAIR_STORE_ROOT", DEFAULT_LOCAL_ROOT))
    try:
        version = registry.latest_approved(store, registry.MODEL).version
    except FileNotFoundError:
        from repair.serving.demo import tiny_checkpoint

        return (
            tiny_checkpoint(work / "standin"),
            f"stand-in: cpu-tiny shape, random weights, max_new_tokens={STANDIN_NEW_TOKENS} (no trained model)",
            STANDIN_NEW_TOKENS,
        )
    folder = registry.fetch_model(store, work / "registry", version)
    return folder, f"registry models/code_repair/v{version}", None


def bench(model_dir: str | None, requests_per_client: int) -> tuple[list[dict], str]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        checkpoint, described, new_tokens = find_model(model_dir, work)
        cases = [RepairRequest(c.code, c.diagnostic, c.file_name) for c in SMOKE_CASES]
        total = {c: max(requests_per_client * c, 2 * requests_per_client) for c in CONCURRENCY}

        # In process: the same RepairService the Triton model runs, decoding as it does.
        model = served_model(checkpoint, new_tokens)
        service = RepairService(model.generate, window=model.window)
        service.handle([cases[0]])  # warm-up, as the served model does at load
        # All 16 requests in one batched call: what dynamic batching can reach at best.
        batch = [cases[i % len(cases)] for i in range(16)]
        latencies, wall = run_clients(lambda i: service.handle(batch), 1, max(2, total[1] // 4))
        rows.append(
            {
                **summarize("in process, batch of 16", 16, latencies, wall),
                "req_per_s": 16 * len(latencies) / wall,
            }
        )

        store = LocalObjectStore(work / "store")
        repository = DeployRepository(store)
        repository.write_version(1, checkpoint)
        for batching in (False, True):
            # A fresh server per configuration: reloading the same version with a changed config
            # aborted tritonserver 2.51 here ("unaligned tcache chunk" when the old instance's
            # threads shut down); see docs/deployment.md.
            serving = ServingConfig(dynamic_batching=batching, max_new_tokens=new_tokens)
            repository.write_config("code_repair", [1], serving)
            with EmbeddedTritonServer(repository.local_path()) as server:  # log in .data/triton/logs
                control = ModelControl(server.grpc_url)
                control.load("code_repair")
                control.close()
                name = "Triton, dynamic batching" if batching else "Triton, no batching"
                if not batching:
                    rows += paired_overhead(service, server.grpc_url, cases, total[1])
                for concurrency in CONCURRENCY:
                    latencies, wall = triton_run(server.grpc_url, cases, concurrency, total[concurrency])
                    rows.append(summarize(name, concurrency, latencies, wall))
                    print(rows[-1], flush=True)
    return rows, described


NOTE = (
    "- Per-request latency moves several-fold with the machine's load: compare the rows of one run (the paired "
    "rows saw the same load). "
    "GPU decode figures: `benchmarks/gpu_serving.py` (run on a lent GPU) appends them below."
)


def render(rows: list[dict], described: str, command: str, load_before: float) -> str:
    def find(setup: str, concurrency: int) -> dict:
        return next(r for r in rows if r["setup"] == setup and r["concurrency"] == concurrency)

    table = [
        "| setup | concurrency | requests | p50 ms | p95 ms | p99 ms | req/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    table += [
        f"| {r['setup']} | {r['concurrency']} | {r['requests']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
        f"{r['p99_ms']:.0f} | {r['req_per_s']:.2f} |"
        for r in rows
    ]
    inproc, paired = find("in process (paired)", 1), find("Triton, no batching (paired)", 1)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()}-core CPU, {load_words(load_before)}, {when}  ",
        f"Model: {described}; Triton 2.51 (nvidia-pytriton 0.7 binary), Python backend, 1 CPU instance.",
        "",
        *table,
        "",
    ]
    for setup in ("Triton, dynamic batching", "Triton, no batching"):
        one, sixteen = find(setup, 1), find(setup, 16)
        lines.append(
            f"- {setup}: p50 at concurrency 1 = {one['p50_ms']:.0f} ms (target < 200 ms); throughput at 16 / at 1 = "
            f"{sixteen['req_per_s'] / one['req_per_s']:.2f}x (target >= 3x)."
        )
    lines.append(
        f"- Triton's overhead over the same model in process, requests alternated one at a time: "
        f"{paired['p50_ms'] - inproc['p50_ms']:+.0f} ms p50 ({paired['p50_ms']:.0f} vs {inproc['p50_ms']:.0f} ms)."
    )
    lines += [NOTE, ""]
    return "\n".join(lines)


def write_section(text: str, append: bool = False) -> None:
    """Replaces this stage's CPU figures in RESULTS.md with `text`, keeping the `###` subsections
    appended after them (GPU runs); with `append`, adds `text` at the end of the section."""
    content = RESULTS.read_text()
    start = content.index(SECTION)
    section_end = content.find("\n## ", start + len(SECTION))
    section_end = len(content) if section_end < 0 else section_end
    if append:
        RESULTS.write_text(content[:section_end].rstrip("\n") + "\n\n" + text + content[section_end:])
        return
    subsection = content.find("\n### ", start + len(SECTION), section_end)
    end = section_end if subsection < 0 else subsection
    RESULTS.write_text(content[:start] + text + content[end:])


def command_line(argv: list[str] | None) -> str:
    """The command as run, arguments included: a section must say which model it measured."""
    if not argv:
        return "uv run python -m benchmarks bench_serving"
    return " ".join(["uv run python -m benchmarks.bench_serving", *map(shlex.quote, argv)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Triton serving latency and throughput benchmark")
    parser.add_argument("--model-dir")
    parser.add_argument("--requests", type=int, default=8, help="requests per client at each concurrency")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv if argv is not None else [])
    load_before = os.getloadavg()[0]
    rows, described = bench(args.model_dir, args.requests)
    text = render(rows, described, command_line(argv), load_before)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
