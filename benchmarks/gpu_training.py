"""Single-GPU training throughput: the `single-gpu-lora` preset (LoRA on every projection, bf16,
packing ratio 6.0, the case study's schedule) on a ~190M-parameter Llama built from scratch, for a
few dozen batches. Prints tokens/s and MFU (model FLOPs utilisation against the GPU's dense bf16
peak). Needs only the repository and its virtual environment: the data are synthetic repairs of
the interpreter's own standard library, the tokenizer and model are built on the spot, and
attention is PyTorch SDPA (flash-attn is an optional extra that a bare machine lacks).

    uv run python -m benchmarks.gpu_training                 # on a GPU machine
    uv run python -m benchmarks.gpu_training --cpu-smoke     # the same path, tiny, on CPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

# Dense bf16 peak (no sparsity), TFLOP/s.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
MODEL_DIMS = {"hidden_size": 1024, "num_layers": 12, "num_heads": 16, "intermediate_size": 2816}
SMOKE_DIMS = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}


def peak_tflops(device_name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in device_name), None)


def flops_per_token(params: int, layers: int, hidden: int, seq_len: float, lora: bool) -> float:
    """Training FLOPs per token: 6N for the dense layers (forward 2N, backward 4N), less the 2N of
    weight gradients that frozen LoRA base weights skip, plus attention's 12 * layers * hidden * seq
    (as llm-foundry's MFU counts it, for a causal mask at the mean sequence length)."""
    dense = (4 if lora else 6) * params
    return dense + 12 * layers * hidden * seq_len


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--microbatch", type=int, default=8)
    parser.add_argument("--vocab-size", type=int, default=16000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny model, fp32, 3 batches: checks the path on CPU"
    )
    args = parser.parse_args(argv if argv is not None else [])

    import torch

    from benchmarks.make_synthetic_repairs import synthetic_repairs
    from repair.dataset import build_dataset, write_finetuning_files
    from repair.training import config as tc
    from repair.training.scratch import count_parameters, init_scratch_model, train_tokenizer

    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_training_"))
    dims = SMOKE_DIMS if args.cpu_smoke else MODEL_DIMS
    batches = 3 if args.cpu_smoke else args.batches
    started = time.perf_counter()
    built = build_dataset(synthetic_repairs(per_file=16, max_files=60 if args.cpu_smoke else None))
    write_finetuning_files(built.examples, work / "data")
    train_rows = [e for e in built.examples if e["split"] == "train"]
    tokenizer_dir = train_tokenizer(
        (e["prompt"] + e["response"] for e in train_rows), work / "tokenizer", args.vocab_size
    )
    model_dir = init_scratch_model(work / "scratch", tokenizer_dir, **dims, max_seq_len=4096)
    params = count_parameters(model_dir)
    print(f"data and model ready in {time.perf_counter() - started:.0f} s: {len(train_rows)} train examples, "
          f"{params / 1e6:.0f}M parameters", flush=True)  # fmt: skip

    overrides = {
        "model.pretrained": False,  # the scratch config: no weights to download
        "model.use_flash_attention_2": False,
        "model.attn_implementation": "sdpa",
        "scheduler.t_warmup": "5ba",
        "eval_interval": f"{batches}ba",
        "save_interval": f"{batches}ba",
        "callbacks.hf_checkpointer.save_interval": f"{batches}ba",
        "train_loader.num_workers": 2,
        "eval_loader.num_workers": 2,
    }
    if args.cpu_smoke:
        overrides |= {
            "precision": "fp32",
            "callbacks.hf_checkpointer.precision": "float32",
            "callbacks.memory_monitor": None,
        }
    settings = tc.TrainingSettings(
        preset="single-gpu-lora",
        data_dir=str(work / "data" / "jsonl"),
        model_dir=str(model_dir),
        tokenizer_dir=str(tokenizer_dir),
        run_dir=str(work / "run"),
        max_duration=f"{batches}ba",
        microbatch_size=args.microbatch,
        overrides={k: v for k, v in overrides.items() if v is not None},
    )
    cfg = tc.render_config(settings)
    if args.cpu_smoke:
        del cfg.callbacks["memory_monitor"]
    tc.validate_config(cfg)
    run = tc.run_training(cfg)

    train = [r for r in run.progress if r["event"] == "train"]
    # Throughput after warm-up: between the first record at or past batch 10 and the last one.
    first = next((r for r in train if r["batch"] >= min(10, train[-1]["batch"] - 1)), train[0])
    last = train[-1]
    tokens_per_s = (last["tokens"] - first["tokens"]) / max(last["elapsed_s"] - first["elapsed_s"], 1e-9)
    samples = (last["batch"] - first["batch"]) * cfg.global_train_batch_size
    mean_seq = (last["tokens"] - first["tokens"]) / max(samples, 1)  # tokens per packed sequence
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    flops = flops_per_token(params, dims["num_layers"], dims["hidden_size"], mean_seq, lora=True)
    peak = peak_tflops(device)
    result = {
        "device": device,
        "parameters": params,
        "batches": last["batch"],
        "global_batch": cfg.global_train_batch_size,
        "microbatch": args.microbatch,
        "mean_tokens_per_sequence": round(mean_seq, 1),
        "tokens_per_s": round(tokens_per_s, 1),
        "model_tflops_per_s": round(tokens_per_s * flops / 1e12, 2),
        "mfu": round(tokens_per_s * flops / (peak * 1e12), 4) if peak else None,
        "mfu_full_finetune_convention_6N": round(tokens_per_s * (flops + 2 * params) / (peak * 1e12), 4)
        if peak
        else None,
        "first_loss": train[0]["loss"],
        "final_loss": last["loss"],
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2)
        if torch.cuda.is_available()
        else None,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=1), flush=True)
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
