"""The in = out figures of a day's synthesis (`repair.teachers.synthesis`), which the assets' blocking
checks report: a lost candidate, a candidate twice, or a verdict nobody documented fails them."""

from __future__ import annotations

import polars as pl

from repair.teachers import pipeline
from repair.teachers.synthesis import CandidateRun, VerifiedRun


def _candidates(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"diagnostic_id": d, "teacher": t, "raw_output": "", "diff": "", "noisy": None, "note": ""} for d, t in pairs],
        schema=pipeline.CANDIDATE_SCHEMA,
    )


def _run(pairs: list[tuple[str, str]], quarantine: list[dict] = ()) -> CandidateRun:
    return CandidateRun(
        _candidates(pairs), pl.DataFrame(list(quarantine), schema=pipeline.QUARANTINE_SCHEMA), "mem://q",
        teachers=["search", "user_fix"], diagnostics=2, input_rows=2,
    )  # fmt: skip


def test_every_diagnostic_needs_one_row_per_teacher_or_a_quarantined_question():
    check = "one_candidate_per_teacher_and_diagnostic"
    complete = [("a", "search"), ("a", "user_fix"), ("b", "search"), ("b", "user_fix")]
    assert _run(complete).checks()[check][0]
    assert not _run(complete[:-1]).checks()[check][0]  # one candidate lost
    asked_elsewhere = [{"diagnostic_id": "b", "teacher": "user_fix", "reason": "line outside the file"}]
    assert _run(complete[:-1], asked_elsewhere).checks()[check][0]
    passed, figures = _run([*complete[:-1], ("a", "search")]).checks()[check]  # one twice
    assert not passed and figures["candidates"] == 4


def test_a_verdict_outside_the_documented_ones_fails_its_check():
    def run(verdicts: list[str]) -> VerifiedRun:
        frame = pl.DataFrame({
            "repl": ["r"] * len(verdicts), "file": ["f.py"] * len(verdicts), "content": ["x"] * len(verdicts),
            "diff": [str(i) for i in range(len(verdicts))], "verdict": verdicts,
        })  # fmt: skip
        return VerifiedRun(frame, len(verdicts), [], {}, {}, 0, [])

    assert run(["accepted", "accepted"]).checks()["every_candidate_has_a_known_verdict"][0]
    passed, figures = run(["accepted", "looked fine"]).checks()["every_candidate_has_a_known_verdict"]
    assert not passed and figures["unknown_verdicts"] == ["looked fine"]
