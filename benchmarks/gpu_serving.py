"""Decode speed of the repair model on a GPU against the memory-bandwidth bound.

Decoding one token reads every weight once, so one stream cannot beat
`memory bandwidth / weight bytes` tokens/s (7B in bf16 on an H100 SXM: ~3.35 TB/s / ~13.5 GB ~ 250
tokens/s). This script measures: the device's achievable bandwidth (a large device-to-device copy),
then greedy decoding at batch 1, 8 and 32 (fixed length, end of sequence ignored) with Hugging Face
`generate` (what the Triton Python-backend model runs), and prints tokens/s per stream and in total
beside the bound.

    uv run python -m benchmarks.gpu_serving                       # a 7B Llama shape, random bf16 weights
    uv run python -m benchmarks.gpu_serving --model-dir models/code_repair/vN/model --write

Random weights decode as fast as trained ones (same shapes, same bytes), so no download is needed.
`--write` appends the table to the "Triton serving" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

SHAPES = {
    # hidden, layers, heads, kv heads, intermediate, vocab
    "7b": (4096, 32, 32, 32, 11008, 32256),
    "1b": (2048, 24, 16, 16, 5504, 32256),
}
# Published peak memory bandwidth (bytes/s) by device name, for reference beside the measured one.
PEAK_BANDWIDTH = {
    "H200": 4.8e12,
    "H100 SXM": 3.35e12,
    "H100 80GB HBM3": 3.35e12,
    "H100 PCIe": 2.0e12,
    "A100-SXM4-80GB": 2.04e12,
    "A100": 1.56e12,
    "L40S": 0.864e12,
    "L4": 0.3e12,
}


def measured_bandwidth(torch, gib: float = 4.0, repeats: int = 10) -> float:
    """Bytes/s of a device-to-device copy (each byte read once and written once)."""
    n = int(gib * (1 << 30)) // 2
    src = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    del src, dst
    return 2 * n * 2 * repeats / elapsed


def build_model(torch, shape: str | None, model_dir: str | None):
    from transformers import AutoModelForCausalLM, LlamaConfig

    if model_dir:
        return AutoModelForCausalLM.from_pretrained(
            model_dir, torch_dtype=torch.bfloat16
        ).cuda().eval(), model_dir
    hidden, layers, heads, kv, inter, vocab = SHAPES[shape or "7b"]
    config = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        intermediate_size=inter,
        vocab_size=vocab,
        max_position_embeddings=4096,
        torch_dtype="bfloat16",
    )
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    return model.eval(), f"Llama {shape} shape, random weights"


def decode_rate(torch, model, batch: int, prompt_tokens: int, new_tokens: int) -> float:
    """Tokens/s per stream of greedy decoding (prefill excluded by subtracting a 1-token run)."""
    ids = torch.randint(100, 1000, (batch, prompt_tokens), device="cuda")

    def run(n: int) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.inference_mode():
            model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - started

    run(4)  # warm-up
    prefill = run(1)
    return (new_tokens - 1) / (run(new_tokens) - prefill)


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description="GPU decode tokens/s vs the memory-bandwidth bound")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="7b")
    parser.add_argument("--model-dir")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_serving needs a CUDA device")
    device = torch.cuda.get_device_name(0)
    bandwidth = measured_bandwidth(torch)
    peak = next((v for k, v in PEAK_BANDWIDTH.items() if k in device), None)
    model, described = build_model(torch, args.shape, args.model_dir)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bound = bandwidth / weight_bytes
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        per_stream = decode_rate(torch, model, batch, args.prompt_tokens, args.new_tokens)
        rows.append(
            {
                "batch": batch,
                "tokens_per_s_per_stream": per_stream,
                "tokens_per_s_total": per_stream * batch,
                "share_of_bound_per_stream": per_stream / bound,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"### GPU decode vs the memory-bandwidth bound ({device}, {when})",
        "",
        "Command: `uv run python -m benchmarks.gpu_serving"
        + (f" --model-dir {args.model_dir}" if args.model_dir else f" --shape {args.shape}")
        + "`  ",
        (
            f"Model: {described}, {weight_bytes / 1e9:.2f} GB of bf16 weights; HF `generate`, greedy, prompt "
            f"{args.prompt_tokens} tokens, {args.new_tokens} new.  "
        ),
        f"Bandwidth: measured copy {bandwidth / 1e12:.2f} TB/s"
        + (f" (published peak {peak / 1e12:.2f} TB/s)" if peak else "")
        + f"; bound for one stream = {bound:.0f} tokens/s"
        + (f" ({peak / weight_bytes:.0f} at peak)" if peak else "")
        + ".",
        "",
        "| batch | tokens/s per stream | tokens/s total | per stream / bound |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {r['batch']} | {r['tokens_per_s_per_stream']:.0f} | {r['tokens_per_s_total']:.0f} | "
            f"{r['share_of_bound_per_stream']:.0%} |"
            for r in rows
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        from benchmarks.bench_serving import write_section

        write_section(text, append=True)


if __name__ == "__main__":
    main()
