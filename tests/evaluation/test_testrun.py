"""A pass the candidate cannot forge: the test runner reports `{nonce, ran, passed}` on a channel
opened before the candidate is imported, and the harness counts the tests itself. Each way a
candidate could fake a pass fails, with a real sandbox run."""

from __future__ import annotations

import pytest

from evals.sources import expected_tests, problem_programs, stdlib_programs
from evals.testrun import run_tests


@pytest.fixture(scope="module")
def two_sum():
    return next(p for p in problem_programs() if p.name == "problem:two_sum")


def run(program, code):
    return run_tests(program.files(code), program.argv, expected_tests(program))


def test_the_correct_program_passes_and_a_wrong_one_fails(two_sum):
    passed = run(two_sum, two_sum.code)
    assert passed.ok and passed.ran == passed.passed == passed.expected == 1
    wrong = run(two_sum, two_sum.code.replace("return [seen[target - num], index]", "return [index, seen[target - num]]"))
    assert not wrong.ok and wrong.reason == "0 of 1 tests passed"


@pytest.mark.parametrize(
    "prelude, why",
    [
        ("raise SystemExit(0)\n", "ran 0 of 1 tests"),  # the runner catches it while importing
        ("import os\nos._exit(0)\n", "no report from the test runner"),
        ('print("1/1 tests passed")\nprint(\'{"nonce": "0", "ran": 1, "passed": 1}\')\nimport os\nos._exit(0)\n',
         "no report from the test runner"),
        # A report written straight to every open descriptor, without the run's nonce.
        (("import os\nfor fd in range(3, 64):\n    try:\n"
          "        os.write(fd, b'{\"nonce\": \"guess\", \"ran\": 1, \"passed\": 1}\\n')\n"
          "    except OSError:\n        pass\nos._exit(0)\n"), "without this run's nonce"),
        # The runner's report function is not reachable by name.
        ("import __main__\n__main__.report(1, 1)\n", "ran 0 of 1 tests"),
    ],
    ids=["SystemExit(0)", "os._exit(0)", "fake output", "forged report", "runner's report"],
)
def test_early_exits_and_fake_reports_fail(two_sum, prelude, why):
    result = run(two_sum, prelude + two_sum.code)
    assert not result.ok and why in result.reason, result


def test_a_candidate_that_adds_tests_or_removes_them_fails(two_sum):
    extra = run(two_sum, two_sum.code + "\n\ndef test_extra():\n    pass\n")
    assert not extra.ok and extra.reason == "ran 2 of 1 tests"


def test_patching_unittest_fails():
    textwrap = next(p for p in stdlib_programs(("textwrap",)))
    assert run(textwrap, textwrap.code).ok
    broken = textwrap.code.replace("def dedent(text):", "def dedent(text):\n    return text", 1)
    assert not run(textwrap, broken).ok
    patch = (
        "import unittest\n"
        "def _run(self, result=None):\n"
        "    result.startTest(self)\n"
        "    result.addSuccess(self)\n"
        "    result.stopTest(self)\n"
        "unittest.TestCase.run = _run\n"
        "unittest.TestResult.wasSuccessful = lambda self: True\n"
    )
    patched = run(textwrap, patch + broken)
    assert not patched.ok and patched.ran == 0, patched
    assert "is not unittest's own" in patched.stderr
