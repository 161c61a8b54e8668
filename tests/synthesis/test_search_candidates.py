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


def _keyword_fixes(code: str) -> list[str]:
    row = next(i for i, line in enumerate(code.split("\n")) if " = " in line and line.split("=")[0].strip() in KEYWORDS)
    diagnostic = Diagnostic("pyright", "syntax", "error", "Expected expression", row, 0, row, 1)
    return [c.description.split(": ", 1)[1] for c in candidates(code, diagnostic) if c.family == "keyword"]


KEYWORDS = ("import", "from", "is", "def", "lambda", "class")


def test_a_keyword_used_as_a_name_becomes_the_name_its_scope_lost():
    """`magic = b"PK"` typed as `import = b"PK"`: `magic` is read right after, only there, and bound
    nowhere. `st`, read unbound elsewhere too (an error of the code as written), is no lost name."""
    code = (
        "def head(f):\n    return st.read(f)\n\n\n"
        'def tail(f):\n    import = b"PK\\x06\\x07"\n    st.write(f, magic)\n    return magic\n'
    )
    assert _keyword_fixes(code) == ["import -> magic"]


def test_a_keyword_used_as_a_name_is_not_renamed_to_an_unrelated_name():
    """Found by the done-when test (issue 20): `import = b"PK.."` -> `st = ...`, `def = 1` -> `file = 1`.
    A keyword typed as a name is a syntax error; names that merely lint clean once bound are no fix:
    not a name read unbound before the line or in another function, not one first read far away,
    not one of several lost names, not one bound elsewhere (`file` in a function below)."""
    # The lost `magic` is still bound at module level: only `st` is unbound, and it is read before.
    code = 'magic = None\n\n\ndef head(f):\n    return st.read(f)\n\n\ndef tail(f):\n    import = b"PK"\n    st.write(f, magic)\n'
    assert _keyword_fixes(code) == []
    # Two module constants typed as keywords, their reads 40 lines further down; `file` is a local there.
    code = (
        "_SEARCH_ERROR = 0\ndef = 1\n_C_BUILTIN = 6\nis = 7\n\n\ndef find(spec):\n"
        + "    pass\n" * 40
        + "    if spec.frozen:\n        return _PY_FROZEN\n    file = open(spec)\n    return file, _PY_SOURCE\n"
    )
    assert _keyword_fixes(code) == []
    # Two names lost nearby: which one the keyword stood for is a guess.
    code = "def f(x):\n    class = x + 1\n    return total * count\n"
    assert _keyword_fixes(code) == []
    # A misspelling of a bound name is no lost name; the one lost name nearby is.
    code = "SQL = 1\nfrom = 5\nprint(SQQL, limit)\n"
    assert _keyword_fixes(code) == ["from -> limit"]


def test_a_keyword_reassignment_keeps_the_variable_it_reads():
    assert _keyword_fixes("def f(url):\n    lambda = '/' + url\n    return url\n") == ["lambda -> url"]
    assert _keyword_fixes("def f():\n    is = xmlbuilder.FILTER\n") == []  # a module is no variable
    assert _keyword_fixes('def f():\n    lambda = b"PK"\n') == []  # `b` is the bytes prefix, not a variable


def test_a_name_one_slip_from_a_name_in_use_is_an_overlooked_typo():
    """`one_slip_correction` tells the typos a user left unfixed from names the user means (issue 20,
    recall): one slip from a name of the file, written once; not a case change, not two slips, not a
    name the file writes on several lines (a star import's constant)."""
    from repair.teachers.search import one_slip_correction

    def correction(code: str, name: str) -> str | None:
        return one_slip_correction(code, _undefined(code, name))

    assert correction("def f(self):\n    return selff.x\n", "selff") == "selff -> self"
    assert correction("def f(exc):\n    return exx\n", "exx") == "exx -> exc"
    assert correction("def f() -> List:\n    return list()\n", "List") is None  # case alone: typing.List
    assert correction("def f(cbreak):\n    nocbreak()\n", "nocbreak") is None  # two slips
    assert correction("def f(flag):\n    a = flags\n    b = flags\n", "flags") is None  # written twice: meant
    module = Diagnostic(
        "pyright", "reportAttributeAccessIssue", "error", '"commpile" is not a known attribute of module "re"',
        1, 3, 1, 11,
    )
    assert one_slip_correction('import re\nre.commpile("x")\n', module) == ".commpile -> .compile"


def test_a_string_whose_closing_quote_went_missing_mid_line_is_closed_where_the_code_parses():
    """Read on the demo day (issue 20): `.get('CFLAGS, '')` was closed at the end of the line as
    `'CFLAGS, '''`, which lints clean and means another string. The cheapest quote candidate closes
    it at the first point after which the file parses, one space left before the code that follows."""
    cases = {
        "x = d.get('CFLAGS, '')": "x = d.get('CFLAGS', '')",
        "raise ValueError('unsupported hash type  + name)": "raise ValueError('unsupported hash type ' + name)",
        "new.append((name, '\"%s\" % value))": "new.append((name, '\"%s\"' % value))",
        "print('hello world)": "print('hello world')",
        "SPACE = ' ": "SPACE = ' '",
    }
    for broken, meant in cases.items():
        code = f"import os\n{broken}\ny = 1\n"
        diagnostic = Diagnostic("pyright", "syntax", "error", "String literal is unterminated", 1, 0, 1, len(broken))
        quotes = [c for c in candidates(code, diagnostic) if c.family == "quote"]
        assert quotes and quotes[0].fixed == f"import os\n{meant}\ny = 1\n", (broken, [c.fixed for c in quotes])
