"""The one Dagster code location: every stage's assets and checks, the resources of the current
environment (`REPAIR_ENV`), and the jobs, schedules and sensors that run the lifecycle.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

import repair_assets
from jobs.environments import build_resources


def _stage_modules():
    return [
        importlib.import_module(f"repair_assets.{info.name}")
        for info in pkgutil.iter_modules(repair_assets.__path__)
        if not info.name.startswith("_")
    ]


def build_definitions(env: str | None = None) -> dg.Definitions:
    modules = _stage_modules()
    return dg.Definitions(
        assets=dg.load_assets_from_modules(modules),
        asset_checks=dg.load_asset_checks_from_modules(modules),
        resources=build_resources(env),
    )


defs = build_definitions()
