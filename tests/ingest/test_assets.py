"""The ingest assets end to end in Dagster on a hand-made partition in a local store: outputs,
quarantines, metadata and checks, including the failures the checks exist for."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from repair.ingest import blobs_key, load_context
from repair.ingest.frames import read_frame
from repair_assets.ingest import error_states, file_states, session_logs, session_timelines
from resources.io_manager import ObjectStoreIOManager
from resources.object_store import LocalObjectStore, ObjectStoreResource
from resources.spark import spark_resource
from tests.ingest.sessions import DAY, DAYS, write_days, write_partition

ASSETS = [session_logs, session_timelines, file_states, error_states]


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
        "file_states:snapshot_reconstruction",
        "session_logs:counts_reconcile",
        "session_logs:quarantine_share",
        "session_timelines:events_within_day",
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
    check = checks(result)["file_states:snapshot_reconstruction"]
    assert check.passed  # stopped by an invalid packet: quarantined downstream, not a mismatch


def test_a_snapshot_that_differs_fails_the_blocking_check_and_names_the_line(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_partition(store)
    store.write_text("snapshots/r-turtle/main.py", "import turtle\nfrom shapes import circle\n")
    store.delete("snapshots/r-unicode/app.py")
    result = run(tmp_path)
    check = checks(result)["file_states:snapshot_reconstruction"]
    assert not check.passed
    table = check.metadata["mismatches"].value
    assert "line 2 differs" in table and "shapes import circle" in table
    assert "no snapshot at snapshots/date=2026-01-05/r-unicode/app.py or snapshots/r-unicode/app.py" in table
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


# --- several days: backfills of a range, and files that outlive a day --------------------------

RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}


def run_days(root, partition_key=None, tags=None):
    store_resource = ObjectStoreResource(backend="local", root=str(root))
    return dg.materialize(
        ASSETS,
        partition_key=partition_key,
        tags=tags,
        resources={
            "object_store": store_resource,
            "io_manager": ObjectStoreIOManager(object_store=store_resource),
            "spark": spark_resource(),
        },
        raise_on_error=False,
    )


def stored_outputs(store) -> dict[str, pl.DataFrame]:
    return {
        key: read_frame(store, key)
        for key in store.list()
        if key.startswith(("assets/", "quarantine/")) and key.endswith(".parquet")
    }


def test_three_days_in_one_run_give_what_three_runs_give(tmp_path):
    one, three = LocalObjectStore(tmp_path / "one"), LocalObjectStore(tmp_path / "three")
    write_days(one)
    write_days(three)
    result = run_days(tmp_path / "one", tags=RANGE_TAGS)
    assert result.success
    materialized = {
        (m.asset_key.to_user_string(), m.partition) for m in result.get_asset_materialization_events()
    }
    assert {(a, d) for a in ("session_logs", "file_states", "error_states") for d in DAYS} <= materialized
    for day in DAYS:
        assert run_days(tmp_path / "three", partition_key=day).success
    ours, theirs = stored_outputs(one), stored_outputs(three)
    assert sorted(ours) == sorted(theirs)
    assert any(k.startswith("assets/file_states/") for k in ours)
    for key, frame in ours.items():
        assert frame.equals(theirs[key]), key


def test_files_begun_on_an_earlier_day_replay_without_a_version_gap(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_days(store)
    result = run_days(tmp_path, tags=RANGE_TAGS)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    for day in DAYS:
        assert read_frame(store, f"quarantine/error_states/{day}.parquet").is_empty(), day
    day2 = read_frame(store, f"assets/error_states/{DAYS[1]}.parquet").row(0, named=True)
    assert day2["version"] == 2 and "aera(2)" in day2["content"]
    (context,) = load_context(store, DAYS[1], [day2])
    assert context == {"lib.py": "def area(r):\n    return 3.14 * r * r\n"}  # edited only on day 1
    day3 = read_frame(store, f"assets/error_states/{DAYS[2]}.parquet").row(0, named=True)
    (context,) = load_context(store, DAYS[2], [day3])
    assert context == {"lib.py": "def area(r):\n    return 3.14159 * r * r\n"}
    states = read_frame(store, f"assets/file_states/{DAYS[2]}.parquet")
    assert states.select("file", "version", "last_edited").rows() == [
        ("lib.py", 2, DAYS[2]),
        ("main.py", 4, DAYS[2]),
    ]
    carried = read_frame(store, f"assets/file_states/{DAYS[1]}.parquet")
    assert carried.filter(pl.col("file") == "lib.py").row(0, named=True)["last_edited"] == DAYS[0]


def test_a_file_first_seen_mid_history_is_quarantined_with_the_reason(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_days(store)
    result = run_days(tmp_path, partition_key=DAYS[1])  # day 1 never ingested: no earlier state
    assert not checks(result)["error_states:quarantine_share"].passed
    (reason,) = read_frame(store, f"quarantine/error_states/{DAYS[1]}.parquet")["reason"].to_list()
    assert "version gap: expected 1, got 2 (no earlier state of the file" in reason


def test_an_old_day_rerun_is_checked_against_its_own_snapshot(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_days(store)
    assert run_days(tmp_path, tags=RANGE_TAGS).success
    again = run_days(tmp_path, partition_key=DAYS[0])  # the latest copies are day 3's by now
    check = checks(again)["file_states:snapshot_reconstruction"]
    assert check.passed, check.metadata["mismatches"].value


def test_without_dated_copies_the_latest_snapshot_is_compared_and_named(tmp_path):
    store = LocalObjectStore(tmp_path)
    write_days(store, dated_snapshots=False)
    result = run_days(tmp_path, partition_key=DAYS[0])
    check = checks(result)["file_states:snapshot_reconstruction"]
    assert not check.passed
    assert "snapshots/r-multi/main.py: line 2 only in the snapshot" in check.metadata["mismatches"].value


def test_hostile_paths_and_redelivered_packets_neither_crash_nor_stop_replay(tmp_path):
    store = LocalObjectStore(tmp_path)
    writer = write_partition(store, bad_lines=False)
    hostile = {**writer.events[0], "repl": "../../outside"}
    redelivered = [e for e in writer.events if e["kind"] == "ot"][:3]  # at-least-once delivery
    store.write_bytes(
        f"sessions/date={DAY}/shard-002.jsonl",
        b"\n".join(json.dumps(e).encode() for e in [hostile, *redelivered]) + b"\n",
    )
    result = run(tmp_path)
    assert result.success
    quarantine = read_frame(store, f"quarantine/session_logs/{DAY}.parquet")
    assert quarantine["reason"].to_list() == [
        "field 'repl' must be a non-empty id without '/', '\\' or control characters, got \"../../outside\""
    ]
    assert not (tmp_path.parent / "outside").exists()
    assert read_frame(store, f"quarantine/error_states/{DAY}.parquet").is_empty()
    assert metadata(result, "file_states")["duplicate_packets"] == 3
