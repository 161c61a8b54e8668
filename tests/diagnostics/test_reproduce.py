"""Reproduction and filtering on `error_states`-shaped rows, with real linters: every filter
counted, bad input recorded, executors agreeing, and the Dagster asset with its checks."""

from __future__ import annotations

import polars as pl
import pytest

from repair.reproduce import REASONS, ReproduceSettings, is_style_rule, reproduce
from tests.diagnostics.states import EXPECTED_COUNTS


def test_every_row_is_kept_or_dropped_with_its_reason(error_states):
    frame, contexts = error_states
    outcome = reproduce(frame, contexts, ReproduceSettings(executor="serial", batch_size=3, one_state_per_mistake=False))
    assert outcome.counts == EXPECTED_COUNTS
    assert outcome.kept.height + outcome.dropped.height == frame.height
    assert set(outcome.kept["diagnostic_id"]) | set(outcome.dropped["diagnostic_id"]) == set(frame["diagnostic_id"])
    assert set(outcome.kept.columns) == set(frame.columns) | {"reproduced_message", "settled_by"}
    # The message may differ; the reproduced wording is kept beside the logged one.
    geo = outcome.kept.filter(pl.col("file") == "geo.py").row(0, named=True)
    assert geo["message"] == "an older wording" and geo["reproduced_message"] == "Undefined name `radius`"
    dropped = {r["diagnostic_id"]: r for r in outcome.dropped.iter_rows(named=True)}
    assert dropped["s3-main.py-3-reportUndefinedVariable-3"]["detail"].startswith("binary: main.py")
    assert dropped["s2-main.py-3-reportUndefinedVariable-3"]["detail"] == (
        "same code and diagnostic as s1-main.py-3-reportUndefinedVariable-3"
    )
    assert {r["reason"] for r in dropped.values()} <= set(REASONS)
    # Rates are per rule over the linted rows: the undefined-variable rule reproduced 1 of 2.
    assert outcome.rule_rates["pyright:reportUndefinedVariable"] == {"linted": 2, "reproduced": 1, "rate": 0.5}
    assert outcome.rule_rates["ruff:F401"]["reproduced"] == 1
    # main.py with its context is one state however many rows were logged on it.
    assert outcome.states_linted == 4


def test_style_list_and_size_limit_are_configurable(error_states):
    frame, contexts = error_states
    settings = ReproduceSettings(
        executor="serial", style_rules=("reportAttributeAccessIssue",), max_file_bytes=100, one_state_per_mistake=False
    )
    outcome = reproduce(frame, contexts, settings)
    assert outcome.counts["style_only"] == 1  # E501 is no longer style; the attribute error is
    too_large = outcome.dropped.filter(pl.col("reason") == "bad_input")["detail"].to_list()
    assert any(d.startswith("too large: main.py") for d in too_large)
    assert is_style_rule("E501") and is_style_rule("I001") and not is_style_rule("E999")


def test_a_hanging_linter_quarantines_its_states_and_nothing_hangs(error_states):
    frame, contexts = error_states
    outcome = reproduce(frame, contexts, ReproduceSettings(executor="serial", timeout_s=0.001, one_state_per_mistake=False))
    assert outcome.counts["kept"] == 0 and outcome.counts["input"] == frame.height
    timed_out = outcome.dropped.filter(pl.col("detail").str.contains("timed out"))
    assert timed_out.height == EXPECTED_COUNTS["kept"] + EXPECTED_COUNTS["not_reproduced"] + 1  # + the F401 row


def _canonical(outcome):
    return (
        outcome.counts,
        outcome.rule_rates,
        outcome.kept.sort("diagnostic_id").to_dicts(),
        outcome.dropped.sort("diagnostic_id").to_dicts(),
    )


@pytest.fixture(scope="module")
def serial_outcome(error_states):
    frame, contexts = error_states
    return reproduce(frame, contexts, ReproduceSettings(executor="serial", batch_size=2, one_state_per_mistake=False))


def test_the_process_pool_agrees_with_serial(error_states, serial_outcome):
    frame, contexts = error_states
    pooled = reproduce(frame, contexts, ReproduceSettings(executor="process", workers=2, batch_size=2, one_state_per_mistake=False))
    assert _canonical(pooled) == _canonical(serial_outcome)
    assert serial_outcome.counts == EXPECTED_COUNTS


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_warm_linting_agrees_with_batched(error_states, serial_outcome, executor):
    frame, contexts = error_states
    settings = ReproduceSettings(executor=executor, linting="warm", workers=2, one_state_per_mistake=False)
    assert _canonical(reproduce(frame, contexts, settings)) == _canonical(serial_outcome)


def test_warm_linting_quarantines_a_hanging_linter(error_states):
    frame, contexts = error_states
    settings = ReproduceSettings(executor="serial", linting="warm", timeout_s=0.001, one_state_per_mistake=False)
    outcome = reproduce(frame, contexts, settings)
    assert outcome.counts["kept"] == 0 and outcome.counts["input"] == frame.height
    assert outcome.dropped.filter(pl.col("detail").str.contains("timed out")).height == EXPECTED_COUNTS["kept"] + 3


def test_unknown_linting_is_refused():
    with pytest.raises(ValueError, match="linting 'cold'"):
        ReproduceSettings(linting="cold")


def test_a_mistake_republished_after_every_edit_keeps_only_its_last_state():
    from repair.reproduce import ReproduceSettings, reproduce

    base = {
        "repl": "r1", "session": "s1", "file": "main.py", "source": "pyright", "code": "reportUndefinedVariable",
        "severity": "error", "message": '"totl" is not defined', "start_line": 1, "start_character": 7,
        "end_line": 1, "end_character": 11, "has_code_action": False,
    }
    rows = pl.DataFrame([
        {**base, "diagnostic_id": "a", "ts": 1000, "version": 3, "content": "x = 1\nprint(totl)\n"},
        {**base, "diagnostic_id": "b", "ts": 2000, "version": 5, "content": "x = 1\nprint(totl)\ny = 2\n"},
        {**base, "diagnostic_id": "c", "ts": 2000, "version": 5, "content": "x = 1\nprint(totl)\ny = 2\n",
         "source": "ruff", "code": "syntax", "message": "Expected an expression"},
        {**base, "diagnostic_id": "d", "ts": 2000, "version": 5, "content": "x = 1\nprint(totl)\ny = 2\n",
         "code": "syntax", "message": "Expected expression"},
    ])
    outcome = reproduce(rows, [{}] * rows.height, ReproduceSettings(executor="serial"))
    dropped = dict(zip(outcome.dropped["diagnostic_id"], outcome.dropped["reason"]))
    assert dropped["a"] == "repeated"
    assert dropped["c"] == "repeated"
    assert "b" not in dropped
    assert outcome.counts["repeated"] == 2

    keep_all = reproduce(rows, [{}] * rows.height, ReproduceSettings(executor="serial", one_state_per_mistake=False))
    assert keep_all.counts["repeated"] == 0
