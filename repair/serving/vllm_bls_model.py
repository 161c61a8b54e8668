"""Triton Python-backend model `code_repair` for GPU fleets: the section 4 interface in front of
the vLLM-backend model `code_repair_vllm` (Business Logic Scripting). Written into a repository by
`repair.serving.vllm_variant`; it imports the project's `repair` package like the CPU model does.

Each request is validated and turned into the section 3 input here; generation happens in vLLM
(continuous batching across all requests in flight, decoupled, non-streaming), then the diff is
parsed and applied here. Errors are per request.
"""

import asyncio
import json

import numpy as np
import triton_python_backend_utils as pb_utils

from repair.dataset import model_input
from repair.edits import expand_completion
from repair.serving.backend_utils import parameter, request_input, response_for, window_parameter
from repair.serving.handler import BadRequest, build_prompt, outcome_from_completion, parse_request


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.generator = parameter(config, "generator_model", "code_repair_vllm")
        self.window = window_parameter(config)
        self.max_code_chars = int(parameter(config, "max_code_chars", "200000"))
        self.sampling = json.dumps(
            {
                "temperature": float(parameter(config, "temperature", "0.1")),
                "top_p": float(parameter(config, "top_p", "0.95")),
                "top_k": int(parameter(config, "top_k", "50")),
                "max_tokens": int(parameter(config, "max_new_tokens", "128")),
                "stop": ["</diff>"],
                "include_stop_str_in_output": True,
            }
        )

    async def _generate(self, prompt: str) -> str:
        request = pb_utils.InferenceRequest(
            model_name=self.generator,
            requested_output_names=["text_output"],
            inputs=[
                pb_utils.Tensor(
                    "text_input", np.array([model_input(prompt).encode("utf-8")], dtype=np.object_)
                ),
                pb_utils.Tensor("stream", np.array([False], dtype=bool)),
                pb_utils.Tensor("exclude_input_in_output", np.array([True], dtype=bool)),
                pb_utils.Tensor(
                    "sampling_parameters", np.array([self.sampling.encode("utf-8")], dtype=np.object_)
                ),
            ],
        )
        text = ""
        async for response in await request.async_exec(decoupled=True):
            if response.has_error():
                raise RuntimeError(response.error().message())
            output = pb_utils.get_output_tensor_by_name(response, "text_output")
            if output is not None:
                text += output.as_numpy().reshape(-1)[0].decode("utf-8")
        return text

    async def _answer(self, request):
        try:
            parsed = parse_request(
                request_input(request, "code"),
                request_input(request, "diagnostic"),
                request_input(request, "file_name"),
                max_code_chars=self.max_code_chars,
            )
            prompt = build_prompt(parsed, self.window)
            # A model that emits the compact edit (docs/formats.md 2b) answers with its expanded diff.
            completion = expand_completion(prompt, await self._generate(prompt))
        except BadRequest as bad:
            return bad
        except Exception as exc:  # noqa: BLE001 - the generator's error, for this request only
            return BadRequest(f"generation failed: {exc}")
        return outcome_from_completion(parsed.code, completion)

    async def execute(self, requests):
        return [response_for(result) for result in await asyncio.gather(*(self._answer(r) for r in requests))]
