"""Tensor plumbing shared by the Python-backend models (`triton_models/code_repair/<N>/model.py` and
the vLLM variant's BLS wrapper). Importable only inside Triton's Python-backend stub."""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from repair.dataset import DEFAULT_WINDOW
from repair.serving.handler import BadRequest, RepairOutcome

OUTPUTS = ("diff", "fixed_code", "status")


def parameter(config: dict, key: str, default: str) -> str:
    """A `parameters` entry of the model config (string values)."""
    return config.get("parameters", {}).get(key, {}).get("string_value", default)


def window_parameter(config: dict, model_window: int | None = DEFAULT_WINDOW) -> int | None:
    """`window`: "" = the model's training window, "all" = the whole file, else a line count."""
    window = parameter(config, "window", "").strip()
    return model_window if not window else None if window == "all" else int(window)


def request_input(request, name: str) -> bytes | None:
    """The one element of input `name` (None when the optional input is absent)."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    values = tensor.as_numpy().reshape(-1)
    if values.size != 1:
        raise BadRequest(f"input '{name}' must hold exactly one element, not {values.size}")
    return values[0]


def response_for(result: RepairOutcome | BadRequest):
    """The section 4 outputs, or this request's own error."""
    if isinstance(result, BadRequest):
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(f"code_repair: {result}")
        )
    return pb_utils.InferenceResponse(
        output_tensors=[
            pb_utils.Tensor(name, np.array([[getattr(result, name).encode("utf-8")]], dtype=np.object_))
            for name in OUTPUTS
        ]
    )
