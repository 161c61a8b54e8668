"""The vLLM-backend variant of the served model, for GPU fleets (the Triton image with the vLLM
backend: `nvcr.io/nvidia/tritonserver:<yy.mm>-vllm-python-py3`).

`write_vllm_repository(out, checkpoint)` writes a model repository with two models:

```
<out>/code_repair_vllm/config.pbtxt   backend "vllm", decoupled, KIND_MODEL (vLLM places itself)
<out>/code_repair_vllm/1/model.json   vLLM engine arguments: the checkpoint, dtype, memory, length
<out>/code_repair/config.pbtxt        the SAME section 4 interface as the CPU model (rendered from
                                      triton_models/code_repair/config.pbtxt), Python backend
<out>/code_repair/1/model.py          BLS wrapper (repair/serving/vllm_bls_model.py): validate,
                                      build the section 3 input, call code_repair_vllm, apply the diff
```

Clients (`repair.serving.client`, `repair fix`) therefore need no change. vLLM receives
`text_input`, `stream`=false, `exclude_input_in_output`=true and `sampling_parameters` JSON with the
case study's decoding (temperature 0.1, top_p 0.95, top_k 50) and `stop: ["</diff>"]`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from repair.dataset import DEFAULT_WINDOW
from repair.model import read_prompt_window
from repair.serving.repository import (
    MODEL_NAME,
    ServingConfig,
    config_text,
    parse_config,
    render_config,
    template_config,
)

GENERATOR_NAME = f"{MODEL_NAME}_vllm"
BLS_SOURCE = Path(__file__).with_name("vllm_bls_model.py")


@dataclass(frozen=True)
class VllmEngineArgs:
    """What goes into `model.json` (vLLM `AsyncEngineArgs` names)."""

    model: str
    dtype: str = "bfloat16"
    gpu_memory_utilization: float = 0.9
    max_model_len: int = 4096
    tensor_parallel_size: int = 1
    enforce_eager: bool = False
    disable_log_requests: bool = True


def vllm_config(name: str = GENERATOR_NAME) -> str:
    return (
        f'name: "{name}"\n'
        'backend: "vllm"\n'
        "# vLLM streams responses: the backend requires a decoupled model.\n"
        "model_transaction_policy { decoupled: true }\n"
        "input [\n"
        '  { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] },\n'
        '  { name: "stream" data_type: TYPE_BOOL dims: [ 1 ] optional: true },\n'
        '  { name: "sampling_parameters" data_type: TYPE_STRING dims: [ 1 ] optional: true },\n'
        '  { name: "exclude_input_in_output" data_type: TYPE_BOOL dims: [ 1 ] optional: true }\n'
        "]\n"
        'output [ { name: "text_output" data_type: TYPE_STRING dims: [ -1 ] } ]\n'
        "# KIND_MODEL: vLLM decides device placement (tensor_parallel_size in model.json).\n"
        "instance_group [ { count: 1 kind: KIND_MODEL } ]\n"
    )


def wrapper_config(wrapper_instances: int = 1, window: int | None = DEFAULT_WINDOW) -> str:
    """The CPU model's config (same inputs, outputs, parameters) as the BLS front of the vLLM model:
    no dynamic batching (vLLM batches continuously), CPU instances, the generator named, and the
    prompt window the model was trained with (vLLM cannot tell the wrapper)."""
    config = parse_config(
        render_config(
            template_config(),
            name=MODEL_NAME,
            versions=None,
            serving=ServingConfig(
                instance_kind="KIND_CPU", instance_count=wrapper_instances, dynamic_batching=False
            ),
        )
    )
    del config.parameters["checkpoint_dir"]
    config.parameters["window"].string_value = "all" if window is None else str(window)
    config.parameters["generator_model"].string_value = GENERATOR_NAME
    # A diff model sampled as in the case study (the CPU template's 0 is for an edit model's beams).
    config.parameters["temperature"].string_value = "0.1"
    del config.parameters["edit_candidates"]
    return config_text(config)


def write_vllm_repository(
    out_dir: str | Path, engine: VllmEngineArgs, wrapper_instances: int = 4, window: int | None | str = "auto"
) -> list[Path]:
    """Writes the two-model repository described in the module doc; returns the files written.
    `window` "auto" reads the trained window from the checkpoint when it is readable here."""
    out = Path(out_dir)
    if window == "auto":
        window = read_prompt_window(engine.model) if Path(engine.model).is_dir() else DEFAULT_WINDOW
    files = {
        out / GENERATOR_NAME / "config.pbtxt": vllm_config(),
        out / GENERATOR_NAME / "1" / "model.json": json.dumps(asdict(engine), indent=2) + "\n",
        out / MODEL_NAME / "config.pbtxt": wrapper_config(wrapper_instances, window),
        out / MODEL_NAME / "1" / "model.py": BLS_SOURCE.read_text(),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write the vLLM-backend Triton repository for a checkpoint.")
    parser.add_argument("out_dir")
    parser.add_argument("checkpoint", help="HF checkpoint path as the GPU server sees it")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    args = parser.parse_args(argv)
    engine = VllmEngineArgs(
        model=args.checkpoint,
        dtype=args.dtype,
        max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization,
        tensor_parallel_size=args.tensor_parallel_size,
    )
    for path in write_vllm_repository(args.out_dir, engine):
        print(path)


if __name__ == "__main__":
    main()
