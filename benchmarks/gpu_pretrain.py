"""Larger bases on a lent GPU, by the same `repair pretrain` command: two shapes trained from scratch
side by side, in one device call, on the three corpora the deepened base was trained on
(docs/scaling.md, "Larger bases on a lent GPU").

A probe (40 batches of each shape, both at once, as the real runs will share the GPU) measures
seconds per batch; `--max-duration` is then the most batches that fit the time left (capped by
`--max-batches`), and a watchdog ends the call inside `--budget`. What comes back under $OUT: each
base as a tar (split at 15 MB, the device tool's per-file limit; the `bf16` shape's weights cast to
bf16 so that it fits), when the command was cut short the latest export instead, and a tar of the logs,
progress files and the plan. The bases are then scored here on the CPU (`bench_finetune --base`).
`--cpu-smoke` runs the same path with tiny shapes, fp32 and a few batches, on a machine without a GPU.
`--report DIR`, here, writes the "Larger bases on a GPU" section of benchmarks/RESULTS.md from what
came back, unpacked into DIR (`DIR/logs/NAME-progress.jsonl` and the base in `DIR/NAME`).

Before the call, on this machine (see benchmarks/gpu_wheels.txt for the wheels):

    mkdir -p .gpu && echo /.gpu/ >> .git/info/exclude
    tar -cJf .gpu/corpora.tar.xz -C .data pretrain15/corpus.json pretrain15/data/jsonl \
        pretrain15/tokenizer pretrain16/corpus.json pretrain16/data/jsonl pretrain17/corpus.json \
        pretrain17/data/jsonl

The device call (carry `.whl` and `.gpu`):

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 \
        HF_DATASETS_OFFLINE=1 && python3 -m benchmarks.gpu_pretrain --corpora .gpu/corpora.tar.xz
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

# name: Llama shape, learning rate, and whether its weights come back in bf16 (to fit the tool's limit).
SHAPES = {
    "gpu-s": {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 768, "lr": 1.5e-3},
    "gpu-l": {
        "hidden_size": 384,
        "num_layers": 8,
        "num_heads": 6,
        "intermediate_size": 1152,
        "lr": 8e-4,
        "bf16": True,
    },
}
SMOKE_SHAPES = {
    "gpu-s": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "lr": 1e-3},
    "gpu-l": {
        "hidden_size": 48,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 96,
        "lr": 1e-3,
        "bf16": True,
    },
}
WORK_CORPUS = "pretrain15"  # each shape trains in a copy of it (its own run/ and data/combined/)
WITH_CORPORA = ("pretrain16", "pretrain17")
PROBE_BATCHES = 40
# After the last batch: final eval, export, 200 held-out prompts decoded one at a time, the card.
# Two runs sharing the GPU needed more than 60 s for it (2026-12-04).
AFTER_TRAINING_S = 150
SPLIT_BYTES = 15_000_000


class Clock:
    def __init__(self):
        self.start = time.time()

    def elapsed(self) -> float:
        return time.time() - self.start

    def say(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)


def pretrain_args(name: str, shape: dict, batches: int, out: str, args, probe: bool) -> list[str]:
    """`repair pretrain`'s arguments for one shape: the GPU's precision and batch, the shape."""
    command = [
        "--work", f".data/{name}", "--out", out,
        *[a for c in WITH_CORPORA for a in ("--with-corpus", f".data/{c}")],
        "--max-duration", f"{batches}ba",
        "--heldout", "0" if probe else str(args.heldout),
        "--hardware", args.hardware,
        "--set", f"precision={'fp32' if args.cpu_smoke else 'amp_bf16'}",  # Composer's CPU takes fp32 only
        "--set", f"global_train_batch_size={args.batch}",
        "--set", f"device_train_microbatch_size={args.batch}",
        "--set", f"device_eval_batch_size={args.batch}",
        "--set", f"optimizer.lr={shape['lr']}",
        "--set", "scheduler.t_warmup=100ba",
        "--set", "train_loader.num_workers=2",
        "--set", f"console_log_interval={10 if probe else 100}ba",
        "--set", f"eval_interval={batches}ba",
        "--set", f"save_interval={10**6 if probe else 200}ba",
        "--set", f"callbacks.hf_checkpointer.save_interval={batches if probe else 200}ba",
    ]  # fmt: skip
    for key in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
        command += ["--set", f"variables.scratch_model.{key}={shape[key]}"]
    return command


def launch(name, shape, batches, out, args, probe, logs: Path, port: int) -> subprocess.Popen:
    entry = "from repair.commands.pretrain import command; command(prog_name='repair pretrain')"
    log = open(logs / f"{name}{'-probe' if probe else ''}.log", "w")  # noqa: SIM115 - the child writes it
    return subprocess.Popen(
        [sys.executable, "-c", entry, *pretrain_args(name, shape, batches, out, args, probe)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MASTER_PORT": str(port), "PYTHONUNBUFFERED": "1"},
    )


def wait(procs: dict[str, subprocess.Popen], deadline: float, clock: Clock) -> dict[str, int | None]:
    """Waits for every run, printing each one's last progress record every 30 s; kills what is
    still running at `deadline`."""
    shown = 0.0
    while any(p.poll() is None for p in procs.values()):
        if time.time() > deadline:
            for name, p in procs.items():
                if p.poll() is None:
                    clock.say(f"watchdog: ending {name}")
                    p.kill()
            break
        if time.time() - shown > 30:
            shown = time.time()
            for name in procs:
                progress = Path(f".data/{name}/run/progress.jsonl")
                lines = progress.read_text().splitlines() if progress.exists() else []
                clock.say(f"{name}: {lines[-1][:150] if lines else 'starting'}")
        time.sleep(2)
    return {name: p.poll() for name, p in procs.items()}


def seconds_per_batch(name: str) -> float:
    from repair.training.config import read_progress  # skips a line the watchdog's kill cut

    train = [r for r in read_progress(f".data/{name}/run/progress.jsonl") if r.get("event") == "train"]
    first = ([r for r in train if r["batch"] >= 10] or train)[0]  # batch 1 holds the warm-up
    return (train[-1]["elapsed_s"] - first["elapsed_s"]) / max(1, train[-1]["batch"] - first["batch"])


def plan_batches(rates: dict[str, float], train_s: float, max_batches: int) -> dict[str, int]:
    """Batches for each shape: 90% of what `train_s` holds at its measured seconds per batch, in
    fifties, at least 100 and at most `max_batches`."""
    return {
        name: min(max_batches, max(100, int(train_s / rate * 0.9) // 50 * 50)) for name, rate in rates.items()
    }


def bring_back(name: str, out: Path, bf16: bool, dest: Path, clock: Clock) -> None:
    """`out` (or the run's latest export when the command did not finish) as a tar under `dest`."""
    if not (out / "card.json").exists():
        from repair.training.config import latest_export

        try:
            out = latest_export(f".data/{name}/run")
        except FileNotFoundError:
            clock.say(f"{name}: nothing to bring back")
            return
        clock.say(f"{name}: no card (the command was cut short); the latest export instead: {out}")
    if bf16:
        import torch
        from safetensors.torch import load_file, save_file

        for weights in out.glob("*.safetensors"):
            save_file(
                {k: v.to(torch.bfloat16) for k, v in load_file(weights).items()},
                weights,
                metadata={"format": "pt"},
            )
    tar = dest / f"{name}.tar"
    with tarfile.open(tar, "w") as archive:
        archive.add(out, arcname=name)
    size = tar.stat().st_size
    if size > SPLIT_BYTES:  # join with `cat NAME.tar.part* | tar -x`
        subprocess.run(["split", "-b", str(SPLIT_BYTES), "-d", str(tar), f"{tar}.part"], check=True)
        tar.unlink()
    clock.say(f"{name}: {size / 1e6:.1f} MB")


def pack_logs(logs: Path, out_root: Path) -> None:
    """One archive: the tool brings back at most 8 files."""
    with tarfile.open(out_root / "logs.tar.gz", "w:gz") as archive:
        archive.add(logs, arcname="logs")
    shutil.rmtree(logs)


REPORT_SECTION = "## Larger bases on a GPU"


def report(folder: Path, hardware: str) -> str:
    """The section: per run, its shape, batches, time, tokens/s, losses and validation figures,
    read from the progress file and the base that came back."""
    from repair.training.config import read_progress
    from repair.training.scratch import count_parameters

    plan = json.loads((folder / "logs" / "plan.json").read_text())["plan_batches"]
    rows = []
    for progress in sorted((folder / "logs").glob("*-progress.jsonl")):
        name = progress.name.removesuffix("-progress.jsonl")
        records = read_progress(progress)
        train = [r for r in records if r.get("event") == "train"]
        last_eval = [r for r in records if r.get("event") == "eval"][-1]
        config = json.loads((folder / name / "config.json").read_text())
        rows.append(
            f"| {name} | {', '.join(n for n in plan if n != name) if name in plan else 'alone'} | {count_parameters(folder / name):,} | {config['num_hidden_layers']} x {config['hidden_size']}, "
            f"MLP {config['intermediate_size']} | {train[-1]['batch']} ({train[-1]['epoch']} epochs) | "
            f"{train[-1]['elapsed_s']:.0f} | {train[-1]['tokens_per_s']:,.0f} | {train[0]['loss']:.3f} -> {train[-1]['loss']:.4f} | "
            f"{last_eval['eval/LanguageCrossEntropy']:.3f} | {last_eval['eval/TokenAccuracy']:.3f} |"
        )
    return "\n".join(
        [
            REPORT_SECTION,
            "",
            (
                f"Command: `uv run python -m benchmarks.gpu_pretrain --report {folder} --hardware {shlex.quote(hardware)}` "
                "(the device call: this module's docstring)  "
            ),
            f"Machine: {hardware}; batches of 128 from scratch on `.data/pretrain15` + `16` + `17` (37,010 training examples)",
            "",
            "| run | GPU shared with | parameters | shape | batches | training s | tokens/s | training loss (first -> last) | validation cross-entropy | validation token accuracy |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
            *rows,
            "",
            (
                "- Validation: the combined corpora's validation split (2,730 examples), at the last batch. "
                "Runs planned together shared the GPU. Held-out repairs and the executable benchmark: "
                '`bench_finetune --base` ("Finetuning learning rate").'
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, help="tar.xz of the corpora (see above)")
    parser.add_argument(
        "--report", type=Path, help="write RESULTS.md's section from what came back into this folder"
    )
    parser.add_argument("--budget", type=float, default=470, help="seconds for the whole script")
    parser.add_argument("--max-batches", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--heldout", type=int, default=200)
    parser.add_argument("--hardware", default="1x NVIDIA H200 (lent), bf16 autocast, two runs sharing it")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny shapes, fp32, batches of 8, 30 batches at most"
    )
    args = parser.parse_args()
    if args.report:
        from benchmarks import results

        results.write_section(REPORT_SECTION, report(args.report, args.hardware))
        return
    if not args.corpora:
        parser.error("--corpora is required for a training run")
    shapes = SMOKE_SHAPES if args.cpu_smoke else SHAPES
    if args.cpu_smoke:
        args.batch, args.max_batches, args.heldout, args.hardware = 8, 30, 20, "CPU smoke run"
    clock = Clock()
    out_root = Path(os.environ.get("OUT", "/tmp/gpu_pretrain_out"))
    logs = out_root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    Path(".data").mkdir(exist_ok=True)
    with tarfile.open(args.corpora) as archive:
        archive.extractall(".data", filter="data")
    for name in shapes:
        shutil.copytree(f".data/{WORK_CORPUS}", f".data/{name}", dirs_exist_ok=True)

    probes = {
        name: launch(name, shape, PROBE_BATCHES, f"/tmp/probe-{name}", args, True, logs, 29500 + i)
        for i, (name, shape) in enumerate(shapes.items())
    }
    codes = wait(probes, clock.start + 200, clock)
    clock.say(f"probe exit codes {codes}")
    failed = [name for name, code in codes.items() if code != 0]
    if failed:  # e.g. a wheel missing on the device: its log says which, and comes back
        pack_logs(logs, out_root)
        sys.exit(f"the probe of {', '.join(failed)} failed: see NAME-probe.log in logs.tar.gz")
    rates = {name: seconds_per_batch(name) for name in shapes}
    for name in shapes:  # the real runs start from nothing
        shutil.rmtree(f".data/{name}/run")
        shutil.rmtree(f".data/{name}/scratch_model", ignore_errors=True)
    probe_s = clock.elapsed()
    train_s = args.budget - probe_s - 0.6 * probe_s - AFTER_TRAINING_S  # 0.6: startup, data cached
    plan = plan_batches(rates, train_s, args.max_batches)
    clock.say(f"s/batch {rates}; plan {plan} batches in ~{train_s:.0f} s")
    (logs / "plan.json").write_text(
        json.dumps({"rates_s_per_batch": rates, "plan_batches": plan, "probe_s": probe_s})
    )

    # The small shape fits the repository's 25 MB; the large one is kept beside it.
    outs = {
        name: f"models/base-{name}" if not shape.get("bf16") else f"../bases/base-{name}"
        for name, shape in shapes.items()
    }
    if args.cpu_smoke:
        outs = {name: f"{out_root}/smoke-base-{name}" for name in shapes}
    runs = {
        name: launch(name, shapes[name], plan[name], outs[name], args, False, logs, 29600 + i)
        for i, name in enumerate(shapes)
    }
    clock.say(f"exit codes {wait(runs, clock.start + args.budget, clock)}")
    for name, shape in shapes.items():
        for kept in ("progress.jsonl", "train.yaml"):
            if (source := Path(f".data/{name}/run/{kept}")).exists():
                shutil.copy2(source, logs / f"{name}-{kept}")
        bring_back(name, Path(outs[name]), bool(shape.get("bf16")), out_root, clock)
    pack_logs(logs, out_root)
    clock.say("done")


if __name__ == "__main__":
    main()
