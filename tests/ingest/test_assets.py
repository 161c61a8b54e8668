"""The ingest assets end to end in Dagster on a hand-made partition in a local store: outputs,
quarantines, metadata and checks, including the failures the checks exist for."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from repair.ingest import blobs_key, load_context
from repair.ingest.frames import read_frame
from repair_assets.ingest import error_states, session_logs, session_timelines
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource
from resources.spark import spark_resource
from tests.ingest.sessions import DAY, write_partition

ASSETS = [session_logs, session_timelines, error_states]


def run(root, **ops):
    # The hand-made partition has 3 bad lines in 19: far above the production bound.
    ops = {"session_logs": {"config": {"max_quarantine_share": 0.5}}, **ops}
    store_resource = ObjectStoreResource(backend="local", root=str(root))
    return dg.materialize(
        ASSETS,
        partition_key=DAY,
        resources={
            "object_store": store_resource,
            "io_manager": ObjectStoreIOManager(object_store=store_resource),
            "spark": spark_resource(),
        },
        run_config={"ops": ops},
        raise_on_error=False,
    )


def checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def metadata(result, asset: str) -> dict:
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_partition_flows_through_with_counts_quarantine_and_checks(tmp_path):
    store = LocalObjectStore(tmp_path)
    writer = write_partition(store)
    result = run(tmp_path)
    assert result.success
    evaluations = checks(result)
    assert sorted(evaluations) == [
        "error_states:counts_reconcile",
        "error_states:quarantine_share",
        "session_logs:counts_reconcile",
        "session_logs:quarantine_share",
        "session_timelines:snapshot_reconstruction",
    ]
    assert all(e.passed for e in evaluations.values()), {k: e.description for k, e in evaluations.items()}

    logs = metadata(result, "session_logs")
    assert logs["lines_read"] == len(writer.events) + 3 == logs["events"] + logs["quarantined"]
    assert logs["quarantined"] == 3
    quarantine = read_frame(store, f"quarantine/session_logs/{DAY}.parquet")
    assert sorted(quarantine["reason"].to_list()) == [
        "invalid UTF-8 at byte 0",
        "truncated line: Unterminated string starting at: line 1 column 70 (char 69)",
        "unknown kind 'telepathy'",
    ]

    states = read_frame(store, f"assets/error_states/{DAY}.parquet")
    assert states.height == 3 == metadata(result, "error_states")["error_states"]
    turtle = states.filter(pl.col("file") == "main.py").row(0, named=True)
    assert turtle["content"].endswith("screen = turtle.screen\n")
    assert turtle["start_line"] == 3 and turtle["code"] == "reportAttributeAccessIssue"
    # Context: shapes.py as it was when main.py was diagnosed (version 2, before session s2).
    (context,) = load_context(store, DAY, [turtle])
    assert context == {"shapes.py": "def square(t):\n    for _ in range(4):\n        t.forward(10)\n"}
    later = states.filter(pl.col("file") == "shapes.py")
    (context,) = load_context(store, DAY, later)
    assert context["main.py"].endswith("square(turtle.Turtle())\n")
    unicode_row = states.filter(pl.col("repl") == "r-unicode").row(0, named=True)
    assert "héllo 👋 中文" in unicode_row["content"] and unicode_row["context"] == []
    assert read_frame(store, blobs_key(DAY)).height == 2  # each context text stored once


def test_a_corrupt_packet_quarantines_every_state_that_depends_on_it(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_partition(store, bad_lines=False)
    key = f"sessions/date={DAY}/shard-000.jsonl"
    lines = store.read_text(key).splitlines()
    # Corrupt the second packet of shapes.py: its crc32 no longer matches.
    for i, raw in enumerate(lines):
        event = json.loads(raw)
        if event["kind"] == "ot" and event["file"] == "shapes.py" and event["version"] == 2:
            event["crc32"] ^= 0xFF
            lines[i] = json.dumps(event, ensure_ascii=False)
    store.write_text(key, "\n".join(lines) + "\n")

    result = run(tmp_path, error_states={"config": {"max_quarantine_share": 1.0}})
    assert result.success
    quarantine = read_frame(store, f"quarantine/error_states/{DAY}.parquet")
    reasons = dict(zip(quarantine["file"].to_list(), quarantine["reason"].to_list(), strict=True))
    # shapes.py's own diagnostic (version 3) and main.py's (whose context holds shapes.py at v2).
    assert set(reasons) == {"shapes.py", "main.py"}
    assert "crc32 mismatch" in reasons["shapes.py"]
    assert reasons["main.py"].startswith("context file shapes.py: depends on an invalid packet")
    states = read_frame(store, f"assets/error_states/{DAY}.parquet")
    assert states["repl"].to_list() == ["r-unicode"]
    invalid = read_frame(store, f"quarantine/error_states/{DAY}.invalid_packets.parquet")
    assert invalid.select("file", "version", "shard").row(0) == ("shapes.py", 2, "shard-000.jsonl")
    check = checks(result)["session_timelines:snapshot_reconstruction"]
    assert check.passed  # stopped by an invalid packet: quarantined downstream, not a mismatch


def test_a_snapshot_that_differs_fails_the_blocking_check_and_names_the_line(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_partition(store)
    store.write_text("snapshots/r-turtle/main.py", "import turtle\nfrom shapes import circle\n")
    store.delete("snapshots/r-unicode/app.py")
    result = run(tmp_path)
    check = checks(result)["session_timelines:snapshot_reconstruction"]
    assert not check.passed
    table = check.metadata["mismatches"].value
    assert "line 2 differs" in table and "shapes import circle" in table
    assert "no snapshot at snapshots/r-unicode/app.py" in table
    # Blocking: nothing downstream of the timelines was computed.
    assert not any(
        m.asset_key.to_user_string() == "error_states" for m in result.get_asset_materialization_events()
    )


def test_a_partition_without_shards_fails_with_the_place_it_looked(tmp_path):
    result = run(tmp_path)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert f"sessions/date={DAY}/" in str(failure.event_specific_data.error.message)


@pytest.mark.slow  # a JVM start and a shuffle: 25 s on an idle 2-core machine
def test_spark_and_polars_engines_give_identical_error_states(tmp_path):
    engine = "spark"
    store = LocalObjectStore(tmp_path)
    write_partition(store)
    assert run(tmp_path).success
    polars_states = read_frame(store, f"assets/error_states/{DAY}.parquet")
    polars_blobs = read_frame(store, blobs_key(DAY))
    result = run(tmp_path, error_states={"config": {"engine": engine}})
    assert result.success and metadata(result, "error_states")["engine"] == engine
    assert read_frame(store, f"assets/error_states/{DAY}.parquet").equals(polars_states)
    assert read_frame(store, blobs_key(DAY)).equals(polars_blobs)


def test_an_empty_shard_is_no_error(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_partition(store, bad_lines=False)
    store.write_bytes(f"sessions/date={DAY}/shard-002.jsonl", b"")
    result = run(tmp_path)
    assert result.success
    check = checks(result)["session_logs:counts_reconcile"]
    assert check.passed and check.metadata["empty_shards"].value == 1
