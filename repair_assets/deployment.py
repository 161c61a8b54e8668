"""Stage `deployment`: `deployment_gate`, whether the approved candidate may replace the serving
model, and `triton_deployment`, the model served by Triton Inference Server (see
docs/deployment.md and `repair.serving`).

`deployment_gate` applies `evals.gate` to `model_evaluation`'s per-item results and the check results
in the registry records of the candidate's dataset and model; the decision with its numbers is its
metadata. `triton_deployment` acts only on a passed decision: the registry version (`approved_model`)
is written into the deploy repository (`triton_repository/code_repair/<N>/` in the object store),
loaded beside the served model as `code_repair_staging` and smoke-tested over gRPC with real repair
requests, then made the served version, and only then recorded by `repair.registry.set_serving`
(the one record of which version serves). A refused candidate never reaches Triton; the previous
version keeps serving. Triton's health and its `nv_inference_*` metrics go into the metadata.
"""

import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field

from evals.gate import GateSettings
from evals.gate import deployment_gate as decide
from repair import registry
from repair.serving.metrics import fetch_metrics
from repair.serving.repository import MODEL_NAME, DeployRepository
from repair.serving.rollout import ModelControl, ServingPointer, roll_out
from resources.object_store import ObjectStoreResource
from resources.triton import TritonResource

GROUP = "deployment"
ASSET = "triton_deployment"
CODE_VERSION = "2"
CHECKS = {
    "candidate_smoke_test": "the new version answered every smoke-test repair request over gRPC "
    "(passes with nothing to test when the gate refused the candidate)",
    "served_version_consistent": (
        "the registry's serving record, the served model's config and the server agree on the version "
        "that serves, and that version is ready"
    ),
}


class GateConfig(dg.Config):
    metric_floor: float = Field(
        default=GateSettings.metric_floor,
        description="Absolute floor on the gate metric (pass@1 AST match on the production-style benchmark, "
        "else tests pass on the executable one): a candidate scoring below it never deploys.",
    )
    margin: float = Field(
        default=GateSettings.margin,
        description="Non-inferiority margin against the serving model: the lower confidence bound of "
        "(candidate - serving) must be at least -margin.",
    )
    min_paired_items: int = Field(
        default=GateSettings.min_paired_items,
        description="Items scored for both the candidate and the serving model needed to decide; fewer is "
        "'insufficient evidence' and no deploy.",
    )
    confidence: float = Field(default=GateSettings.confidence, description="Paired bootstrap confidence level.")
    baseline: str = Field(
        default=GateSettings.baseline, description="The do-nothing baseline the candidate must beat (a model spec)."
    )

    def settings(self) -> GateSettings:
        return GateSettings(metric_floor=self.metric_floor, margin=self.margin,
                            min_paired_items=self.min_paired_items, confidence=self.confidence,
                            baseline=self.baseline)  # fmt: skip


@dg.asset(
    group_name=GROUP,
    code_version=CODE_VERSION,
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec("candidate_may_deploy", asset="deployment_gate", blocking=False,
                          description="The gate's decision: checks passed, beats no_change, meets the floor, "
                                      "non-inferior to the serving model on enough paired items."),
    ],
)
def deployment_gate(
    context: dg.AssetExecutionContext,
    config: GateConfig,
    object_store: ObjectStoreResource,
    model_evaluation: dict,
    approved_model: registry.VersionRecord,
):
    """The deployment decision for the approved candidate, with its numbers (see evals/gate.py)."""
    import polars as pl

    store = object_store.get_store()
    model = registry.get(store, registry.MODEL, approved_model.version)
    records = [model]
    if registry.DATASET in model.parents:
        records.append(registry.get(store, registry.DATASET, model.parents[registry.DATASET]))
    checks = {f"{r.kind}:{name}": c.passed for r in records for name, c in r.checks.items() if c.blocking}
    serving = registry.serving_version(store)
    candidate = f"finetuned:v{model.version}"
    decision = decide(
        pl.DataFrame(model_evaluation.get("results", [])), candidate,
        None if serving is None else f"finetuned:v{serving}", checks=checks, settings=config.settings(),
    )  # fmt: skip
    context.log.info(f"deployment gate for {model.label}: {'DEPLOY' if decision.passed else 'REFUSED'}: {decision.reason}")
    value = {"passed": decision.passed, "reason": decision.reason, "candidate_version": model.version,
             "serving_version": serving, "decision": decision.as_metadata()}  # fmt: skip
    yield dg.Output(value, metadata={
        "passed": decision.passed,
        "reason": decision.reason,
        "candidate_version": model.version,
        "serving_version": serving if serving is not None else -1,
        "decision": dg.MetadataValue.md(decision.describe()),
        "numbers": dg.MetadataValue.json(decision.as_metadata()),
    })  # fmt: skip
    yield dg.AssetCheckResult(check_name="candidate_may_deploy", passed=decision.passed,
                              description=decision.reason, metadata={"rules": dg.MetadataValue.json(decision.rules)})


class DeploymentConfig(dg.Config):
    keep_versions: int = Field(
        default=3, description="Version folders kept in the deploy repository (the served one always)."
    )


@dg.asset(
    group_name=GROUP,
    code_version=CODE_VERSION,
    kinds={"python", "triton"},
    pool="deployment",
    check_specs=[
        dg.AssetCheckSpec(name, asset=ASSET, description=description, blocking=True)
        for name, description in CHECKS.items()
    ],
)
def triton_deployment(
    context: dg.AssetExecutionContext,
    config: DeploymentConfig,
    deployment_gate: dict,
    approved_model: registry.VersionRecord,
    object_store: ObjectStoreResource,
    triton: TritonResource,
) -> dg.MaterializeResult:
    """The approved model served by Triton, if the gate let it: written into the deploy repository,
    smoke-tested as a staging model, promoted, then recorded as serving in the registry."""
    store = object_store.get_store()
    version = approved_model.version
    serving_before = registry.serving_version(store)
    if not deployment_gate["passed"]:
        reason = f"refused by the deployment gate: {deployment_gate['reason']}"
        context.log.info(f"{ASSET}: {approved_model.label} {reason}; version {serving_before} keeps serving")
        return dg.MaterializeResult(
            metadata={"candidate_version": version, "promoted": False, "reason": reason,
                      "served_version": serving_before if serving_before is not None else -1},
            check_results=[
                dg.AssetCheckResult(check_name="candidate_smoke_test", passed=True,
                                    metadata={"not_run": "the gate refused the candidate; nothing was loaded"}),
                dg.AssetCheckResult(check_name="served_version_consistent", passed=True,
                                    metadata={"serving_version": serving_before if serving_before is not None else -1}),
            ],
        )  # fmt: skip
    repository = DeployRepository(store)
    context.log.info(f"deploying {approved_model.label} (the gate passed: {deployment_gate['reason']})")
    with tempfile.TemporaryDirectory(prefix="repair-deploy-") as tmp:
        checkpoint = registry.fetch_model(store, Path(tmp) / "model", version)
        local_repo = repository.local_path() if triton.mode == "embedded" else None
        with triton.connect(local_repo) as server:
            controls = [ModelControl(url) for url in server.replicas]
            try:
                health_before = {c.url: c.server_health() for c in controls}
                result = roll_out(
                    controls,
                    repository,
                    version,
                    checkpoint,
                    gate_passed=True,
                    serving=triton.serving_config(),
                    keep_versions=config.keep_versions,
                    pointer=ServingPointer(
                        read=lambda: registry.serving_version(store),
                        write=lambda served, facts: registry.set_serving(store, served, **facts),
                    ),
                    pointer_facts={"gate": deployment_gate["reason"], "server": server.grpc_url},
                    smoke_timeout_s=triton.smoke_timeout_s,
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
    consistent = served is None or (
        serving_now == served and repository.served_versions() == [served] and served_ready
    )
    context.log.info(f"{ASSET}: {result.reason}; version {served} serves")
    return dg.MaterializeResult(
        metadata={
            "candidate_version": version,
            "served_version": served if served is not None else -1,
            "previous_version": result.previous_version if result.previous_version is not None else -1,
            "promoted": result.promoted,
            "reason": result.reason,
            "gate_reason": deployment_gate["reason"],
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
            "serving_record": dg.MetadataValue.url(store.uri(registry.SERVING_KEY)),
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
                    "registry_serving": serving_now if serving_now is not None else -1,
                    "config_versions": dg.MetadataValue.json(repository.served_versions()),
                    "served_ready": served_ready,
                },
            ),
        ],
    )
