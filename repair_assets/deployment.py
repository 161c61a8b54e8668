"""Stage `deployment`: `triton_deployment`, the finetuned model served by Triton Inference Server
(see docs/deployment.md and `repair.serving`).

One run: the registry version from `finetuned_model` (`models/code_repair/v<N>/`) is written into
the deploy repository (`triton_repository/code_repair/<N>/` in the object store), loaded beside the
served model as `code_repair_staging` and smoke-tested over gRPC with real repair requests, then made
the served version only if `model_evaluation`'s gate passed; otherwise the previous version keeps
serving. The served version is recorded in `deployments/code_repair/current.json` (what the
evaluation gate compares against next time); every run also leaves a record under
`deployments/code_repair/history/`. Triton's health and its `nv_inference_*` metrics go into the
materialization's metadata.
"""

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from repair.serving.metrics import fetch_metrics
from repair.serving.repository import MODEL_NAME, DeployRepository
from repair.serving.rollout import ModelControl, roll_out
from resources.object_store import ObjectStore, ObjectStoreResource
from resources.triton import TritonResource

ASSET = "triton_deployment"
REGISTRY_PREFIX = f"models/{MODEL_NAME}"
CURRENT_KEY = f"deployments/{MODEL_NAME}/current.json"
HISTORY_PREFIX = f"deployments/{MODEL_NAME}/history"
CHECKS = {
    "candidate_smoke_test": "the new version answered every smoke-test repair request over gRPC",
    "served_version_consistent": (
        "current.json, the served model's config and the server agree on the version that serves, "
        "and that version is ready"
    ),
}


class DeploymentConfig(dg.Config):
    keep_versions: int = 3  # version folders kept in the deploy repository (the served one always)


def registry_version(finetuned_model: Any, store: ObjectStore) -> int:
    """The registry version `finetuned_model` names (`version`, or `v<N>` in a `registry_key`/`uri`),
    else the newest `models/code_repair/v<N>/` in the store."""
    if isinstance(finetuned_model, dict):
        for key in ("registry_version", "version"):
            value = finetuned_model.get(key)
            if isinstance(value, int) or (isinstance(value, str) and value.lstrip("v").isdigit()):
                return int(str(value).lstrip("v"))
        for key in ("registry_key", "registry_prefix", "uri", "path"):
            match = re.search(rf"{REGISTRY_PREFIX}/v(\d+)", str(finetuned_model.get(key, "")))
            if match:
                return int(match.group(1))
    versions = sorted(
        {
            int(m.group(1))
            for k in store.list(REGISTRY_PREFIX + "/")
            if (m := re.match(rf"{REGISTRY_PREFIX}/v(\d+)/", k))
        }
    )
    if not versions:
        raise FileNotFoundError(
            f"no model in the registry {store.uri(REGISTRY_PREFIX)}: materialize finetuned_model"
        )
    return versions[-1]


def gate_verdict(model_evaluation: Any) -> tuple[bool, str]:
    """(passed, why) from `model_evaluation`: `gate: {passed, reason}` or `gate_passed`."""
    if isinstance(model_evaluation, dict):
        gate = model_evaluation.get("gate")
        if isinstance(gate, dict) and "passed" in gate:
            return bool(gate["passed"]), str(gate.get("reason", ""))
        if isinstance(gate, bool):
            return gate, ""
        if "gate_passed" in model_evaluation:
            return bool(model_evaluation["gate_passed"]), str(model_evaluation.get("gate_reason", ""))
    return False, "model_evaluation carries no gate verdict"


def checkpoint_folder(root: Path) -> Path:
    """The folder of a downloaded registry entry that holds the Hugging Face checkpoint."""
    candidates = sorted(
        p.parent for p in root.rglob("config.json") if (p.parent / "tokenizer_config.json").is_file()
    )
    if not candidates:
        raise FileNotFoundError(
            f"registry entry {root} holds no Hugging Face checkpoint (config.json + tokenizer)"
        )
    return min(candidates, key=lambda p: len(p.parts))


def read_current(store: ObjectStore) -> dict | None:
    return json.loads(store.read_text(CURRENT_KEY)) if store.exists(CURRENT_KEY) else None


@dg.asset(
    group_name="deployment",
    kinds={"python", "triton"},
    check_specs=[
        dg.AssetCheckSpec(name, asset=ASSET, description=description, blocking=True)
        for name, description in CHECKS.items()
    ],
)
def triton_deployment(
    context: dg.AssetExecutionContext,
    config: DeploymentConfig,
    finetuned_model: Any,
    model_evaluation: Any,
    object_store: ObjectStoreResource,
    triton: TritonResource,
) -> dg.MaterializeResult:
    """The finetuned model served by Triton: written into the deploy repository, smoke-tested as a
    staging model, and promoted to `code_repair` only when the evaluation gate passed."""
    store = object_store.get_store()
    repository = DeployRepository(store)
    version = registry_version(finetuned_model, store)
    gate_passed, gate_reason = gate_verdict(model_evaluation)
    context.log.info(f"deploying {REGISTRY_PREFIX}/v{version} (evaluation gate passed: {gate_passed})")

    with tempfile.TemporaryDirectory(prefix="repair-deploy-") as tmp:
        checkpoint = checkpoint_folder(
            store.download_dir(f"{REGISTRY_PREFIX}/v{version}", Path(tmp) / "registry")
        )
        local_repo = repository.local_path() if triton.mode == "embedded" else None
        with triton.connect(local_repo) as server:
            control = ModelControl(server.grpc_url)
            try:
                health_before = control.server_health()
                result = roll_out(
                    control,
                    repository,
                    version,
                    checkpoint,
                    gate_passed=gate_passed,
                    serving=triton.serving_config(),
                    keep_versions=config.keep_versions,
                )
                served = result.served_version
                served_ready = served is not None and control.is_ready(MODEL_NAME, served)
                health = control.server_health()
                metrics = {}
                if server.metrics_url:
                    metrics = {
                        "staging": fetch_metrics(server.metrics_url, repository.staging_name),
                        "served": fetch_metrics(server.metrics_url, MODEL_NAME),
                    }
            finally:
                control.close()

    now = datetime.now(UTC).isoformat(timespec="seconds")
    record = {
        "model": MODEL_NAME,
        "version": served,
        "registry_key": f"{REGISTRY_PREFIX}/v{served}" if served is not None else None,
        "deployed_at": now,
        "candidate_version": version,
        "promoted": result.promoted,
        "previous_version": result.previous_version,
        "gate": {"passed": gate_passed, "reason": gate_reason},
        "reason": result.reason,
    }
    if result.promoted:
        store.write_text(CURRENT_KEY, json.dumps(record, indent=1))
    store.write_text(
        f"{HISTORY_PREFIX}/{now.replace(':', '')}-v{version}.json",
        json.dumps({**record, "rollout": result.to_dict()}, indent=1),
    )
    current = read_current(store)
    consistent = served is None or (
        current is not None
        and current.get("version") == served
        and repository.served_versions() == [served]
        and served_ready
    )
    context.log.info(f"{ASSET}: {result.reason}; version {served} serves")
    return dg.MaterializeResult(
        metadata={
            "candidate_version": version,
            "served_version": served if served is not None else -1,
            "previous_version": result.previous_version if result.previous_version is not None else -1,
            "promoted": result.promoted,
            "reason": result.reason,
            "gate_passed": gate_passed,
            "gate_reason": gate_reason,
            "candidate_smoke": dg.MetadataValue.json(result.candidate_smoke.to_dict()),
            "served_smoke": dg.MetadataValue.json(
                result.served_smoke.to_dict() if result.served_smoke else {}
            ),
            "load_seconds": round(result.load_seconds, 1),
            "server": server.grpc_url,
            "health_before": dg.MetadataValue.json(health_before),
            "health": dg.MetadataValue.json(health),
            "served_ready": served_ready,
            "nv_inference_metrics": dg.MetadataValue.json(metrics),
            "repository": dg.MetadataValue.url(store.uri(repository.prefix)),
            "current": dg.MetadataValue.url(store.uri(CURRENT_KEY)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="candidate_smoke_test",
                passed=result.candidate_smoke.ok,
                metadata={
                    "answered": result.candidate_smoke.answered,
                    "requests": result.candidate_smoke.requests,
                    "errors": dg.MetadataValue.json(result.candidate_smoke.errors),
                },
            ),
            dg.AssetCheckResult(
                check_name="served_version_consistent",
                passed=bool(consistent),
                metadata={
                    "current_json": dg.MetadataValue.json(current or {}),
                    "config_versions": dg.MetadataValue.json(repository.served_versions()),
                    "served_ready": served_ready,
                },
            ),
        ],
    )
