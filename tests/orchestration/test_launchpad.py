"""The launchpad an operator reads: every config field and every resource field says what it is,
choices are enums, and every asset names its owner and carries its stage tag."""

import dagster as dg
import pytest
from dagster._config import ConfigType

from jobs.definitions import build_definitions


def _undescribed(config_type: ConfigType, where: str) -> list[str]:
    missing = []
    for name, field in (getattr(config_type, "fields", None) or {}).items():
        if not (field.description or "").strip():
            missing.append(f"{where}.{name}")
        missing += _undescribed(field.config_type, f"{where}.{name}")
    return missing


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions("local")


def test_every_config_field_of_every_asset_is_described(defs):
    missing = []
    for asset in defs.assets:
        if isinstance(asset, dg.AssetsDefinition) and asset.op.config_field is not None:
            missing += _undescribed(asset.op.config_field.config_type, asset.op.name)
    assert not missing, f"config fields without a description: {missing}"


def test_every_resource_field_is_described(defs):
    """The project's own resources (Dagster's `LazyPySparkResource` documents itself)."""
    missing = []
    for name, resource in defs.resources.items():
        if type(resource).__module__.startswith("resources."):
            for field_name, info in type(resource).model_fields.items():
                if not (info.description or "").strip():
                    missing.append(f"{name}.{field_name}")
    assert not missing, f"resource fields without a description: {missing}"


def test_every_asset_has_an_owner_and_its_stage_tag(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, key
        assert node.tags.get("stage") == node.group_name, key
