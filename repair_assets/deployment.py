"""Stage `deployment`: `deployment_gate`, whether the approved candidate may replace the serving
model, and `triton_deployment`, the model served by Triton Inference Server (see
docs/deployment.md and `repair.serving`).

`deployment_gate` applies `evals.gate` to `model_evaluation`'s per-item results and the check results
in the registry records of the candidate's dataset and model; the decision with its numbers is its
metadata. `triton_deployment` (`repair.deployment.deploy`, which `repair deploy` calls too) acts only
on a passed decision, and its value is the typed `DeploymentRecord` of what it did: the registry
version (`approved_model`) is written into the deploy repository (`triton_repository/code_repair/<N>/` in the object store),
loaded beside the served model as `code_repair_staging` and smoke-tested over gRPC with real repair
requests, then made the served version, and only then recorded by `repair.registry.set_serving`
(the one record of which version serves). A refused candidate never reaches Triton; the previous
version keeps serving. Triton's health and its `nv_inference_*` metrics go into the metadata.
"""

from dataclasses import asdict

import dagster as dg
from pydantic import Field

from evals.gate import GateSettings
from repair import registry
from repair.deployment import CONSISTENCY_CHECK, SMOKE_CHECK, decide, deploy
from resources.choices import TritonMode
from resources.object_store import ObjectStoreResource
from resources.triton import TritonResource

GROUP = "deployment"
ASSET = "triton_deployment"
CODE_VERSION = "2"
CHECKS = {
    SMOKE_CHECK: "the new version answered every smoke-test repair request over gRPC "
    "(passes with nothing to test when the gate refused the candidate)",
    CONSISTENCY_CHECK: (
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
        "'insufficient evidence' and no deploy. Also what the production benchmark must hold to be the gate "
        "metric (else the executable benchmark's decides, when it holds as many).",
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
    store = object_store.get_store()
    model = approved_model
    serving = registry.serving_version(store)
    decision = decide(store, model.version, model_evaluation.get("results", []), config.settings())
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


def _metadata_value(value):
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    if isinstance(value, str) and "://" in value:
        return dg.MetadataValue.url(value)
    return -1 if value is None else value  # Dagster metadata has no null; -1 is "no version"


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
):
    """The deployment record of the approved model: served by Triton if the gate let it (written into
    the deploy repository, smoke-tested as a staging model, promoted, then recorded as serving in the
    registry), else refused with the gate's reason while the previous version keeps serving."""
    deployment = deploy(
        object_store.get_store(),
        approved_model.version,
        gate_passed=deployment_gate["passed"],
        gate_reason=deployment_gate["reason"],
        connect=triton.connect,
        embedded=triton.mode == TritonMode.embedded,
        serving=triton.serving_config(),
        keep_versions=config.keep_versions,
        smoke_timeout_s=triton.smoke_timeout_s,
        log=context.log.info,
    )
    record = deployment.record
    yield dg.Output(
        record,
        metadata={
            name: _metadata_value(value)
            for name, value in {**asdict(record), **deployment.facts}.items()
        },
    )
    for name, check in deployment.checks.items():
        yield dg.AssetCheckResult(
            check_name=name,
            passed=check.passed,
            metadata={key: _metadata_value(value) for key, value in check.facts.items()},
        )
