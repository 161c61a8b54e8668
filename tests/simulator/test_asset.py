"""The `simulated_sessions` asset writes a partition that the ingest stage can read."""

import dagster as dg
import pytest

from repair.ingest.logs import read_partition
from repair_assets.embedded import simulated_sessions
from resources.object_store import ObjectStoreResource

DAY = "2026-11-21"


def _materialize(resource: ObjectStoreResource, config: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [simulated_sessions],
        partition_key=DAY,
        resources={"object_store": resource},
        run_config={"ops": {"simulated_sessions": {"config": config}}},
        raise_on_error=False,
    )


def test_simulated_sessions_materializes_a_partition(tmp_path):
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    result = _materialize(resource, {"sessions": 2, "seed": 5})
    assert result.success
    materialization = result.asset_materializations_for_node("simulated_sessions")[0]
    assert materialization.metadata["sessions"].value == 2
    assert materialization.metadata["diagnostics"].value > 0
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"every_session_written", "diagnostics_linted"}
    assert all(c.passed for c in checks)
    partition = read_partition(resource.get_store(), DAY)
    assert partition.quarantine.is_empty()
    assert partition.events["session"].n_unique() == 2


def test_unknown_mistake_kind_is_refused_with_its_name_before_the_run(tmp_path):
    resource = ObjectStoreResource(backend="local", root=str(tmp_path))
    with pytest.raises(dg.DagsterInvalidConfigError, match="typo_in_comment"):
        _materialize(resource, {"sessions": 1, "mix": {"typo_in_comment": 1.0}})
