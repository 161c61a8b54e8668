"""The `reproduced_diagnostics` asset in Dagster: output, quarantine, metadata and its blocking
Great Expectations checks."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from dagster_pyspark import LazyPySparkResource

from repair.ingest import blobs_key
from repair.ingest.frames import read_frame, write_frame
from repair.ingest.states import BLOBS_SCHEMA, blob_id
from repair.reproduce import REASONS, Reproduction
from repair_assets.diagnostics import CHECKS, check_results, reproduced_diagnostics
from resources.io_manager import ObjectStoreIOManager
from resources.linter import LinterResource
from resources.object_store import LocalObjectStore, ObjectStoreResource
from tests.diagnostics.states import EXPECTED_COUNTS, HELPER, PARTITION

TIMELINE_SCHEMA = {
    "repl": pl.String, "session": pl.String, "seq": pl.Int64, "ts": pl.Int64, "kind": pl.String,
    "file": pl.String, "version": pl.Int64, "event": pl.String,
}  # fmt: skip


def _materialize(tmp_path, frame, **linter):
    store = ObjectStoreResource(backend="local", root=str(tmp_path))
    local = LocalObjectStore(tmp_path)
    write_frame(local, f"assets/error_states/{PARTITION}.parquet", frame)
    write_frame(local, blobs_key(PARTITION), pl.DataFrame([(blob_id(HELPER), HELPER)], schema=BLOBS_SCHEMA, orient="row"))
    # No timeline events: every diagnostic showed until its session ended (settled by `pause`, which
    # the run config turns on: by default only the user's acts settle).
    write_frame(local, f"assets/session_timelines/{PARTITION}.parquet", pl.DataFrame(schema=TIMELINE_SCHEMA))
    upstream = [
        dg.AssetSpec(key, partitions_def=reproduced_diagnostics.partitions_def)
        for key in ("error_states", "session_timelines")
    ]
    result = dg.materialize(
        [*upstream, reproduced_diagnostics],
        partition_key=PARTITION,
        resources={
            "object_store": store,
            "io_manager": ObjectStoreIOManager(object_store=store),
            "linter": LinterResource(executor="serial", **linter),
            "spark": LazyPySparkResource(spark_config={}),
        },
        # The fixture logs one mistake at several versions on purpose, to reach every other reason;
        # its mistakes are never fixed, so `left_unfixed` (tested in test_settle.py) would take them.
        run_config={
            "ops": {"reproduced_diagnostics": {"config": {
                "one_state_per_mistake": False, "drop_left_unfixed": False, "settle_evidence": ["pause"],
            }}}
        },
        raise_on_error=False,
    )
    return result, local


def test_asset_quarantines_dropped_rows_and_passes_its_checks(tmp_path, error_states):
    frame, _ = error_states
    result, store = _materialize(tmp_path, frame)
    assert result.success
    kept = read_frame(store, f"assets/reproduced_diagnostics/{PARTITION}.parquet")
    quarantined = read_frame(store, f"quarantine/reproduced_diagnostics/{PARTITION}.parquet")
    assert kept.height == EXPECTED_COUNTS["kept"] and quarantined.height == frame.height - kept.height
    assert {"reason", "detail", "diagnostic_id"} <= set(quarantined.columns)
    (materialization,) = result.asset_materializations_for_node("reproduced_diagnostics")
    metadata = materialization.metadata
    assert metadata["dropped_generated_or_vendored"].value == 3 and metadata["input_rows"].value == 15
    assert "pyright:reportUndefinedVariable | 2 | 1 | 0.50" in metadata["reproduction_rate_per_rule"].value
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == dict.fromkeys(CHECKS, True)


def test_a_low_reproduction_rate_fails_the_blocking_check(tmp_path, error_states):
    frame, _ = error_states
    result, _ = _materialize(tmp_path, frame, min_reproduction_rate=0.95)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["reproduction_rate"].passed
    assert evaluations["reproduction_rate"].metadata["floor"].value == 0.95
    assert not result.success  # blocking: the run fails, so nothing downstream runs on it


def test_great_expectations_checks_catch_bad_rows(error_states):
    frame, _ = error_states
    bad = frame.head(3).with_columns(
        reproduced_message=pl.lit("m"),
        start_line=pl.Series([0, 99, 1]),  # line 100 of a 6-line file
        severity=pl.Series(["error", "fatal", "warning"]),
        message=pl.Series(["a", None, "c"]),
    )
    outcome = Reproduction(kept=bad, dropped=frame.head(0), counts={"input": 3, "kept": 3} | dict.fromkeys(REASONS, 0))
    results = {r.check_name: r for r in check_results(outcome, 0.5)}
    assert not results["fields_present"].passed
    assert not results["line_within_file"].passed
    assert not results["severity_values"].passed
    assert "fatal" in str(results["severity_values"].metadata["failures"].value)
    assert results["counts_reconcile"].passed and results["reproduction_rate"].passed  # nothing linted here


@pytest.mark.slow
def test_simulated_day_reproduces_end_to_end(tmp_path, monkeypatch):
    """Simulator -> ingest -> reproduction: what the simulator's IDE logged, re-linting must
    reproduce (same linters, same configuration), and every check passes."""
    from click.testing import CliRunner

    from jobs.environments import build_resources
    from repair.cli import main
    from repair_assets import ingest

    day = "2026-03-05"
    simulated = CliRunner().invoke(main, ["simulate", "--day", day, "--sessions", "4", "--store", str(tmp_path)])
    assert simulated.exit_code == 0, simulated.output
    monkeypatch.setenv("REPAIR_STORE_ROOT", str(tmp_path))
    result = dg.materialize(
        [ingest.session_logs, ingest.session_timelines, ingest.file_states, ingest.error_states, reproduced_diagnostics],
        partition_key=day,
        resources=build_resources("local"),
    )
    (materialization,) = result.asset_materializations_for_node("reproduced_diagnostics")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["input_rows"] > 0 and metadata["kept_rows"] > 0
    assert metadata["dropped_not_reproduced"] == 0 and metadata["reproduction_rate"] == 1.0
    # The simulator's ground truth measures the settle filter, per evidence and per rule.
    assert metadata["dropped_unsettled"] > 0 and 0 < metadata["settle_precision"] <= 1
    assert {r.data["evidence"] for r in metadata["settle_quality_by_evidence"].records} >= {"(all)", "(unsettled)"}
    assert all(e.passed for e in result.get_asset_check_evaluations())
