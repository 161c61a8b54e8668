"""The numbered line diff of docs/formats.md section 2: parse, render, apply, make."""

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from repair.cli import main
from repair.linediff import (
    DiffApplyError,
    DiffOp,
    DiffParseError,
    LineDiff,
    apply_diff,
    extract_diff,
    make_diff,
    parse_diff,
    render_diff,
)

TURTLE = "import turtle\n\nscreen = turtle.screen\n"
CONTRACT_DIFF = "<diff>\n-3 screen = turtle.screen\n+3 screen = turtle.Screen()\n</diff>"


def test_contract_example_applies():
    diff = parse_diff(CONTRACT_DIFF)
    assert diff.ops == (
        DiffOp("-", 3, "screen = turtle.screen"),
        DiffOp("+", 3, "screen = turtle.Screen()"),
    )
    assert apply_diff(TURTLE, diff) == "import turtle\n\nscreen = turtle.Screen()\n"
    assert render_diff(diff) == CONTRACT_DIFF


def test_extracts_from_prose_fences_and_stray_whitespace():
    text = (
        "Sure! The attribute is misspelled. Use a <diff> block:\n\n```diff\n  <diff>  \n\n"
        "-3 screen = turtle.screen\n   +3 screen = turtle.Screen()\n\n  </diff>\n```\nHope it helps."
    )
    assert extract_diff(text) == CONTRACT_DIFF
    assert parse_diff(text) == parse_diff(CONTRACT_DIFF)
    assert extract_diff("<diff>-1 x</diff>") == "<diff>\n-1 x\n</diff>"
    assert extract_diff("no block here") is None
    assert extract_diff("<diff>\n-1 x\n") is None  # truncated: never guess where it ended


def test_op_text_mentioning_tags_does_not_confuse_extraction():
    diff = LineDiff((DiffOp("-", 1, "s = '</diff>'"), DiffOp("+", 1, "s = '<diff>'")))
    assert parse_diff("prose\n" + render_diff(diff) + "\nmore prose") == diff


def test_empty_line_insert_and_empty_diff():
    assert parse_diff("<diff>\n+2\n</diff>").ops == (DiffOp("+", 2, ""),)
    assert parse_diff("<diff>\n+2 \n</diff>").ops == (DiffOp("+", 2, ""),)
    assert apply_diff("a\nb", parse_diff("<diff>\n+2\n</diff>")) == "a\n\nb"
    empty = parse_diff("<diff>\n</diff>")
    assert empty.is_empty and apply_diff(TURTLE, empty) == TURTLE


@pytest.mark.parametrize(
    "text, reason",
    [
        ("nothing", "no_diff_block"),
        ("<diff>\n3 x\n</diff>", "malformed_line"),
        ("<diff>\n-x y\n</diff>", "malformed_line"),
        ("<diff>\n-0 y\n</diff>", "bad_line_number"),
        ("<diff>\n-3 a\n-2 b\n</diff>", "out_of_order"),
        ("<diff>\n+3 a\n-3 b\n</diff>", "out_of_order"),
        ("<diff>\n-3 a\n-3 a\n</diff>", "duplicate_removal"),
    ],
)
def test_parse_errors_carry_a_reason(text, reason):
    with pytest.raises(DiffParseError) as error:
        parse_diff(text)
    assert error.value.reason == reason


@pytest.mark.parametrize(
    "diff_text, reason",
    [
        ("<diff>\n-3 screen = turtle.Screen\n</diff>", "hallucinated_line"),
        ("<diff>\n-5 x\n</diff>", "line_out_of_range"),
        ("<diff>\n+6 x\n</diff>", "line_out_of_range"),
    ],
)
def test_apply_rejects_with_reason(diff_text, reason):
    with pytest.raises(DiffApplyError) as error:
        apply_diff(TURTLE, parse_diff(diff_text))
    assert error.value.reason == reason


def test_hallucinated_line_late_in_diff_rejects_whole_diff():
    diff = parse_diff("<diff>\n-1 import turtle\n+1 import os\n-3 wrong\n</diff>")
    with pytest.raises(DiffApplyError, match="line 3"):
        apply_diff(TURTLE, diff)


def test_inserts_at_same_line_keep_written_order_and_append_at_end():
    diff = parse_diff("<diff>\n-1 a\n+1 x\n+1 y\n+3 z\n</diff>")
    assert apply_diff("a\nb", diff) == "x\ny\nb\nz"


def test_trailing_newline_is_the_last_empty_line():
    assert apply_diff("a", make_diff("a", "a\n")) == "a\n"
    assert render_diff(make_diff("a", "a\n")) == "<diff>\n+2\n</diff>"
    assert apply_diff("a\n", make_diff("a\n", "")) == ""


def test_replacement_reads_as_pairs():
    assert render_diff(make_diff("a\nb\nc\nd", "a\nB\nC\nX\nd")) == (
        "<diff>\n-2 b\n+2 B\n-3 c\n+3 C\n+4 X\n</diff>"
    )


# Lines drawn from a small alphabet so that the diffs share lines; includes non-ASCII and CR.
line_text = st.text(alphabet=st.sampled_from("ab é中\r\t:()=<>/"), max_size=6)
file_text = st.lists(line_text, max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(file_text, file_text)
def test_apply_make_diff_reproduces_target(old, new):
    diff = make_diff(old, new)
    assert apply_diff(old, diff) == new
    assert parse_diff(render_diff(diff)) == diff


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_apply_make_diff_any_unicode(old, new):
    assert apply_diff(old, make_diff(old, new)) == new


ops = st.lists(
    st.tuples(st.integers(1, 6), st.booleans(), st.text(max_size=8).filter(lambda t: "\n" not in t)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_parse_render_round_trip(raw):
    # Build a well-formed diff from arbitrary ops: canonical order, each line removed at most once.
    seen, built = set(), []
    for line, remove, text in sorted(raw, key=lambda r: (r[0], not r[1])):
        if remove and line in seen:
            continue
        seen.add(line) if remove else None
        built.append(DiffOp("-" if remove else "+", line, text))
    diff = LineDiff(tuple(built))
    assert parse_diff(render_diff(diff)) == diff
    assert parse_diff("Here you go:\n```\n" + render_diff(diff) + "\n```\n") == diff


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_cli_apply_check_and_reject(tmp_path):
    code = _write(tmp_path, "main.py", TURTLE)
    good = _write(tmp_path, "good.diff", "The fix:\n" + CONTRACT_DIFF + "\n")
    bad = _write(tmp_path, "bad.diff", "<diff>\n-3 screen = nothing\n+3 x\n</diff>\n")
    runner = CliRunner()

    result = runner.invoke(main, ["apply-diff", str(code), str(bad)])
    assert result.exit_code == 2 and "hallucinated_line" in result.output
    assert code.read_text() == TURTLE

    result = runner.invoke(main, ["apply-diff", "--check", str(code), str(good)])
    assert result.exit_code == 0, result.output
    assert code.read_text() == TURTLE

    result = runner.invoke(main, ["apply-diff", str(code), str(good)])
    assert result.exit_code == 0, result.output
    assert code.read_bytes() == b"import turtle\n\nscreen = turtle.Screen()\n"
