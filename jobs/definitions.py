"""The one Dagster code location: every stage's assets and checks, the resources of the current
environment (`REPAIR_ENV`), and the jobs, schedules and sensors that run the lifecycle.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import pkgutil
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[1]
# The pure logic an asset module calls (docs/architecture.md): part of what a stage's code is.
LIBRARY_PACKAGES = ("repair", "evals")


def _module_file(name: str, root: Path) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _library_imports(path: Path, root: Path) -> frozenset[str]:
    """The `repair`/`evals` modules a source file imports anywhere (imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from repair import registry` names a module; `from repair.ot import replay` a function.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {
            name for name in names if name.split(".")[0] in LIBRARY_PACKAGES and _module_file(name, root)
        }
    return frozenset(found)


def stage_code_version(module_name: str, root: Path = ROOT) -> str:
    """A hash of an asset module's source and of every `repair`/`evals` module it reaches through
    its imports: assets are thin, so editing the library code a stage runs is editing the stage."""
    sources: dict[str, bytes] = {}
    queue = [module_name]
    while queue:
        name = queue.pop()
        path = _module_file(name, root)
        if name in sources or path is None:
            continue
        sources[name] = path.read_bytes()
        queue += sorted(_library_imports(path, root) - set(sources))
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{name}\n".encode() + sources[name])
    return digest.hexdigest()[:12]


def _with_code_versions(module) -> list:
    """The module's assets, each with a `code_version`: its own when it declares one, else the
    stage's (`stage_code_version`), so that editing a stage or the library code it runs marks what it
    made (and, once rebuilt, everything downstream) stale in the UI."""
    source_hash = stage_code_version(module.__name__)
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
