"""OT replay: real editing traces, properties over non-ASCII text, and every invalid packet."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repair import ot
from repair.ingest.traces import TRACE_NAMES, load_trace, trace_events
from repair.ot import (
    Document,
    FileReplay,
    OTError,
    StateRequest,
    apply_ops,
    crc32_text,
    make_packet,
    ops_between,
    ops_from_patch,
    replay_states,
)


def replay_all(events, check_crc=True) -> str:
    replay = FileReplay(check_crc=check_crc)
    for event in events:
        replay.apply(event)
    return replay.text()


# --- real traces ------------------------------------------------------------------------------


def test_traces_ship_inside_the_repository_with_their_licence(traces_dir):
    """A clone with nothing beside it must replay the traces: they live in the repository."""
    root = Path(__file__).resolve().parents[2]
    assert traces_dir.resolve().is_relative_to(root)
    for name in TRACE_NAMES:
        assert (traces_dir / f"{name}.json.gz").is_file(), name
    note = (traces_dir / "README.md").read_text()
    assert "CC BY 4.0" in note and "josephg/editing-traces" in note


def test_sveltecomponent_trace_replays_to_end_content_with_crc(traces_dir):
    trace = load_trace(traces_dir / "sveltecomponent.json.gz")
    events = trace_events(trace)
    assert replay_all(events) == trace["endContent"]


def test_rustcode_trace_replays_to_end_content(traces_dir):
    trace = load_trace(traces_dir / "rustcode.json.gz")
    assert replay_all(trace_events(trace, with_crc=False), check_crc=False) == trace["endContent"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rustcode", "sveltecomponent", "automerge-paper"])
def test_every_trace_replays_to_end_content_with_crc(traces_dir, name):
    trace = load_trace(traces_dir / f"{name}.json.gz")
    assert replay_all(trace_events(trace)) == trace["endContent"]


def test_trace_states_in_one_pass_equal_replaying_from_the_start(traces_dir):
    trace = load_trace(traces_dir / "sveltecomponent.json.gz")
    events = trace_events(trace, with_crc=False)
    stamps = sorted({events[i]["ts"] for i in range(0, len(events), len(events) // 15)})
    versions = [1, len(events) // 3, len(events)]
    requests = [StateRequest(("ts", t), ts=t) for t in stamps] + [
        StateRequest(("v", v), version=v) for v in versions
    ]
    states = {s.request.key: s for s in replay_states(events, requests, check_crc=False)}
    assert len(states) == len(requests)
    for t in stamps:
        assert states[("ts", t)].text == replay_all([e for e in events if e["ts"] <= t], check_crc=False)
    for v in versions:
        assert states[("v", v)].text == replay_all(events[:v], check_crc=False)
    assert states[("v", len(events))].text == trace["endContent"]


# --- properties -------------------------------------------------------------------------------

# ASCII, newlines, accents, combining marks, CJK, emoji (astral plane) and a ZWJ sequence.
TEXT = st.text(
    alphabet=st.sampled_from(
        list("ab z\n\té") + ["\u0301", "\u0308", "中", "文", "字", "😀", "👋", "🏽", "\u200d"]
    ),
    max_size=30,
)


def reference_apply(text: str, ops) -> str:
    """The contract read literally, one op at a time on a plain string."""
    cursor = 0
    for op in ops:
        ((kind, value),) = op.items()
        if kind == "skip":
            assert cursor + value <= len(text)
            cursor += value
        elif kind == "insert":
            text = text[:cursor] + value + text[cursor:]
            cursor += len(value)
        else:
            assert cursor + value <= len(text)
            text = text[:cursor] + text[cursor + value :]
    return text


@st.composite
def packets(draw, text: str):
    """A valid random left-to-right walk over `text`."""
    ops, cursor = [], 0
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["skip", "insert", "delete"]))
        room = len(text) - cursor
        if kind == "insert":
            value = draw(TEXT)
            ops.append({"insert": value})
            text = text[:cursor] + value + text[cursor:]
            cursor += len(value)
        else:
            n = draw(st.integers(0, room))
            ops.append({kind: n})
            if kind == "skip":
                cursor += n
            else:
                text = text[:cursor] + text[cursor + n :]
    return ops


@settings(max_examples=300, deadline=None)
@given(data=st.data(), start=TEXT)
def test_chunked_document_matches_the_contract_read_literally(data, start):
    with pytest.MonkeyPatch.context() as patch:
        # Chunk boundaries are where a chunked document can go wrong: put them everywhere.
        patch.setattr(ot, "CHUNK", 3)
        patch.setattr(ot, "MAX_CHUNK", 6)
        doc, expected = Document(start), start
        for version in range(1, 8):
            ops = data.draw(packets(expected))
            doc.apply(ops, version)
            expected = reference_apply(expected, ops)
            assert len(doc) == len(expected)
            assert doc.text() == expected


@settings(max_examples=300, deadline=None)
@given(old=TEXT, new=TEXT)
def test_ops_between_turns_old_into_new_with_one_span(old, new):
    ops = ops_between(old, new)
    assert apply_ops(old, ops) == new
    assert [k for op in ops for k in op] in (
        [],
        ["skip"],
        ["delete"],
        ["insert"],
        ["skip", "delete"],
        ["skip", "insert"],
        ["delete", "insert"],
        ["skip", "delete", "insert"],
    )
    changed = sum(op.get("delete", 0) + len(op.get("insert", "")) for op in ops)
    # Minimal for one span: nothing of the common prefix or suffix is touched.
    prefix = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    assert changed <= len(old) + len(new) - 2 * prefix
    if old == new:
        assert ops == []


@settings(max_examples=200, deadline=None)
@given(states=st.lists(TEXT, min_size=1, max_size=8), data=st.data())
def test_replay_states_gives_every_version_and_time(states, data):
    events, prev = [], ""
    for version, text in enumerate(states, start=1):
        events.append({**make_packet(prev, text, version), "ts": version * 10})
        prev = text
    versions = data.draw(st.lists(st.integers(1, len(states)), max_size=5))
    stamps = data.draw(st.lists(st.integers(0, 10 * len(states) + 5), max_size=5))
    requests = [StateRequest(i, version=v) for i, v in enumerate(versions)]
    requests += [StateRequest(100 + i, ts=t) for i, t in enumerate(stamps)]
    got = {s.request.key: s for s in replay_states(events, requests)}
    for i, v in enumerate(versions):
        assert got[i].text == states[v - 1] and got[i].version == v
    for i, t in enumerate(stamps):
        at = t // 10
        assert got[100 + i].text == (states[min(at, len(states)) - 1] if at else None)


@given(TEXT)
def test_crc32_is_over_utf8_bytes(text):
    assert crc32_text(text) == zlib.crc32(text.encode("utf-8"))


def test_cursor_counts_code_points_not_utf16_units_or_bytes():
    # "😀" is 1 code point, 2 UTF-16 units, 4 bytes; "é" + combining acute is 2 code points.
    assert apply_ops("😀e\u0301x", [{"skip": 3}, {"insert": "!"}]) == "😀e\u0301!x"
    assert apply_ops("中文😀", [{"skip": 2}, {"delete": 1}]) == "中文"


# --- invalid packets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "reason"),
    [
        ([{"skip": 6}], "skip 6 past the end"),
        ([{"skip": 2}, {"delete": 4}], "delete 4 past the end"),
        ([{"retain": 1}], "unknown op 'retain'"),
        ([{"skip": "1"}], "skip needs a non-negative int"),
        ([{"skip": -1}], "skip needs a non-negative int"),
        ([{"delete": True}], "delete needs a non-negative int"),
        ([{"delete": 1.0}], "delete needs a non-negative int"),
        ([{"insert": 5}], "insert needs a string"),
        ([{"insert": None}], "insert needs a string"),
        (["skip"], "malformed op"),
        ([{"skip": 1, "insert": "x"}], "malformed op"),
        ([{}], "malformed op"),
        ({"skip": 1}, "ops must be a list"),
        (None, "ops must be a list"),
    ],
)
def test_invalid_ops_raise_with_the_reason(ops, reason):
    with pytest.raises(OTError, match=reason) as caught:
        Document("hello").apply(ops, 3)
    assert caught.value.version == 3
    assert reason in caught.value.reason


def test_document_length_stays_true_when_a_packet_breaks_midway():
    doc = Document("hello")
    with pytest.raises(OTError):
        doc.apply([{"insert": "ab"}, {"skip": 99}])
    assert len(doc) == len(doc.text()) == 7


def file_events(*texts):
    events, prev = [], ""
    for version, text in enumerate(texts, start=1):
        events.append({**make_packet(prev, text, version), "ts": version})
        prev = text
    return events


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e[1].update(version=3), "version gap: expected 2, got 3"),
        (lambda e: e[1].update(version=1), "version repeated: expected 2, got 1"),
        (lambda e: e[1].update(version="2"), "version must be an int"),
        (lambda e: e[1].update(crc32=e[1]["crc32"] ^ 1), "crc32 mismatch"),
        (lambda e: e[1].update(crc32=-1), "crc32 must be an unsigned 32-bit int"),
        (lambda e: e[1].pop("crc32"), "crc32 must be an unsigned 32-bit int"),
        (lambda e: e[1].update(ops=[{"skip": 50}]), "skip 50 past the end"),
    ],
)
def test_invalid_packets_taint_every_later_state(mutate, reason):
    events = file_events("a", "ab", "abc")
    mutate(events)
    replay = FileReplay()
    replay.apply(events[0])
    with pytest.raises(OTError, match=reason):
        replay.apply(events[1])
    with pytest.raises(OTError):  # nothing more is accepted once the file is untrustworthy
        replay.apply(events[2])

    requests = [
        StateRequest("v1", version=1),
        StateRequest("v3", version=3),
        StateRequest("t1", ts=1),
        StateRequest("t2", ts=2),
        StateRequest("t9", ts=9),
    ]
    got = {s.request.key: s for s in replay_states(events, requests)}
    assert got["v1"].text == got["t1"].text == "a" and got["v1"].error is None
    for key in ("v3", "t2", "t9"):
        assert got[key].text is None
        assert reason in got[key].error and "depends on an invalid packet" in got[key].error


def test_a_version_never_logged_is_an_error_not_a_guess():
    (state,) = replay_states(file_events("a"), [StateRequest("x", version=5)])
    assert state.text is None and "version 5 never logged" in state.error


def test_ops_from_patch_refuses_a_patch_that_does_not_fit():
    assert ops_from_patch(0, 0, "", 0) == []
    assert ops_from_patch(2, 1, "x", 3) == [{"skip": 2}, {"delete": 1}, {"insert": "x"}]
    with pytest.raises(ValueError, match="does not fit"):
        ops_from_patch(2, 2, "", 3)


# --- at-least-once delivery and replay that starts from an earlier day -------------------------


def test_an_exact_duplicate_packet_is_applied_once():
    events = file_events("a", "ab", "abc")
    replay = FileReplay()
    for event in [events[0], events[1], dict(events[1]), events[2], dict(events[2])]:
        replay.apply(event)
    assert replay.text() == "abc" and replay.version == 3 and replay.duplicates == 2


def test_a_redelivered_packet_without_crc_checks_is_matched_by_its_ops():
    events = file_events("a", "ab")
    replay = FileReplay(check_crc=False)
    for event in [events[0], events[1], dict(events[1])]:
        replay.apply(event)
    assert replay.text() == "ab" and replay.duplicates == 1


def test_the_same_version_with_other_content_is_still_invalid():
    events = file_events("a", "ab")
    other = {**make_packet("a", "aX", 2), "ts": 2}
    replay = FileReplay()
    replay.apply(events[0])
    replay.apply(events[1])
    with pytest.raises(OTError, match="version repeated: expected 3, got 2"):
        replay.apply(other)


def test_replay_continues_from_an_earlier_days_state():
    events = file_events("a", "ab", "abc", "abcd")
    replay = FileReplay(text="ab", version=2)
    requests = [StateRequest("v2", version=2), StateRequest("v4", version=4), StateRequest("t0", ts=0)]
    got = {s.request.key: s for s in replay_states(events[2:], requests, replay=replay)}
    assert got["v2"].text == "ab" and got["t0"].text == "ab"  # the state the day started from
    assert got["v4"].text == "abcd" and got["v4"].error is None


def test_a_file_first_seen_mid_history_names_the_missing_earlier_state():
    events = file_events("a", "ab", "abc")
    replay = FileReplay()
    with pytest.raises(OTError, match="no earlier state of the file"):
        replay.apply(events[2])
