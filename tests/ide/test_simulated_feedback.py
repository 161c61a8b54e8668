"""The simulator's `repair_feedback` events: users accept an offer that matches their own fix and
refuse others; the demo's partition carries them and ingest keeps them."""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict

import pytest

from repair.ingest.logs import read_partition
from repair.object_store import LocalObjectStore
from repair.simulate import SimulationConfig, simulate_partition
from repair.simulate.feedback import FeedbackModel, mistake_feedback
from repair.simulate.session import MistakeRecord

BEFORE = "import os\n\nvalue = os.getcwd()\nprint(valeu)\n"
CLEAN = "import os\n\nvalue = os.getcwd()\nprint(value)\n"
CAUSED = [{"source": "ruff", "code": "F821", "line": 4, "message": "Undefined name `valeu`", "has_code_action": False}]


def _record(user_fix: str | None) -> MistakeRecord:
    return MistakeRecord(
        repl="r1", session="s1", file="main.py", kind="misspelled_name", outcome="clean" if user_fix else "never",
        segment=0, line_in_segment=3, introduced_version=4, introduced_ts=1_000_000, broken_version=5,
        fixed_session="s2" if user_fix else None, fixed_version=6 if user_fix else None,
        fixed_ts=1_020_000 if user_fix else None, before_fix=BEFORE, clean_fix=CLEAN, user_fix=user_fix,
    )  # fmt: skip


def test_a_right_offer_is_accepted():
    events = mistake_feedback(_record(CLEAN), CAUSED, model=FeedbackModel(accuracy=1.0))
    assert [e["action"] for e in events] == ["offered", "accepted"]
    assert events[0]["diff"] == "<diff>\n-4 print(valeu)\n+4 print(value)\n</diff>"
    assert events[0]["prompt"].endswith("<error_line>4 print(valeu)</error_line>")
    assert events[1]["session"] == "s2" and events[0]["ts"] < events[1]["ts"] <= 1_020_000


def test_a_wrong_offer_is_refused_with_the_users_fix_or_undone():
    outcomes = Counter()
    for seed in range(40):
        events = mistake_feedback(_record(CLEAN), CAUSED, seed, FeedbackModel(accuracy=0.0, undo_share=0.3))
        actions = tuple(e["action"] for e in events)
        outcomes[actions] += 1
        assert events[0]["diff"] != "<diff>\n-4 print(valeu)\n+4 print(value)\n</diff>"
        if actions == ("offered", "rejected"):
            assert events[1]["user_diff"] == "<diff>\n-4 print(valeu)\n+4 print(value)\n</diff>"
    assert set(outcomes) == {("offered", "rejected"), ("offered", "accepted", "undone")}


def test_an_offer_on_a_mistake_never_fixed_is_refused_without_a_user_fix():
    events = mistake_feedback(_record(None), CAUSED, model=FeedbackModel(accuracy=0.0))
    assert [e["action"] for e in events] == ["offered", "rejected"] and "user_diff" not in events[1]
    assert mistake_feedback(_record(None), [], model=FeedbackModel()) == []  # nothing reported, no offer


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory):
    store = LocalObjectStore(tmp_path_factory.mktemp("day"))
    simulate_partition(store, SimulationConfig(day="2026-11-21", sessions=3, seed=5))
    return store


def test_the_simulated_day_has_feedback_that_ingest_keeps(simulated_day):
    store = simulated_day
    shards = store.list("sessions/date=2026-11-21/")
    events = [
        json.loads(line)
        for key in shards
        if key.endswith(".jsonl.gz")
        for line in gzip.decompress(store.read_bytes(key)).decode().splitlines()
    ]
    feedback = [e for e in events if e["kind"] == "repair_feedback"]
    assert feedback, "no repair_feedback events in the simulated day"
    by_offer = defaultdict(list)
    for e in feedback:
        by_offer[(e["diagnostic_id"], e["diff"])].append(e["action"])
    assert all(a in (["offered", "accepted"], ["offered", "rejected"], ["offered", "accepted", "undone"]) for a in by_offer.values())
    truth = [json.loads(line) for key in store.list("ground_truth/date=2026-11-21/") for line in store.read_text(key).splitlines()]
    true_fixes = {(t["repl"], t["file"], d) for t in truth for d in (t["clean_diff"], t["user_diff"]) if d}
    for (_, diff), actions in by_offer.items():
        if actions == ["offered", "accepted"]:
            assert any(diff == d for _, _, d in true_fixes), diff
    partition = read_partition(store, "2026-11-21")
    assert partition.quarantine.height == 0
    assert (partition.events["kind"] == "repair_feedback").sum() == len(feedback)
