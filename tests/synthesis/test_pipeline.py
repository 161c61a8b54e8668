"""The pure parts of the synthesis assets: ground-truth agreement and the teacher table."""

from repair.teachers.pipeline import agrees, markdown_table, teacher_table, truth_index

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
    index = truth_index([record(2, 8, "<diff>\n-7 print(vale)\n+7 print(value)\n</diff>", STATE["message"])])
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, index) is True
    wrong = "<diff>\n-9 print(valeu)\n+9 print(values)\n</diff>"
    assert agrees({"verdict": "duplicate", "diff": wrong}, STATE, index) is False
    assert agrees({"verdict": "new_error", "diff": TYPO_FIX}, STATE, index) is None
    removal = truth_index([record(2, 8, "<diff>\n-1 import sys\n</diff>", STATE["message"])])
    assert agrees({"verdict": "accepted", "diff": "<diff>\n-1 import sys\n</diff>"}, STATE, removal) is True
    assert (
        agrees({"verdict": "accepted", "diff": "<diff>\n-1 import sys\n+1 x\n</diff>"}, STATE, removal)
        is False
    )


def test_agreement_picks_the_mistake_alive_and_reported():
    other = record(1, None, "<diff>\n-2 x = (\n+2 x = ()\n</diff>", message="other")
    typo = record(4, 6, "<diff>\n-9 print(valeu)\n+9 print(value)\n</diff>", message=STATE["message"])
    gone = record(1, 3, "<diff>\n-1 a\n+1 b\n</diff>")
    index = truth_index([other, typo, gone])
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, index) is True
    # Mistakes alive but never reported with this diagnostic: not counted.
    unreported = truth_index(
        [record(1, None, "<diff>\n-1 a\n</diff>"), record(2, None, "<diff>\n-2 b\n</diff>")]
    )
    assert agrees({"verdict": "accepted", "diff": TYPO_FIX}, STATE, unreported) is None
    # Reported while it lived, but on another line (a record lists all the file's diagnostics then).
    elsewhere = truth_index(
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
    table = teacher_table(rows, [True, None, None, None, False])
    assert table == [
        {"teacher": "search", "attempted": 2, "applies_share": 1.0, "verified_share": 0.5, "noise_rate": None,
         "truth_agreement": 0.0, "truth_covered": 1},
        {"teacher": "user_fix", "attempted": 3, "applies_share": 0.3333, "verified_share": 0.3333,
         "noise_rate": 0.5, "truth_agreement": 1.0, "truth_covered": 1},
    ]  # fmt: skip
    assert markdown_table(table).splitlines()[2].startswith("| search | 2 | 1.0 | 0.5 |  | 0.0 | 1 |")
