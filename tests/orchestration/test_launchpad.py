"""The launchpad an operator reads: every config field and every resource field says what it is,
choices are enums, and every asset names its owner and carries its stage tag."""

import re

import dagster as dg
import pytest
from dagster._config import ConfigType, ConfigTypeKind

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


# How a description lists a fixed set of values: "one of a, b", "a, b or c", "a: ...; b: ...", or
# three or more bare words in a row; and field names that by convention hold a choice.
CHOICE_DESCRIPTION = re.compile(
    r"\b(one|any) of\b"
    r"|\b[\w-]+, [\w-]+,? or [\w-]+\b"
    r"|\b[\w-]+, [\w-]+, [\w-]+\b"
    r"|^\w+: [^;]+; \w+:"
    r"|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+ or [A-Z][A-Z0-9]*_[A-Z0-9_]+\b"
)
CHOICE_NAME = re.compile(r"(mode|kinds?|engine|executor|backend|preset|teachers|evidence)$")


def _string_leaf(config_type: ConfigType) -> bool:
    while config_type.kind in (ConfigTypeKind.NONEABLE, ConfigTypeKind.ARRAY):
        config_type = config_type.inner_type
    return config_type.kind != ConfigTypeKind.ENUM and "String" in config_type.key


def _string_choices(config_type: ConfigType, where: str) -> list[str]:
    found = []
    for name, field in (getattr(config_type, "fields", None) or {}).items():
        if _string_leaf(field.config_type) and (
            CHOICE_NAME.search(name) or CHOICE_DESCRIPTION.search(field.description or "")
        ):
            found.append(f"{where}.{name}: {field.description}")
        found += _string_choices(field.config_type, f"{where}.{name}")
    return found


def _config_types(defs: dg.Definitions):
    for asset in defs.assets:
        if isinstance(asset, dg.AssetsDefinition) and asset.op.config_field is not None:
            yield asset.op.name, asset.op.config_field.config_type
    for name, resource in defs.resources.items():
        if type(resource).__module__.startswith("resources."):
            yield name, resource.get_resource_definition().config_schema.config_type


def test_choice_fields_are_enums(defs):
    """A field whose values are a fixed set is an enum (the launchpad offers the values and Dagster
    refuses others before the run starts), not a string whose description lists them."""
    strings = [found for where, config_type in _config_types(defs) for found in _string_choices(config_type, where)]
    assert not strings, "choice fields typed as strings (make them enums, resources/choices.py):\n" + "\n".join(strings)


def test_a_choice_outside_the_enum_is_refused_before_the_run():
    from repair_assets.training import FinetunedModelConfig
    from resources.choices import TrainingPreset

    assert FinetunedModelConfig().preset == TrainingPreset("cpu-tiny")
    with pytest.raises(Exception, match="cpu-huge"):
        FinetunedModelConfig(preset="cpu-huge")


@pytest.mark.parametrize(
    "description",
    [
        "one of serial, process, spark",
        "Override the executor (process, thread or spark); empty: the resource's.",
        "A preset: cpu-tiny (finetunes the base), cpu-tiny-scratch, single-gpu-lora, deepseek-coder-7b.",
        "embedded: this process starts Triton; remote: a running server at `url`.",
        "Where the model's instances run: KIND_CPU or KIND_GPU.",
    ],
)
def test_the_choice_scan_recognises_listed_choices(description):
    assert CHOICE_DESCRIPTION.search(description)


def test_every_asset_has_an_owner_and_its_stage_tag(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, key
        assert node.tags.get("stage") == node.group_name, key
