"""`repair_candidates` and `verified_repairs` materialized on a small partition built by hand:
real OT packets for the user's later edits, real linting, ground truth in the object store."""

import json

import dagster as dg
import polars as pl
import pytest

from repair.ingest import blobs_key
from repair.ingest.frames import write_frame
from repair.ingest.states import blob_id
from repair.linediff import make_diff, render_diff
from repair.lint import WarmLinter
from repair.ot import make_packet
from repair.teachers.search import SearchRepairer
from repair.verify import Verifier
from repair_assets.synthesis import repair_candidates, verified_repairs
from resources.io_manager import ObjectStoreIOManager
from resources.linter import LinterResource
from resources.object_store import ObjectStoreResource
from resources.teacher_lm import TeacherLMResource
from tests.synthesis.openai_server import serve_repairer

PARTITION = "2026-01-05"
FILLER = "".join(f"n{i} = {i}\n" for i in range(8))
UTIL = "def helper():\n    return 1\n"

# (name, broken state, the user's later versions, what the user meant)
CASES = [
    (
        "typo",
        "value = 3\nprint(valeu)\n",
        ["value = 3\nprint(valu)\n", "value = 3\nprint(value)\n"],
        "value = 3\nprint(value)\n",
    ),
    (
        "noisy_import",
        "print(helper())\n" + FILLER,
        ["from util import helper\nprint(helper())\n" + FILLER.replace("n7 = 7", "n7 = 70")],
        "from util import helper\nprint(helper())\n" + FILLER,
    ),
    (
        "far_import",
        FILLER + "print(helper())\n",
        ["from util import helper\n" + FILLER + "print(helper())\n"],
        "from util import helper\n" + FILLER + "print(helper())\n",
    ),
    ("unfixable", "x: int = 'a'\n", [], "x: int = 1\n"),
]


def _frames():
    timeline, states, blobs = [], [], {}
    with WarmLinter() as linter:
        for index, (name, broken, later, _) in enumerate(CASES):
            session, file = f"s{index}", "main.py"
            context = {"util.py": UTIL}
            blobs[blob_id(UTIL)] = UTIL
            versions = [broken, *later]
            for seq, (old, new) in enumerate(zip(["", *versions], versions)):
                event = {
                    "v": 1,
                    "session": session,
                    "repl": "r1",
                    "ts": 1000 + seq,
                    "kind": "ot",
                    "file": file,
                    **make_packet(old, new, seq + 1),
                }
                timeline.append(
                    {
                        "repl": "r1",
                        "session": session,
                        "seq": seq,
                        "kind": "ot",
                        "file": file,
                        "event": json.dumps(event),
                    }
                )
            found = [d for d in linter.check({**context, file: broken}, file) if d.severity == "error"]
            diagnostic = found[0]
            states.append(
                {
                    "diagnostic_id": name, "repl": "r1", "session": session, "file": file, "ts": 1000, "version": 1,
                    **{k: v for k, v in diagnostic.to_row().items()},
                    "content": broken,
                    "context": [{"path": "util.py", "blob": blob_id(UTIL)}],
                    "reproduced_message": diagnostic.message,
                }
            )  # fmt: skip
    # A second diagnostic at the same position shares the diagnostic_id (it hashes the range).
    states.append({**states[0], "code": "syntax", "message": "another parser error"})
    return (
        pl.DataFrame(timeline),
        pl.DataFrame(states),
        pl.DataFrame({"blob": list(blobs), "text": list(blobs.values())}),
    )


@pytest.fixture(scope="module")
def materialized(tmp_path_factory, warm_linter):
    root = tmp_path_factory.mktemp("store")
    object_store = ObjectStoreResource(backend="local", root=str(root))
    store = object_store.get_store()
    timelines, states, blobs = _frames()
    write_frame(store, f"assets/session_timelines/{PARTITION}.parquet", timelines)
    write_frame(store, f"assets/reproduced_diagnostics/{PARTITION}.parquet", states)
    write_frame(store, blobs_key(PARTITION), blobs)
    # The simulator's ground truth (repair/simulate/partition.py): one record per mistake.
    truth = "\n".join(
        json.dumps(
            {
                "repl": "r1", "session": f"s{index}", "file": "main.py", "kind": name, "introduced_version": 1,
                "broken_version": 1, "fixed_version": 2 if later else None,
                "clean_diff": render_diff(make_diff(broken, intended)),
                "diagnostics": [{k: state[k] for k in ("source", "code", "message")}],
                "broken_lines": [{"line": state["start_line"] + 1, "text": broken.split("\n")[state["start_line"]]}],
            }
        )
        for index, ((name, broken, later, intended), state) in enumerate(zip(CASES, states.to_dicts()))
    )  # fmt: skip
    store.write_text(f"ground_truth/date={PARTITION}/sim-0.jsonl", truth + "\n")
    upstream = [
        dg.AssetSpec(key, partitions_def=repair_candidates.partitions_def)
        for key in ("reproduced_diagnostics", "session_timelines")
    ]
    # The DSPy teacher talks to an OpenAI-compatible server (as to a vLLM), answering with the
    # search repairer; LiteLLM's price map is the bundled one (no network).
    searcher = SearchRepairer(Verifier(warm_linter))
    with pytest.MonkeyPatch.context() as patch, serve_repairer(searcher, "test-key") as (api_base, requests):
        patch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "true")
        result = dg.materialize(
            [*upstream, repair_candidates, verified_repairs],
            selection=[repair_candidates, verified_repairs],
            partition_key=PARTITION,
            resources={
                "object_store": object_store,
                "io_manager": ObjectStoreIOManager(object_store=object_store),
                "linter": LinterResource(),
                "teacher_lm": TeacherLMResource(
                    model="openai/repair-search",
                    api_base=api_base,
                    api_key="test-key",
                    cache=False,
                    max_workers=2,
                ),
            },
        )
    assert len(requests) == len(CASES)
    # The demonstrations are this run's verified search repairs, shown before the question.
    assert sum(m["role"] == "user" for m in requests[0]["messages"]) > 1
    verified = pl.read_parquet(root / f"assets/verified_repairs/{PARTITION}.parquet")
    return result, verified


def test_one_candidate_per_diagnostic_and_teacher(materialized):
    result, _ = materialized
    assert result.success
    candidates = result.output_for_node("repair_candidates")
    assert candidates.height == len(CASES) * 3
    assert sorted(set(candidates["teacher"])) == ["dspy", "search", "user_fix"]
    metadata = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("repair_candidates")
    ).materialization.metadata
    assert metadata["quarantined"].value == 1  # the duplicate id, with its reason
    usage = metadata["teacher_lm_usage"].value
    assert usage["calls"] == len(CASES) and usage["failures"] == 0 and usage["prompt_tokens"] > 0
    assert usage["demonstrations"] == 3
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {
        "one_candidate_per_teacher_and_diagnostic": True,
        "no_duplicate_state_diff": True,
        "rejected_share_bounded": True,
        "every_candidate_has_a_known_verdict": True,
    }


def test_verdicts_and_noise(materialized):
    _, verified = materialized
    verdict = {(r["diagnostic_id"], r["teacher"]): r["verdict"] for r in verified.to_dicts()}
    assert verdict[("typo", "user_fix")] == "accepted"
    assert verdict[("typo", "search")] == "duplicate"  # the same fix: kept once
    # The user fixed the import together with an unrelated edit: noisy; the mined diff keeps the fix.
    noisy = verified.filter(
        (pl.col("diagnostic_id") == "noisy_import") & (pl.col("teacher") == "user_fix")
    ).row(0, named=True)
    assert noisy["noisy"] is True and noisy["verdict"] == "accepted"
    assert "n7 = 70" not in noisy["fixed_content"]
    assert verdict[("noisy_import", "search")] == "duplicate"
    # The user's import went in 9 lines above the error: outside the radius, so the mined diff is
    # empty (and the fix noisy); the search repairer's identical import is the one accepted.
    far = verified.filter((pl.col("diagnostic_id") == "far_import") & (pl.col("teacher") == "user_fix")).row(
        0, named=True
    )
    assert far["noisy"] is True and far["verdict"] == "empty_diff"
    assert verdict[("far_import", "search")] == "accepted"
    assert verdict[("unfixable", "user_fix")] == "no_diff_block"
    assert verdict[("unfixable", "search")] == "no_diff_block"


def test_teacher_table_in_metadata(materialized):
    result, verified = materialized
    events = result.get_asset_materialization_events()
    metadata = next(
        e for e in events if e.asset_key == dg.AssetKey("verified_repairs")
    ).materialization.metadata
    table = {record.data["teacher"]: record.data for record in metadata["teachers"].value.records}
    figures = lambda teacher, *keys: tuple(table[teacher][k] for k in keys)
    keys = ("attempted", "applies_share", "verified_share", "noise_rate", "truth_diagnostics", "truth_covered",
            "truth_agreement")  # fmt: skip
    # search: 3 of 4 verified (two as duplicates of the user's identical fix), all agreeing with truth.
    assert figures("search", *keys) == (4, 0.75, 0.75, None, 4, 3, 1.0)
    # user_fix: 3 fixes found, 2 of them noisy; the far one does not survive as a diff.
    assert figures("user_fix", *keys) == (4, 0.5, 0.5, 0.6667, 4, 2, 1.0)
    # The DSPy teacher answered with the search repairer, which sees only the prompt (no project
    # files): the typo it verifies as the others do; for the helper it cannot import it no longer
    # guesses `help` (no plausible typo of `helper`), so it proposes nothing rather than a wrong fix.
    assert figures("dspy", *keys) == (4, 0.25, 0.25, None, 4, 1, 1.0)
    assert verified["agrees_with_truth"].to_list().count(True) == 6
