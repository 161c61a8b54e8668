"""The simulator's partition: deterministic, valid for ingest, real diagnostics, usable ground truth."""

import gzip
import json
from datetime import datetime

import polars as pl
import pytest
from click.testing import CliRunner

from repair.cli import main
from repair.corpus import iter_source_files, stdlib_dir
from repair.ingest.logs import read_partition
from repair.ingest.snapshots import check_snapshots
from repair.ingest.states import build_error_states, end_of_day
from repair.ingest.timelines import build_timelines
from repair.linediff import apply_diff, parse_diff
from repair.lint import lint_batch
from repair.ot import FileReplay
from repair.sessionlog import validate_event
from repair.simulate import MISTAKE_KINDS, SimulationConfig, simulate_partition
from repair.simulate.partition import simulate_repl
from resources.object_store import LocalObjectStore

from .conftest import DAY, SESSIONS, simulate_args


def _events(store, day=DAY):
    for key in store.list(f"sessions/date={day}/"):
        if key.endswith(".jsonl.gz"):
            for line in gzip.decompress(store.read_bytes(key)).decode().splitlines():
                yield json.loads(line)


def _all_bytes(store) -> dict[str, bytes]:
    return {key: store.read_bytes(key) for key in store.list()}


def test_layout_and_session_count(simulated):
    keys = simulated.list()
    assert any(k.startswith(f"sessions/date={DAY}/shard-") and k.endswith(".jsonl.gz") for k in keys)
    assert f"sessions/date={DAY}/REALISM.md" in keys
    assert any(k.startswith(f"ground_truth/date={DAY}/") for k in keys)
    assert any(k.startswith("snapshots/") for k in keys)
    events = list(_events(simulated))
    # Sessions that would start after 20:00 fall on the next day: the day holds the others.
    assert 1 <= len({e["session"] for e in events}) <= SESSIONS
    assert all(validate_event(e) is None for e in events)
    day_start = int(datetime.fromisoformat(f"{DAY}T00:00:00+00:00").timestamp() * 1000)
    assert all(day_start <= e["ts"] < day_start + 86_400_000 for e in events)
    kinds = {e["kind"] for e in events}
    assert {"ot", "lsp_diagnostic", "editor"} <= kinds


def test_same_seed_same_bytes(simulated, tmp_path):
    again = tmp_path / "again"
    assert CliRunner().invoke(main, simulate_args(again)).exit_code == 0
    assert _all_bytes(LocalObjectStore(again)) == _all_bytes(simulated)


def test_another_seed_or_day_gives_other_sessions():
    sources = list(iter_source_files())

    def events(seed: int, day: str):
        config = SimulationConfig(day=day, sessions=2, seed=seed)
        return simulate_repl(0, config, sources, stdlib_dir(), 2).simulator.events

    assert events(11, DAY) == events(11, DAY)
    assert events(11, DAY) != events(12, DAY)
    assert events(11, DAY) != events(11, "2026-11-21")


def check_ingest(store, day=DAY) -> None:
    """Zero quarantine, every snapshot reconstructed, one error state per logged diagnostic."""
    partition = read_partition(store, day)
    assert partition.quarantine.is_empty()
    timelines = build_timelines(partition.events)
    day_end = end_of_day(timelines, None, day)
    checked, mismatches = check_snapshots(day_end.edited, store, day)
    assert checked == len(store.list(f"snapshots/date={day}/"))
    assert mismatches == []
    states = build_error_states(timelines)
    assert states.quarantine.is_empty(), states.quarantine.head(3)
    assert states.invalid_packets.is_empty()
    assert states.states.height == sum(1 for e in _events(store, day) if e["kind"] == "lsp_diagnostic")


def check_reproduction(store, day=DAY, share=0.9) -> None:
    """At least `share` of the logged diagnostics come back when the linters re-run on the replayed
    states (file at its version, the other files at that moment)."""
    states = build_error_states(build_timelines(read_partition(store, day).events))
    blobs = dict(zip(states.blobs["blob"].to_list(), states.blobs["text"].to_list(), strict=True))
    rows = states.states.unique(["repl", "file", "version"], keep="first", maintain_order=True).to_dicts()
    projects = [
        {row["file"]: row["content"], **{ref["path"]: blobs[ref["blob"]] for ref in row["context"] or ()}}
        for row in rows
    ]
    results = lint_batch(projects, [row["file"] for row in rows])
    found = {
        (row["repl"], row["file"], row["version"]): {(d.source, d.code, d.start_line, d.message) for d in r.diagnostics}
        for row, r in zip(rows, results, strict=True)
    }
    logged = states.states.select("repl", "file", "version", "source", "code", "start_line", "message").rows()
    reproduced = sum(1 for repl, file, version, *key in logged if tuple(key) in found[(repl, file, version)])
    assert logged, "the partition has no diagnostics"
    assert reproduced / len(logged) >= share, f"{reproduced} of {len(logged)} reproduce"


def _file_states(store, day, repl: str, file: str) -> dict[int, str]:
    packets = sorted(
        (e for e in _events(store, day) if e["kind"] == "ot" and e["repl"] == repl and e["file"] == file),
        key=lambda e: e["version"],
    )
    replay, texts = FileReplay(), {}
    for packet in packets:
        replay.apply(packet)
        texts[replay.version] = replay.text()
    return texts


def check_ground_truth(store, day=DAY) -> pl.DataFrame:
    """Every clean fix applies to the replayed file at `broken_version`; user fixes match the log."""
    rows = [
        json.loads(line)
        for key in store.list(f"ground_truth/date={day}/")
        for line in store.read_text(key).splitlines()
    ]
    assert rows, "no mistakes were simulated"
    cache: dict[tuple[str, str], dict[int, str]] = {}
    for row in rows:
        texts = cache.setdefault((row["repl"], row["file"]), _file_states(store, day, row["repl"], row["file"]))
        before = texts[row["broken_version"]]
        if row["fixed_version"] is None:
            assert row["broken_version"] == max(texts)
        fixed = apply_diff(before, parse_diff(row["clean_diff"]))
        assert fixed != before, row
        for broken in row["broken_lines"]:
            assert before.split("\n")[broken["line"] - 1] == broken["text"]
        if row["fixed_version"] is not None:
            assert apply_diff(before, parse_diff(row["user_diff"])) == texts[row["fixed_version"]]
        if row["outcome"] == "clean":
            assert fixed == texts[row["fixed_version"]]
        if row["outcome"] in ("with_unrelated_edits", "different"):
            assert row["user_diff"] != row["clean_diff"]
        if row["outcome"] == "never":
            assert row["fixed_version"] is None and row["user_diff"] is None
        assert row["diagnostics"] is not None  # linted
    # Nearly every mistake makes the language server report something that its clean fix removes.
    assert sum(1 for row in rows if row["diagnostics"]) >= 0.8 * len(rows)
    return pl.DataFrame(rows)


def test_ingest_quarantines_nothing_and_snapshots_reconstruct(simulated):
    check_ingest(simulated)


def test_logged_diagnostics_reproduce_on_replayed_states(simulated):
    check_reproduction(simulated)


def test_ground_truth_diffs_apply_to_the_logged_states(simulated):
    frame = check_ground_truth(simulated)
    assert frame["kind"].n_unique() >= 3


@pytest.mark.slow
def test_a_bigger_day_with_every_kind(tmp_path):
    """40 sessions with a mix favouring the kinds that fit few definitions: every kind occurs, and
    every check holds at that size."""
    store = LocalObjectStore(tmp_path)
    day = "2026-11-23"
    rare = {"assign_for_eq": 20.0, "misspelled_method": 20.0, "misspelled_attribute": 5.0, "wrong_argument_count": 5.0,
            "missing_import": 5.0, "unused_import": 3.0}
    mix = {**dict.fromkeys(MISTAKE_KINDS, 1.0), **rare}
    summary = simulate_partition(store, SimulationConfig(day=day, sessions=40, seed=2, mix=mix))
    assert summary.sessions_begun == 40 and summary.lint_errors == 0
    check_ingest(store, day)
    check_reproduction(store, day)
    frame = check_ground_truth(store, day)
    assert set(frame["kind"].to_list()) == set(MISTAKE_KINDS)
    assert set(frame["outcome"].to_list()) >= {"clean", "with_unrelated_edits", "never"}


def test_files_end_as_written_apart_from_mistakes_left_in():
    """After all sessions every file reads as its definitions were meant (renames, comments and
    "different" fixes included), except the mistakes never fixed: typing, typos, undo/redo, pastes
    and formatting lose or garble nothing (trailing spaces aside, which only a format removes)."""
    sources = list(iter_source_files())
    config = SimulationConfig(day=DAY, sessions=60, seed=4)

    def tidy(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.split("\n"))

    for number in range(25):
        sim = simulate_repl(number, config, sources, stdlib_dir(), 3).simulator
        for f in sim.files:
            expected = "".join(text if i in f.broken else f.intended[i] for i, text in enumerate(f.segments))
            assert tidy(f.flushed) == tidy(expected), (sim.repl, f.path)
            if not f.broken and f.version:
                compile(f.flushed, f.path, "exec")
