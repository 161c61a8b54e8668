"""The search repairer's renames are plausible corrections of what the user typed, not any name
that happens to lint clean (issue: `line` -> `slice`, `result` -> `frozenset`, `where` -> `hex`)."""

from repair.diagnostic import Diagnostic
from repair.teachers.search import candidates, typo_budget, typo_distance


def _undefined(code: str, name: str) -> Diagnostic:
    row = next(i for i, line in enumerate(code.split("\n")) if name in line)
    col = code.split("\n")[row].index(name)
    return Diagnostic("pyright", "reportUndefinedVariable", "error", f'"{name}" is not defined', row, col, row, col + len(name))


def _renames(code: str, name: str) -> list[str]:
    return [c.description.split(" -> ")[1] for c in candidates(code, _undefined(code, name)) if c.family == "rename"]


def test_typo_distance_counts_keyboard_slips_as_half():
    assert typo_distance("vslue", "value") == 0.5  # s is next to a
    assert typo_distance("vxlue", "value") == 1.0
    assert typo_distance("valeu", "value") == 1.0  # two letters swapped
    assert typo_distance("Screen", "screen") == 0.25
    assert (typo_budget("line"), typo_budget("max_unencoded")) == (1.0, 3.0)


def test_unrelated_names_are_no_corrections_however_cleanly_they_lint():
    code = "parts = s[slice(0, 2)]\nfor item in parts:\n    print(line)\n    print(hex(where))\n    x = result\n"
    assert _renames(code, "line") == []
    assert _renames(code, "where") == []
    assert "frozenset" not in _renames(code, "result")


def test_a_typo_of_a_name_used_nearby_is_corrected_first():
    far = "valve = 1\n" + "pass\n" * 40
    code = far + "value = 2\nprint(vlaue)\n"
    assert _renames(code, "vlaue")[0] == "value"
    assert _renames("total = 0\nprint(totl)\n", "totl") == ["total"]
    assert _renames("print(lenn([1]))\n", "lenn") == ["len"]  # builtins, when they are the typo's target


def test_a_keyword_used_as_a_name_gets_no_misspelling_or_module_for_its_name():
    """Found by the done-when test: `from = 5` renamed to `sLQL` (an unbound name further
    down, not a lost name) and `is = xmlbuilder.X` renamed to the module it reads from. A misspelling
    (`SQQL` for `SQL`) or a name used once is no lost name."""
    from repair.teachers.search import _orphan_names, _syntax_line_edits

    code = "SQL = 1\nfrom = 5\nprint(SQQL, limit, SQQL, limit, once)\n"
    assert _orphan_names(code, 1) == ["limit"]
    edits = [e[2] for e in _syntax_line_edits("is = xmlbuilder.FILTER\n", [])]
    assert not any("xmlbuilder" in e for e in edits)
    assert _syntax_line_edits('lambda = b"PK"\n', []) == []  # `b` is the bytes prefix, not a variable
