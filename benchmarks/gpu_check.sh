#!/usr/bin/env bash
# GPU check on a lent machine (no network): installs the carried wheels (.whl, the project's
# uv.lock versions of llm-foundry, composer, streaming, transformers 4.51.3, ... that the device
# image lacks or has in another version) into /tmp/site, then runs
#   benchmarks.gpu_serving  (HF decode speed, 7B Llama shape, random bf16 weights)
#   benchmarks.gpu_training (the single-gpu-lora preset on a ~190M scratch Llama, 40 batches)
# Logs go to $OUT. One step failing does not stop the next. Whole script: under 9 minutes.
#
#   bash benchmarks/gpu_check.sh        # from the repo root, with .whl carried and OUT set
set -u -o pipefail
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
START=$SECONDS
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export DISABLE_MLFLOW_INTEGRATION=TRUE WANDB_MODE=disabled

echo "== install carried wheels"
ls .whl/*.whl | wc -l
if python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$OUT/pip_install.log" 2>&1; then
  echo "wheels installed"
else
  echo "pip install failed (rc=$?):"; tail -20 "$OUT/pip_install.log"
fi
# /tmp/site first: the project's pinned versions (transformers 4.51.3, tokenizers 0.21.4,
# huggingface_hub 0.33.5, peft, accelerate, fsspec) shadow the device's newer ones, as llm-foundry
# 0.22 needs them (transformers 4.51 refuses huggingface_hub 1.x at import).
SITE_PATH=/tmp/site:$PWD
DEVICE_PATH=$PWD
export PYTHONPATH=$SITE_PATH

echo "== device"
nvidia-smi -L
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
python3 - <<'EOF' 2>&1 | tee "$OUT/versions.log"
import importlib, importlib.metadata as md, sys
print("python", sys.version.split()[0])
for d in ["torch", "numpy", "transformers", "tokenizers", "huggingface-hub", "peft", "accelerate",
          "safetensors", "llm-foundry", "mosaicml", "mosaicml-streaming", "datasets", "fsspec",
          "omegaconf", "mlflow-skinny", "pandas", "pyarrow"]:
    try:
        print(f"{d:20s} {md.version(d)}")
    except Exception as e:
        print(f"{d:20s} MISSING ({e})")
import torch
print("cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for m in ["transformers", "composer", "llmfoundry", "streaming", "datasets", "peft"]:
    try:
        mod = importlib.import_module(m)
        print(f"import {m:12s} ok  {getattr(mod, '__file__', '')}")
    except Exception as e:
        print(f"import {m:12s} FAILED: {type(e).__name__}: {e}")
EOF

echo "== gpu_serving (7b shape, batches 1,8,32; project's transformers 4.51.3) t=$((SECONDS-START))s"
t0=$SECONDS
timeout 200 python3 -m benchmarks.gpu_serving --shape 7b --batches 1,8,32 2>&1 | tee "$OUT/gpu_serving.log"
rc=$?
echo "gpu_serving rc=$rc in $((SECONDS-t0))s"
if [ $rc -ne 0 ] && [ $((SECONDS-t0)) -lt 60 ]; then
  # Failed early (an import, most likely): measure with the device's own transformers instead.
  echo "== gpu_serving again with the device's own packages (PYTHONPATH=$DEVICE_PATH)"
  PYTHONPATH=$DEVICE_PATH timeout 130 python3 -m benchmarks.gpu_serving --shape 7b --batches 1,8,32 2>&1 \
    | tee "$OUT/gpu_serving_device_stack.log"
  echo "gpu_serving (device stack) rc=$?"
fi

echo "== gpu_training (single-gpu-lora, 40 batches) t=$((SECONDS-START))s"
t0=$SECONDS
left=$((530 - (SECONDS-START)))
[ $left -gt 300 ] && left=300
timeout $left python3 -m benchmarks.gpu_training --batches 40 --microbatch 8 --work /tmp/gpu_training_work 2>&1 \
  | tee "$OUT/gpu_training.log"
echo "gpu_training rc=$? in $((SECONDS-t0))s"
# Keep the run's config/progress files (not the checkpoints) if any were written.
if [ -d /tmp/gpu_training_work/run ]; then
  find /tmp/gpu_training_work/run -maxdepth 2 -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.yaml' -o -name '*.md' \) \
    -size -2M -exec cp {} "$OUT/" \; 2>/dev/null
fi
echo "== done in $((SECONDS-START))s"
