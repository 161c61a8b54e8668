"""The pure parts of the synthesis assets: ground-truth agreement and the teacher table."""

import pytest

from repair.ground_truth import TruthIndex
from repair.teachers.pipeline import agrees, markdown_table, teacher_table

STATE = {"repl": "r", "session": "s", "file": "main.py", "version": 5, "source": "pyright",
         "code": "reportUndefinedVariable", "message": '"valeu" is not defined',
         "content": "x = 1\n" * 8 + "print(valeu)\n", "start_line": 8}  # fmt: skip
TYPO_FIX = "<diff>\n-9 print(valeu)\n+9 print(value)\n</diff>"


def record(introduced, fixed, clean_diff, message=None, broken="print(valeu)"):
    """A ground-truth record as the simulator writes it (repair/simulate/partition.py)."""
    reported = [{"source": "pyright", "code": "reportUndefinedVariable", "message": message, "line": 9}]
    return {"repl": "r", "session": "s", "file": "main.py", "introduced_version": introduced,
            "fixed_version": fixed, "clean_diff": clean_diff, "diagnostics": reported if message else [],
            "broken_lines": [{"line": 7, "text": broken}]}  # fmt: skip


def test_agreement_compares_the_resulting_lines_not_the_line_numbers():
    # The clean fix was made on a later version, where the line still read `print(vale)`.
    index = TruthIndex([record(2, 8, "<diff>\n-7 print(vale)\n+7 print(value)\n</diff>", STATE["message"])])
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, index) is True
    wrong = "<diff>\n-9 print(valeu)\n+9 print(values)\n</diff>"
    assert agrees({"verdict": "duplicate", "diff": wrong}, STATE, index) is False
    assert agrees({"verdict": "new_error", "diff": TYPO_FIX}, STATE, index) is None
    removal = TruthIndex([record(2, 8, "<diff>\n-1 import sys\n</diff>", STATE["message"])])
    assert agrees({"verdict": "accepted", "diff": "<diff>\n-1 import sys\n</diff>"}, STATE, removal) is True
    assert (
        agrees({"verdict": "accepted", "diff": "<diff>\n-1 import sys\n+1 x\n</diff>"}, STATE, removal)
        is False
    )


def test_agreement_picks_the_mistake_alive_and_reported():
    other = record(1, None, "<diff>\n-2 x = (\n+2 x = ()\n</diff>", message="other")
    typo = record(4, 6, "<diff>\n-9 print(valeu)\n+9 print(value)\n</diff>", message=STATE["message"])
    gone = record(1, 3, "<diff>\n-1 a\n+1 b\n</diff>")
    index = TruthIndex([other, typo, gone])
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, index) is True
    # Mistakes alive but never reported with this diagnostic: not counted.
    unreported = TruthIndex(
        [record(1, None, "<diff>\n-1 a\n</diff>"), record(2, None, "<diff>\n-2 b\n</diff>")]
    )
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, unreported) is None
    # Reported while it lived, but on another line (a record lists all the file's diagnostics then).
    elsewhere = TruthIndex(
        [record(1, None, "<diff>\n-1 import sys\n</diff>", STATE["message"], "import sys")]
    )
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, elsewhere) is None


def test_teacher_table():
    rows = [
        {"teacher": "user_fix", "verdict": "accepted", "noisy": True},
        {"teacher": "user_fix", "verdict": "hallucinated_line", "noisy": False},
        {"teacher": "user_fix", "verdict": "no_diff_block", "noisy": None},
        {"teacher": "search", "verdict": "diagnostic_remains", "noisy": None},
        {"teacher": "search", "verdict": "duplicate", "noisy": None},
    ]
    # The diagnostics of rows 1, 3 and 4 belong to a recorded mistake; the teachers fixed two of them.
    table = teacher_table(rows, [True, None, None, None, False], [True, False, True, True, True])
    assert table == [
        {"teacher": "search", "attempted": 2, "applies_share": 1.0, "verified_share": 0.5, "noise_rate": None,
         "truth_diagnostics": 2, "truth_covered": 1, "truth_agreement": 0.0, "truth_solved_share": 0.0},
        {"teacher": "user_fix", "attempted": 3, "applies_share": 0.3333, "verified_share": 0.3333,
         "noise_rate": 0.5, "truth_diagnostics": 2, "truth_covered": 1, "truth_agreement": 1.0,
         "truth_solved_share": 0.5},
    ]  # fmt: skip
    assert markdown_table(table).splitlines()[2].startswith("| search | 2 | 1.0 | 0.5 |  | 2 | 1 | 0.0 | 0.0 |")


def test_the_mistake_is_found_across_sessions_and_by_the_text_of_its_line():
    """A mistake typed in one session and still alive in the next belongs to both sessions'
    diagnostics; a diagnostic it reported on another line (its fallout) is matched by that line."""
    fallout = {"source": "pyright", "code": "syntax", "message": "Expected expression", "line": 3, "text": "    y = 2"}
    typo = {**record(4, 20, TYPO_FIX, STATE["message"]), "session": "s-first"}
    typo["diagnostics"] = [{**typo["diagnostics"][0], "text": "print(valeu)"}, fallout]
    index = TruthIndex([typo])
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, {**STATE, "session": "s-next"}, index) is True
    later_line = {**STATE, "code": "syntax", "message": "Expected expression", "content": "x\n\n    y = 2\n", "start_line": 2}
    assert index.classify(later_line) == "mistake" and index.classify({**later_line, "start_line": 0}) == "unexplained"


def test_a_user_fix_with_the_next_function_typed_is_trimmed_to_the_fix():
    """`self.fiins` -> `self.finish()` plus the user's next method: the target is the fixed line."""
    from repair.diagnostic import Diagnostic
    from repair.linediff import render_diff
    from repair.teachers.user_fix import mine_user_fix

    broken = "class A:\n    def run(self):\n        self.fiins\n"
    typed_on = "class A:\n    def run(self):\n        self.finish()\n\n    def setup(self):\n        pass\n"
    diagnostic = Diagnostic("pyright", "reportAttributeAccessIssue", "error", 'Cannot access "fiins"', 2, 13, 2, 18)
    mined = mine_user_fix(broken, diagnostic, [(5, typed_on)], lambda text: "self.finish()" in text)
    assert render_diff(mined.diff) == "<diff>\n-3         self.fiins\n+3         self.finish()\n</diff>"
    assert mined.noisy and not mined.dropped and mined.unrelated_ops == 3


def test_a_user_fix_whose_near_part_does_not_fix_it_alone_is_dropped():
    from repair.diagnostic import Diagnostic
    from repair.teachers.user_fix import mine_user_fix

    broken = "".join(f"n{i} = {i}\n" for i in range(10)) + "print(helper(n1))\n"
    fixed = "from util import helper\n" + broken.replace("print(helper(n1))", "print(helper(n1, n2))")
    diagnostic = Diagnostic("pyright", "reportUndefinedVariable", "error", '"helper" is not defined', 10, 6, 10, 12)
    mined = mine_user_fix(broken, diagnostic, [(9, fixed)], lambda text: "import helper" in text)
    assert mined.dropped and mined.diff.is_empty and mined.noisy


def test_a_user_fix_is_taken_where_its_typing_ends_not_half_typed():
    """Found by the done-when test (issue 20): `is = frame.f_code` retyped as `filename = ...` was
    mined as `fi = ...`, the first version that lints clean. The fix is where the user stopped
    typing on the fixed line, before moving on to other lines."""
    from repair.diagnostic import Diagnostic
    from repair.linediff import render_diff
    from repair.teachers.user_fix import mine_user_fix

    head = "import sys\n\ndef where(frame):\n"
    typed = ["     = frame.f_code\n", "    fi = frame.f_code\n", "    filen = frame.f_code\n", "    filename = frame.f_code\n"]
    versions = [(v, head + line) for v, line in enumerate(typed, start=2)]
    versions.append((6, head + typed[-1] + "    return filename\n"))
    broken = head + "    is = frame.f_code\n"
    diagnostic = Diagnostic("pyright", "syntax", "error", "Expected expression", 3, 4, 3, 6)
    mined = mine_user_fix(broken, diagnostic, versions, lambda text: " is =" not in text and "  = " not in text)
    assert mined.fixed_version == 5
    assert render_diff(mined.diff) == "<diff>\n-4     is = frame.f_code\n+4     filename = frame.f_code\n</diff>"


def test_a_fix_that_adds_lines_is_taken_where_the_added_line_is_finished():
    """Read on the demo day (issue 20): `if '__path__' not in globals:` then its body typed was mined
    as `package = package.r`: the first clean version, because the end of the fix's typing was only
    followed on lines rewritten in place, never on lines the fix added."""
    from repair.teachers.user_fix import finished_typing

    head = "def f(package, globals):\n    if '__path__' not in globals:\n"
    typed = ["        package = package.r\n", "        package = package.rpart\n", "        package = package.rpartition('.')[0]\n"]
    versions = [(v, head + line) for v, line in enumerate(typed, start=2)]
    versions.append((5, versions[-1][1] + "    return package\n"))
    assert finished_typing(head, versions, 0) == 2


@pytest.mark.parametrize(
    ("broken", "typed_on", "rule", "reason"),
    [
        # The user typed a block's body under its header: no correction, the code not written yet.
        ("if x:\n", "if x:\n    y = 1\n", "syntax", "continued_typing"),
        # A string completed with words: typing in progress, however clean it lints.
        ('msg = ("enable_shared_cache\n', 'msg = ("enable_shared_cache is deprecated"\n', "syntax", "continued_typing"),
        # The erroneous line commented out or deleted: the error is hidden, not fixed.
        ("x = 1\nprint(valeu)\ny = 2\n", "x = 1\n# print(valeu)\ny = 2\n", "reportUndefinedVariable", "commented_out"),
        ("x = 1\nprint(valeu)\ny = 2\n", "x = 1\ny = 2\n", "reportUndefinedVariable", "deleted"),
    ],
)
def test_a_user_change_that_is_not_a_fix_is_dropped_with_its_reason(broken, typed_on, rule, reason):
    """Issue 20: the simulated user "fixes" one mistake in ten by commenting its line out, and a
    pause mid-line lets a half-typed line through the settle filter; neither change teaches a fix."""
    from repair.diagnostic import Diagnostic
    from repair.teachers.user_fix import mine_user_fix

    line = 1 if rule != "syntax" else 0
    diagnostic = Diagnostic("pyright", rule, "error", "an error", line, 0, line, 1)
    mined = mine_user_fix(broken, diagnostic, [(5, typed_on)], lambda text: text == typed_on)
    assert mined.dropped and mined.diff.is_empty and mined.dropped_reason == reason


@pytest.mark.parametrize(
    ("broken", "typed_on", "rule"),
    [
        ("if not state\n    y = 1\n", "if not state:\n    y = 1\n", "syntax"),  # a colon appended
        ("print(sel)\n", "print(self)\n", "reportUndefinedVariable"),  # a name finished
        ("import os\nimport re\nre.compile('x')\n", "import re\nre.compile('x')\n", "F401"),  # unused: deleted
        ("print(helper())\n", "from util import helper\nprint(helper())\n", "reportUndefinedVariable"),  # imported
    ],
)
def test_a_correction_is_not_mistaken_for_continued_typing_or_hiding(broken, typed_on, rule):
    from repair.diagnostic import Diagnostic
    from repair.teachers.user_fix import mine_user_fix

    diagnostic = Diagnostic("ruff" if rule == "F401" else "pyright", rule, "error", "an error", 0, 0, 0, 1)
    mined = mine_user_fix(broken, diagnostic, [(5, typed_on)], lambda text: text == typed_on)
    assert not mined.dropped and not mined.diff.is_empty
