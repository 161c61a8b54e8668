"""Deploying an approved model version to Triton: what the `triton_deployment` asset and `repair
deploy` both call (docs/deployment.md).

`decide` applies the deployment gate (`evals.gate`) to a version's evaluation results; only a
version the gate passed is deployed: it is written into the deploy repository
(`triton_repository/code_repair/<N>/` in the object store), loaded beside the served model as a
staging model, smoke-tested over gRPC, made the served version and only then recorded by
`repair.registry.set_serving` (the rollout itself is `repair.serving.rollout.roll_out`). A refused
candidate never reaches Triton; the previous version keeps serving. The outcome is a typed
`DeploymentRecord` (the asset's value) plus the two blocking checks' results and the facts an
operator reads (smoke answers, server health, `nv_inference_*` metrics).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from evals.gate import GateSettings
from repair import registry
from repair.object_store import ObjectStore
from repair.serving.repository import DEFAULT_SERVING, MODEL_NAME, DeployRepository, ServingConfig

SMOKE_CHECK = "candidate_smoke_test"
CONSISTENCY_CHECK = "served_version_consistent"


class TritonServer(Protocol):
    grpc_url: str
    metrics_url: str
    replicas: tuple[str, ...]  # every replica's gRPC URL (one server: its own)


# Opens the server for one deployment: given the deploy repository's local folder (None for a
# remote server, which reads the repository from the bucket itself).
Connect = Callable[[Path | None], AbstractContextManager[TritonServer]]


@dataclass(frozen=True)
class DeploymentRecord:
    """What one deployment did, as the `triton_deployment` asset passes it on (docs/formats.md)."""

    candidate_version: int
    served_version: int | None  # None: nothing serves
    previous_version: int | None
    promoted: bool
    reason: str
    gate_reason: str
    server: str  # gRPC address; empty when the gate refused and no server was contacted
    deployed_at: str
    model: str = MODEL_NAME

    def to_dict(self) -> dict[str, Any]:
        return {"record_type": "DeploymentRecord", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentRecord:
        return cls(**{k: v for k, v in data.items() if k != "record_type"})


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    record: DeploymentRecord
    checks: dict[str, CheckResult]  # SMOKE_CHECK, CONSISTENCY_CHECK
    facts: dict[str, Any]  # smoke answers, health, metrics, where the repository and record are


def decide(store: ObjectStore, version: int, results: Sequence[dict[str, Any]], settings: GateSettings):
    """The deployment gate (`evals.gate`) for model `version` on its per-item evaluation `results`,
    with the blocking check results of its registry record and its dataset's, against the version
    that serves now."""
    import polars as pl

    from evals.gate import deployment_gate
    from evals.run import blocking_checks

    checks = blocking_checks(store, registry.get(store, registry.MODEL, version))
    serving = registry.serving_version(store)
    return deployment_gate(
        pl.DataFrame(list(results)),
        f"finetuned:v{version}",
        None if serving is None else f"finetuned:v{serving}",
        checks=checks,
        settings=settings,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def deploy(
    store: ObjectStore,
    version: int,
    *,
    gate_passed: bool,
    gate_reason: str,
    connect: Connect,
    embedded: bool,
    serving: ServingConfig = DEFAULT_SERVING,
    keep_versions: int = 3,
    smoke_timeout_s: float | None = None,
    log: Callable[[str], None] = print,
) -> Deployment:
    """Deploys model `version` if `gate_passed`, through the server `connect` opens (`embedded`: one
    started on the repository's local folder for this deployment), on every replica it names."""
    serving_before = registry.serving_version(store)
    if not gate_passed:
        reason = f"refused by the deployment gate: {gate_reason}"
        log(f"model v{version} {reason}; version {serving_before} keeps serving")
        record = DeploymentRecord(version, serving_before, serving_before, False, reason, gate_reason, "", _now())
        return Deployment(
            record,
            {
                SMOKE_CHECK: CheckResult(True, {"not_run": "the gate refused the candidate; nothing was loaded"}),
                CONSISTENCY_CHECK: CheckResult(True, {"serving_version": serving_before}),
            },
            {},
        )
    from repair.serving.metrics import fetch_metrics
    from repair.serving.rollout import SMOKE_TIMEOUT_S, ModelControl, registry_pointer, roll_out

    repository = DeployRepository(store)
    log(f"deploying model v{version} (the gate passed: {gate_reason})")
    with tempfile.TemporaryDirectory(prefix="repair-deploy-") as tmp:
        checkpoint = registry.fetch_model(store, Path(tmp) / "model", version)
        with connect(repository.local_path() if embedded else None) as server:
            controls = [ModelControl(url) for url in server.replicas]
            try:
                health_before = {c.url: c.server_health() for c in controls}
                result = roll_out(
                    controls,
                    repository,
                    version,
                    checkpoint,
                    gate_passed=True,
                    serving=serving,
                    keep_versions=keep_versions,
                    pointer=registry_pointer(store),
                    pointer_facts={"gate": gate_reason, "server": server.grpc_url},
                    smoke_timeout_s=SMOKE_TIMEOUT_S if smoke_timeout_s is None else smoke_timeout_s,
                )
                served = result.served_version
                served_ready = served is not None and all(c.is_ready(MODEL_NAME, served) for c in controls)
                health = {c.url: c.server_health() for c in controls}
                metrics = {}
                if server.metrics_url:
                    metrics = {
                        "staging": fetch_metrics(server.metrics_url, repository.staging_name),
                        "served": fetch_metrics(server.metrics_url, MODEL_NAME),
                    }
            finally:
                for control in controls:
                    control.close()

    # The pointer moved inside roll_out, with the served config, once the version was loaded, ready
    # and had answered the smoke test.
    serving_now = registry.serving_version(store)
    config_versions = repository.served_versions()
    consistent = served is None or (serving_now == served and config_versions == [served] and served_ready)
    log(f"{result.reason}; version {served} serves")
    record = DeploymentRecord(
        version, served, result.previous_version, result.promoted, result.reason, gate_reason, server.grpc_url, _now()
    )
    smoke = result.candidate_smoke
    return Deployment(
        record,
        {
            SMOKE_CHECK: CheckResult(
                smoke.ok, {"answered": smoke.answered, "requests": smoke.requests, "errors": smoke.errors}
            ),
            CONSISTENCY_CHECK: CheckResult(
                bool(consistent),
                {"registry_serving": serving_now, "config_versions": config_versions, "served_ready": served_ready},
            ),
        },
        {
            "candidate_smoke": smoke.to_dict(),
            "served_smoke": result.served_smoke.to_dict() if result.served_smoke else {},
            "load_seconds": round(result.load_seconds, 1),
            "health_before": health_before,
            "health": health,
            "served_ready": served_ready,
            "nv_inference_metrics": metrics,
            "repository": store.uri(repository.prefix),
            "serving_record": store.uri(registry.SERVING_KEY),
        },
    )
