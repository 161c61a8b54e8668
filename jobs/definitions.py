"""The one Dagster code location: every stage's assets and checks, the resources of the current
environment (`REPAIR_ENV`), and the jobs, schedules and sensors that run the lifecycle.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil

import dagster as dg

import repair_assets
from jobs.automation import JOBS, LOCAL_ONLY_JOBS, SCHEDULES, SENSORS, TRAINS_TAG
from jobs.environments import build_resources, current_environment

# docs/formats.md section 5: the asset keys users, services and tests depend on, by group.
CONTRACT_GROUPS: dict[str, tuple[str, ...]] = {
    "ingest": ("session_logs", "session_timelines", "file_states", "error_states"),
    "diagnostics": ("reproduced_diagnostics",),
    "synthesis": ("repair_candidates", "verified_repairs"),
    "dataset": ("repair_dataset",),
    "training": ("tokenizer", "finetuned_model"),
    "evaluation": ("repair_benchmark", "function_repair_benchmark", "model_evaluation"),
    "deployment": ("triton_deployment",),
}
CONTRACT_ASSETS = frozenset(key for keys in CONTRACT_GROUPS.values() for key in keys)

# A partitioned asset that does not declare how many days one run handles reads `partition_key`: a
# backfill gives it one day per run. (The ingest assets handle ranges and declare their own policy.)
BACKFILL_DAYS_PER_RUN = 1


# By hand only (it trains several models): the `scaling` group is in no lifecycle job. The asset is
# `scaling_curves`: a job may not share its name with an asset.
scaling_experiments = dg.define_asset_job(
    "scaling_experiments",
    selection=dg.AssetSelection.groups("scaling"),
    description="Trains on fractions of the approved dataset and at two model sizes with the same budget; "
    "plots held-out exact match against data size and parameters (repair_assets/scaling.py).",
    tags=TRAINS_TAG,
)

# The simulator writes session logs; production reads real ones and must never get simulated data.
LOCAL_ONLY_MODULES = ("embedded",)


def _stage_modules(env: str):
    return [
        importlib.import_module(f"repair_assets.{info.name}")
        for info in pkgutil.iter_modules(repair_assets.__path__)
        if not info.name.startswith("_") and not (env == "production" and info.name in LOCAL_ONLY_MODULES)
    ]


def _with_bounded_backfills(asset):
    if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def and asset.backfill_policy is None:
        return asset.with_attributes(
            backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)
        )
    return asset


def _with_code_versions(module) -> list:
    """The module's assets, each with a `code_version`: its own when it declares one, else a hash of
    the module's source, so that editing a stage marks what it made (and everything downstream)
    stale in the UI."""
    source_hash = hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:12]
    assets = dg.load_assets_from_modules([module])
    return list(
        dg.map_asset_specs(
            lambda spec: spec if spec.code_version else spec.replace_attributes(code_version=source_hash),
            [a for a in assets if isinstance(a, dg.AssetsDefinition)],
        )
    ) + [a for a in assets if not isinstance(a, dg.AssetsDefinition)]


# Who answers for the assets (shown on the UI's asset pages) unless an asset names its own owner.
DEFAULT_OWNER = "team:ml-ops"


def _owned_and_tagged(asset):
    """Every asset names its owner and carries `stage: <group>`, so the catalog filters by stage."""
    if not isinstance(asset, dg.AssetsDefinition):
        return asset

    def describe(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(
            owners=spec.owners or [DEFAULT_OWNER], tags={**spec.tags, "stage": spec.group_name or "default"}
        )

    return asset.map_asset_specs(describe)


def build_definitions(env: str | None = None) -> dg.Definitions:
    env = env or current_environment()
    modules = _stage_modules(env)
    return dg.Definitions(
        assets=[
            _owned_and_tagged(_with_bounded_backfills(a)) for module in modules for a in _with_code_versions(module)
        ],
        asset_checks=dg.load_asset_checks_from_modules(modules),
        resources=build_resources(env),
        jobs=[
            *(JOBS if env == "local" else [job for job in JOBS if job.name not in LOCAL_ONLY_JOBS]),
            scaling_experiments,
        ],
        schedules=SCHEDULES,
        sensors=SENSORS,
    )


defs = build_definitions()
