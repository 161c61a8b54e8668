"""Teachers: the search repairer's candidates and verified choice, the user-fix miner, the DSPy
program driven by a local deterministic LM (a real `dspy.LM` over the search repairer)."""

import itertools
import os

import dspy
import pytest

from repair.diagnostic import Diagnostic
from repair.linediff import apply_diff, parse_diff, render_diff
from repair.ot import make_packet
from repair.repairer import Repairer
from repair.teachers.dspy_teacher import (
    DSPyRepairer,
    RepairRequest,
    demonstration,
    repair_inputs,
    with_demonstrations,
)
from repair.teachers.repairer_lm import rebuild, repairer_lm, request_fields
from repair.teachers.search import SearchRepairer, candidates
from repair.teachers.user_fix import later_versions, mine_user_fix
from tests.synthesis.conftest import error_of

from ..conftest import LEARNED_CASE, LEARNED_DIFF


def at(code, line, start, end, message, rule="reportUndefinedVariable", source="pyright"):
    return Diagnostic(source, rule, "error", message, line, start, line, end)


def fixes(code, diagnostic, context=None):
    return {c.fixed for c in candidates(code, diagnostic, "main.py", context)}


def test_rename_to_nearest_name_in_scope():
    code = "value = 3\nprint(valeu)\n"
    found = candidates(code, at(code, 1, 6, 11, '"valeu" is not defined'))
    assert found[0].family == "rename" and found[0].fixed == "value = 3\nprint(value)\n"


def test_imports_for_missing_names():
    code = '"""Doc."""\nimport os\n\nprint(math.pi, Path("."), helper())\n'
    assert '"""Doc."""\nimport os\nimport math\n\nprint(math.pi, Path("."), helper())\n' in fixes(
        code, at(code, 3, 6, 10, '"math" is not defined')
    )
    assert any(
        "from pathlib import Path" in f for f in fixes(code, at(code, 3, 15, 19, '"Path" is not defined'))
    )
    context = {"tools/util.py": "def helper():\n    return 1\n"}
    assert any(
        "from tools.util import helper" in f
        for f in fixes(code, at(code, 3, 26, 32, '"helper" is not defined'), context)
    )


def test_attribute_of_module_class_and_builtin():
    code = "import turtle\n\nscreen = turtle.screen\n"
    message = '"screen" is not a known attribute of module "turtle"'
    assert "import turtle\n\nscreen = turtle.Screen\n" in fixes(
        code, at(code, 2, 16, 22, message, "reportAttributeAccessIssue")
    )
    code = "class A:\n    def go(self):\n        return 1\n\nA().og()\n"
    message = 'Cannot access attribute "og" for class "A"'
    assert code.replace("og()", "go()") in fixes(
        code, at(code, 4, 4, 6, message, "reportAttributeAccessIssue")
    )
    code = "print('a'.uper())\n"
    message = 'Cannot access attribute "uper" for class "Literal[\'a\']"'
    assert "print('a'.upper())\n" in fixes(code, at(code, 0, 10, 14, message, "reportAttributeAccessIssue"))


@pytest.mark.parametrize(
    "code, line, expected",
    [
        ("def f(x)\n    return x\n", 0, "def f(x):\n    return x\n"),
        ("x = 1\nif x = 1:\n    pass\n", 1, "x = 1\nif x == 1:\n    pass\n"),
        ("x = (1 + 2\nprint(x)\n", 1, "x = (1 + 2)\nprint(x)\n"),
        ("print('hello)\n", 0, "print('hello')\n"),
        ("def f():\nreturn 1\n", 1, "def f():\n    return 1\n"),
        ("x = 1\n    y = 2\n", 1, "x = 1\ny = 2\n"),
    ],
)
def test_syntax_candidates(code, line, expected):
    assert expected in fixes(code, at(code, line, 0, 1, "syntax", "syntax"))


def test_no_family_no_candidates():
    code = "x: int = 'a'\n"
    assert candidates(code, at(code, 0, 9, 12, "bad type", "reportAssignmentType")) == []


def test_search_repairer_picks_cheapest_verified(verifier, warm_linter):
    searcher = SearchRepairer(verifier)
    assert isinstance(searcher, Repairer)
    code = "print('hello)\n"
    diagnostic = error_of(warm_linter, code)
    result = searcher.search(code, diagnostic)
    # The bracket candidate comes first but leaves the error; the quote candidate verifies.
    assert [v.verdict for _, v in result.verdicts][-1] == "accepted"
    assert result.candidate.family == "quote"
    assert apply_diff(code, parse_diff(result.diff_text)) == "print('hello')\n"
    unfixable = "x: int = 'a'\n"
    assert searcher.propose(unfixable, error_of(warm_linter, unfixable)) == ""


def _packets(versions):
    return [
        {"version": i + 2, **make_packet(a, b, i + 2)}
        for i, (a, b) in enumerate(itertools.pairwise(versions))
    ]


def test_user_fix_miner_finds_first_fixed_version_and_flags_noise():
    states = [
        "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nprint(valeu)\n",
        "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nprint(valu)\n",
        "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nprint(value)\n",
        "A = 1\nb = 2\nc = 3\nd = 4\ne = 5\nprint(value)\n",
    ]
    diagnostic = at(states[0], 5, 6, 11, '"valeu" is not defined')
    versions = later_versions(states[0], 1, _packets(states))
    assert [v for v, _ in versions] == [2, 3, 4]
    checked = []

    def is_fixed(text):
        checked.append(text)
        return "print(value)" in text

    mined = mine_user_fix(states[0], diagnostic, versions, is_fixed)
    assert mined.fixed_version == 3 and not mined.noisy
    assert render_diff(mined.diff) == "<diff>\n-6 print(valeu)\n+6 print(value)\n</diff>"
    assert len(checked) <= 3

    # Fixed only together with an unrelated edit 5 lines away: noisy, and the diff keeps the fix only.
    noisy = mine_user_fix(states[0], diagnostic, [(2, states[3])], is_fixed, radius=3)
    assert noisy.noisy and noisy.unrelated_ops == 2
    assert render_diff(noisy.diff) == "<diff>\n-6 print(valeu)\n+6 print(value)\n</diff>"
    assert mine_user_fix(states[0], diagnostic, versions[:1], is_fixed) is None


def test_later_versions_stop_at_a_bad_packet():
    states = ["x\n", "xy\n", "xyz\n"]
    packets = _packets(states)
    packets[1] = {**packets[1], "crc32": 0}
    assert [v for v, _ in later_versions(states[0], 1, packets)] == [2]


def test_repairer_lm_rebuilds_the_request():
    code = "a = 1\n\nscreen = turtle.screen\n"
    diagnostic = at(
        code, 2, 16, 22, '"screen" is not a known attribute of module "turtle"', "reportAttributeAccessIssue"
    )
    inputs = repair_inputs(code, diagnostic, "pkg/m.py", window=0)
    text = "\n\n".join(f"[[ ## {k} ## ]]\n{v}" for k, v in inputs.items()) + "\n\nRespond with ..."
    rebuilt_code, rebuilt, file_name = rebuild(request_fields(text))
    assert file_name == "pkg/m.py" and rebuilt_code == "\n\nscreen = turtle.screen\n"
    assert (rebuilt.start_line, rebuilt.start_character, rebuilt.end_character) == (2, 16, 22)
    assert rebuilt.code == "reportAttributeAccessIssue" and rebuilt.source == "pyright"


def test_dspy_teacher_with_local_lm_and_demonstrations(verifier, warm_linter):
    searcher = SearchRepairer(verifier)
    lm = repairer_lm(searcher)
    assert isinstance(lm, dspy.BaseLM)
    codes = ["value = 3\nprint(valeu)\n", "def f(x)\n    return x\n", "import os\nos.pth\n"]
    requests = [RepairRequest(c, error_of(warm_linter, c)) for c in codes]
    demos = [
        demonstration(
            requests[0].code,
            requests[0].diagnostic,
            searcher.propose(requests[0].code, requests[0].diagnostic),
        )
    ]
    program = with_demonstrations(demos, k=1)
    assert len(program.repair.demos) == 1
    teacher = DSPyRepairer(lm, program=program, max_workers=2)
    answers = teacher.propose_many(requests)
    for request, answer in zip(requests, answers):
        assert verifier.verify(request.code, request.diagnostic, answer).accepted, answer
    assert teacher.usage.calls == 3 and teacher.usage.failures == 0
    assert teacher.usage.prompt_tokens > 0 and teacher.usage.completion_tokens > 0
    # The demonstration is part of what the LM saw.
    assert "print(valeu)" in str(lm.history[-1]["messages"] or lm.history[-1]["prompt"])


def test_dspy_teacher_failures_are_counted_not_raised(verifier):
    class Broken:
        name = "broken"

        def propose(self, code, diagnostic, file_name="main.py", context_files=None):
            raise RuntimeError("server down")

    teacher = DSPyRepairer(repairer_lm(Broken()), max_workers=1)
    code = "print(x)\n"
    assert teacher.propose(code, at(code, 0, 6, 7, '"x" is not defined')) == ""
    assert teacher.usage.failures == 1 and "server down" in teacher.usage.errors[0]


def test_bootstrap_keeps_demonstrations_that_verify(verifier, warm_linter):
    searcher = SearchRepairer(verifier)
    code = "value = 3\nprint(valeu)\n"
    diagnostic = error_of(warm_linter, code)
    demos = [demonstration(code, diagnostic, searcher.propose(code, diagnostic))]

    def verifies(example, prediction, trace=None):
        return verifier.verify(code, diagnostic, prediction.diff).accepted

    def never(example, prediction, trace=None):
        return False

    with dspy.context(lm=repairer_lm(searcher)):
        program = with_demonstrations(demos, k=1, metric=verifies)
        refused = with_demonstrations(demos, k=1, metric=never)
    # Bootstrapped demonstrations (the program's own traces, `augmented`) are kept only when the
    # metric passes; BootstrapFewShot tops up with the labelled example either way.
    bootstrapped = [demo for demo in program.repair.demos if demo.get("augmented")]
    assert len(bootstrapped) == 1 and verifier.verify(code, diagnostic, bootstrapped[0].diff).accepted
    assert not [demo for demo in refused.repair.demos if demo.get("augmented")]


@pytest.fixture
def deployed_model_url(request) -> tuple[str, bool]:
    """(gRPC address of the deployed `code_repair` model, whether it is the local one). With
    REPAIR_TRITON_URL set, that deployment; otherwise a real local Triton serving the deployment
    tests' checkpoint that learned one repair (`tests/conftest.py`)."""
    url = os.environ.get("REPAIR_TRITON_URL")
    if url:
        return url, False
    server, _ = request.getfixturevalue("served")
    return server.grpc_url, True


def test_dspy_teacher_against_deployed_triton_model(deployed_model_url, verifier, warm_linter):
    """The DSPy teacher's whole path (program, adapter, concurrency, usage) against the deployed
    model: `repairer_lm` over the serving stage's `TritonRepairer`, over gRPC. Every request must
    get the model's text back through the program (what verification makes of it depends on the
    model); on the local deployment the learned case must come back as its exact diff and verify."""
    from repair.serving.client import RepairClient, TritonRepairer

    url, local = deployed_model_url
    codes = [LEARNED_CASE.code, "value = 3\nprint(valeu)\n", "def f(x)\n    return x\n", "import os\nos.pth\n"]
    requests = [RepairRequest(c, error_of(warm_linter, c)) for c in codes]
    with RepairClient(url) as client:
        teacher = DSPyRepairer(repairer_lm(TritonRepairer(client)), max_workers=2)
        answers = teacher.propose_many(requests)
    assert teacher.usage.calls == len(codes) and teacher.usage.failures == 0, teacher.usage.errors
    assert all(answer.strip() for answer in answers), answers
    if local:
        assert parse_diff(answers[0]).ops == parse_diff(LEARNED_DIFF).ops
        assert verifier.verify(requests[0].code, requests[0].diagnostic, answers[0]).accepted


def test_keyword_as_name_prefers_the_name_the_file_lost():
    # `registered = {}` typed as `global = {}`: the later uses of `registered` are left unbound.
    code = "import os\nglobal = {}\n\ndef reg(k, v):\n    registered[k] = v\n    return registered\n"
    found = candidates(code, at(code, 1, 0, 6, "Expected expression", "syntax"))
    assert found[0].description == "line 2: global -> registered"
    # A reassignment from the line's own variable: `url = '/' + url`.
    code = "def f(url):\n    if url: lambda = '/' + url\n    return url\n"
    descriptions = [c.description for c in candidates(code, at(code, 1, 12, 18, "x", "syntax"))]
    assert "line 2: lambda -> url" in descriptions
    # No made-up name (`lambda_`, `class_`): it lints clean and is not what the user meant (issue 20).
    assert not any(d.endswith("_") for d in descriptions)
    assert not any("class_" in f for f in fixes("class = 3\n", at("class = 3\n", 0, 0, 1, "syntax", "syntax")))
