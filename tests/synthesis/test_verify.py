"""Verification: every step rejects with its reason; the re-lint uses the real linters."""

import pytest

from repair.diagnostic import Diagnostic
from repair.verify import ACCEPTED, REJECTION_REASONS, judge_lint, prepare
from tests.synthesis.conftest import error_of

TYPO = "import os\n\nvalue = 3\nprint(valeu)\n"
FIX = "<diff>\n-4 print(valeu)\n+4 print(value)\n</diff>"


def diag(code="F821", message="Undefined name `x`", severity="error", line=0):
    return Diagnostic("ruff", code, severity, message, line, 0, line, 1)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("I cannot fix this.", "no_diff_block"),
        ("<diff>\nprint(value)\n</diff>", "malformed_diff"),
        ("<diff>\n</diff>", "empty_diff"),
        ("<diff>\n-4 print(value)\n+4 print(x)\n</diff>", "hallucinated_line"),
        ("<diff>\n-9 x\n</diff>", "line_out_of_range"),
        ("<diff>\n-4 print(valeu)\n+4 print(value\n</diff>", "syntax_error"),
    ],
)
def test_prepare_rejects_with_reason(raw, reason):
    verdict = prepare(TYPO, raw)
    assert verdict.verdict == reason and verdict.detail
    assert reason in REJECTION_REASONS


def test_syntax_error_only_when_the_original_parsed():
    broken = "def f(:\n    pass\n"
    # The original does not parse, so a diff that leaves it unparseable is for the linter to judge.
    assert prepare(broken, "<diff>\n-2     pass\n+2     return 1\n</diff>").verdict == ACCEPTED


def test_judge_lint_counts_before_and_after():
    target = diag(message="Undefined name `x`")
    other = diag(message="Undefined name `y`", line=3)
    assert judge_lint(target, [target, other], [other]) is None
    assert judge_lint(target, [target], [target]).verdict == "diagnostic_remains"
    # Two occurrences before, one fixed: gone once is enough.
    assert judge_lint(target, [target, target], [target]) is None
    assert judge_lint(target, [target], [other]).verdict == "new_error"
    # A new warning is not a new error.
    assert judge_lint(target, [target], [diag("F401", "unused", "warning")]) is None


def test_accepts_a_real_fix(verifier, warm_linter):
    diagnostic = error_of(warm_linter, TYPO)
    verdict = verifier.verify(TYPO, diagnostic, "Fixed it:\n```\n" + FIX + "\n```")
    assert verdict.verdict == ACCEPTED, verdict
    assert verdict.fixed_content == TYPO.replace("valeu)", "value)")


def test_rejects_fix_that_keeps_or_adds_errors(verifier, warm_linter):
    diagnostic = error_of(warm_linter, TYPO)
    remains = verifier.verify(TYPO, diagnostic, "<diff>\n+5 x = 1\n</diff>")
    assert remains.verdict == "diagnostic_remains"
    new = verifier.verify(TYPO, diagnostic, "<diff>\n-4 print(valeu)\n+4 print(value.nope)\n</diff>")
    assert new.verdict == "new_error" and "nope" in new.detail


def test_project_context_is_linted_with_the_file(verifier, warm_linter):
    code = "print(helper())\n"
    context = {"util.py": "def helper():\n    return 1\n"}
    diagnostic = error_of(warm_linter, code, context_files=context)
    verdict = verifier.verify(
        code, diagnostic, "<diff>\n+1 from util import helper\n</diff>", "main.py", context
    )
    assert verdict.accepted, verdict


def test_linter_failure_and_judge_are_verdicts(warm_linter):
    from repair.verify import Verifier

    diagnostic = error_of(warm_linter, TYPO)
    verdict = Verifier(warm_linter).verify(TYPO, diagnostic, FIX, file_name="notes.txt")
    assert verdict.verdict == "lint_failed" and "not Python" in verdict.detail

    def strict_judge(code, diagnostic, fixed, file_name):
        return ("value" not in fixed.split("\n")[3], "prints the wrong variable")

    judged = Verifier(warm_linter, judge=strict_judge).verify(TYPO, diagnostic, FIX)
    assert judged.verdict == "judge_rejected" and judged.detail == "prints the wrong variable"


def test_batch_linter_failure_is_a_verdict(warm_linter):
    from repair.verify import BatchLinter, Verifier

    diagnostic = error_of(warm_linter, TYPO)
    verdict = Verifier(BatchLinter()).verify(TYPO, diagnostic, FIX, file_name="notes.txt")
    assert verdict.verdict == "lint_failed" and "not Python" in verdict.detail


def pyright(code, message, line=0, severity="error"):
    return Diagnostic("pyright", code, severity, message, line, 0, line, 1)


def test_one_problem_whichever_linter_reported_it():
    """pyright `reportUndefinedVariable` and ruff `F821` name one problem: reported by pyright
    before, reported by ruff after, it is not new."""
    syntax = diag("syntax", "SyntaxError: Expected `:`, found newline")
    undefined_pyright = pyright("reportUndefinedVariable", '"math" is not defined', line=1)
    undefined_ruff = diag("F821", "Undefined name `math`", line=1)
    assert judge_lint(syntax, [syntax, undefined_pyright], [undefined_pyright, undefined_ruff]) is None
    # Another name is another problem: still new.
    other = diag("F821", "Undefined name `cmath`", line=1)
    verdict = judge_lint(syntax, [syntax, undefined_pyright], [undefined_pyright, other])
    assert verdict is not None and verdict.verdict == "new_error" and "cmath" in verdict.detail
    # Twice after where it was reported once before: the second is new.
    verdict = judge_lint(syntax, [syntax, undefined_pyright], [undefined_ruff, undefined_ruff])
    assert verdict is not None and verdict.verdict == "new_error"


def test_a_missing_colon_is_accepted_when_the_file_also_uses_an_unimported_name(verifier, warm_linter):
    """The masking case: while the file does not parse ruff reports only the syntax error; once the
    colon is back it reports F821 for `math`, which pyright reported all along."""
    code = "def area(r)\n    return math.pi * r * r\n\n\nprint(area(2))\n"
    diagnostic = next(d for d in warm_linter.check({"main.py": code}, "main.py")
                      if d.source == "ruff" and d.code == "syntax")
    verdict = verifier.verify(code, diagnostic, "<diff>\n-1 def area(r)\n+1 def area(r):\n</diff>")
    assert verdict.verdict == ACCEPTED, verdict
    # And a fix that brings in a name nobody reported before is still rejected.
    bad = verifier.verify(code, diagnostic, "<diff>\n-1 def area(r)\n+1 def area(r=radius):\n</diff>")
    assert bad.verdict == "new_error" and "radius" in bad.detail
