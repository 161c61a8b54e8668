"""`bench_names`: each held-out repair is put in one kind by what its fix writes, and counted as
named when it writes a name like the flagged one; a --model that is not LABEL=DIR with a model in
DIR is refused by name."""

from __future__ import annotations

import pytest

from benchmarks import bench_names
from repair.dataset import model_input
from repair.diagnostic import Diagnostic
from repair.linediff import parse_diff
from repair.prompt import render_prompt, render_response

CODE = "import math\n\n\ndef circle_area(radius):\n    return math.pi * raduis ** 2\n"
DIAGNOSTIC = Diagnostic("pyright", "reportUndefinedVariable", "error", '"raduis" is not defined', 4, 21, 4, 27)


def _example(new_line: str) -> dict:
    return {
        "prompt": model_input(render_prompt(CODE, DIAGNOSTIC, "broken.py", 8)),
        "response": render_response(parse_diff(f"<diff>\n-5\n+5 {new_line}\n</diff>")),
    }


@pytest.mark.parametrize(
    ("new_line", "kind"),
    [
        ("    return math.pi * radius ** 2", "copied"),  # the demo's fix: `radius` is on line 4
        ("    return math.pi * diameter ** 2", "recalled"),  # nowhere in the prompt
        ("    return math.tau * radius ** 2", "recalled"),  # one new name unseen is enough
        ("    return math.pi * raduis * 2", "other"),  # no new name
        ("    return math.pi * abs(raduis) ** 2", "other"),  # a builtin is known without being shown
    ],
)
def test_each_fix_is_recalled_copied_or_other_by_the_names_it_writes(new_line, kind):
    assert bench_names.fix_kind(_example(new_line)) == kind


@pytest.mark.parametrize(
    ("new_line", "named"),
    [
        ("    return math.pi * radius ** 2", True),  # `radius` heads the `<names>` line
        ("    return math.pi * diameter ** 2", False),  # not a name like `raduis`
        ("    return math.pi * raduis * 2", False),  # no new name at all
    ],
)
def test_a_fix_is_named_when_it_writes_a_name_like_the_flagged_one(new_line, named):
    assert bench_names.writes_a_similar_name(_example(new_line)) is named


def test_a_model_option_wants_a_label_and_a_model_folder(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert bench_names.model_option(f"b={tmp_path}") == ("b", tmp_path)
    for bad in (str(tmp_path), f"b={tmp_path / 'nowhere'}", f"={tmp_path}"):
        with pytest.raises(SystemExit):
            bench_names.main(["--model", bad, "--no-write"])
        assert "want LABEL=DIR" in capsys.readouterr().err
