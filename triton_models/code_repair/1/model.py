"""Triton Python-backend model `code_repair` (docs/formats.md section 4).

Loads the finetuned Hugging Face checkpoint (parameter `checkpoint_dir`, relative to this version's
folder or absolute) with `repair.model.RepairModel`, and answers each batch through
`repair.serving.handler.RepairService`: validate, build the section 3 input, generate with the
decoding parameters of the config, parse and apply the diff. A malformed request gets its own
`TritonError`; the other requests of the batch are answered and the model keeps serving.

The Python-backend stub imports the project's `repair` package: the server is started with the
project root on `PYTHONPATH` and the venv's `bin` first on `PATH` (see `repair/serving/server.py`).
"""

import json
import os

import triton_python_backend_utils as pb_utils

from repair.model import RepairModel
from repair.serving.backend_utils import parameter, request_input, response_for, window_parameter
from repair.serving.handler import (
    DEFAULT_MAX_DIAGNOSTIC_CHARS,
    OUTCOME_KINDS,
    BadRequest,
    RepairService,
    internal_error,
    outcome_kind,
    parse_request,
)

WARMUP_DIAGNOSTIC = '{"message": "warm-up", "code": "warmup", "source": "ruff", "line": 1}'


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        checkpoint = os.path.join(version_dir, parameter(config, "checkpoint_dir", "checkpoint"))
        if not os.path.isfile(os.path.join(checkpoint, "config.json")):
            raise pb_utils.TritonModelException(
                f"code_repair version {args['model_version']}: no Hugging Face checkpoint at {checkpoint}; "
                "deploy a model with the `triton_deployment` asset (docs/deployment.md)"
            )
        gpu = args.get("model_instance_kind") == "GPU"
        device = f"cuda:{args.get('model_instance_device_id', '0')}" if gpu else "cpu"
        if not gpu:
            import torch

            torch.set_num_threads(int(parameter(config, "cpu_threads", "1")))
        self.model = RepairModel(
            checkpoint,
            device=device,
            max_new_tokens=int(parameter(config, "max_new_tokens", "128")),
            temperature=float(parameter(config, "temperature", "0.0")),
            top_p=float(parameter(config, "top_p", "0.95")),
            top_k=int(parameter(config, "top_k", "50")),
            edit_candidates=int(parameter(config, "edit_candidates", "4")),
        )
        self.service = RepairService(self.model.generate, window=window_parameter(config, self.model.window))
        self.max_code_chars = int(parameter(config, "max_code_chars", "200000"))
        self.max_diagnostic_chars = int(
            parameter(config, "max_diagnostic_chars", str(DEFAULT_MAX_DIAGNOSTIC_CHARS))
        )
        # One generation before the instance reports ready: the first call pays for lazy
        # initialisation, and a rollout moves traffic only to an instance that is warm.
        self.service.handle([parse_request("x = 1\n", WARMUP_DIAGNOSTIC, max_code_chars=self.max_code_chars)])
        # Triton counts a request the model answers with an error as a success in
        # nv_inference_request_*: this family tells fixed / no_fix / rejected / bad_request apart.
        self.outcome_family = pb_utils.MetricFamily(
            name="code_repair_outcomes_total",
            description="code_repair requests by outcome",
            kind=pb_utils.MetricFamily.COUNTER,
        )
        self.outcome_counters = {
            kind: self.outcome_family.Metric(
                labels={"model": args["model_name"], "version": args["model_version"], "outcome": kind}
            )
            for kind in OUTCOME_KINDS
        }
        pb_utils.Logger.log_info(f"code_repair version {args['model_version']}: {checkpoint} on {device}")

    def execute(self, requests):
        # Every failure belongs to one request (a RecursionError from a deeply nested diagnostic
        # included): it becomes that request's error, never the batch's.
        parsed = []
        for request in requests:
            try:
                parsed.append(
                    parse_request(
                        request_input(request, "code"),
                        request_input(request, "diagnostic"),
                        request_input(request, "file_name"),
                        max_code_chars=self.max_code_chars,
                        max_diagnostic_chars=self.max_diagnostic_chars,
                    )
                )
            except BadRequest as bad:
                parsed.append(bad)
            except Exception as exc:  # noqa: BLE001
                parsed.append(internal_error(exc))
        try:
            results = self.service.handle(parsed)
        except Exception as exc:  # noqa: BLE001 - the service isolates requests; this is a last guard
            results = [r if isinstance(r, BadRequest) else internal_error(exc) for r in parsed]
        responses = []
        for result in results:
            try:
                self.outcome_counters[outcome_kind(result)].increment(1)
                responses.append(response_for(result))
            except Exception as exc:  # noqa: BLE001
                responses.append(response_for(internal_error(exc)))
        return responses

    def finalize(self):
        self.outcome_counters = {}  # metrics go before their family
        self.outcome_family = None
        self.model = None
