"""The teacher LM resource and the optional LLM judge of verification."""

import dspy
import pytest
from dspy.lm15 import Message, Response, TextPart, Usage

from repair.teachers.dspy_teacher import DSPyJudge
from repair.verify import Verifier
from resources.teacher_lm import TeacherLMResource
from tests.synthesis.conftest import error_of


def test_resource_builds_an_openai_compatible_lm(monkeypatch):
    monkeypatch.setenv("REPAIR_TEACHER_MODEL", "openai/repair-7b")
    monkeypatch.setenv("REPAIR_TEACHER_API_BASE", "http://vllm.internal:8000/v1")
    monkeypatch.setenv("REPAIR_TEACHER_API_KEY", "secret-key")
    resource = TeacherLMResource()
    assert resource.configured
    # The key is read from the environment when the model is built, never kept in the config.
    assert resource.api_key is None
    lm = resource.build_lm()
    assert isinstance(lm, dspy.BaseLM) and lm.model == "openai/repair-7b"
    assert lm.kwargs["api_base"] == "http://vllm.internal:8000/v1" and lm.kwargs["api_key"] == "secret-key"
    # Bounded: a silent server costs timeout_s * (num_retries + 1), not LiteLLM's 600 s per attempt.
    assert lm.num_retries == resource.num_retries == 2 and lm.kwargs["timeout"] == 60


def test_unconfigured_resource_refuses(monkeypatch):
    monkeypatch.delenv("REPAIR_TEACHER_MODEL", raising=False)
    resource = TeacherLMResource()
    assert not resource.configured
    with pytest.raises(ValueError, match="REPAIR_TEACHER_MODEL"):
        resource.build_lm()


class VerdictEngine:
    """A DSPy engine that judges a fix right when the fixed code contains `expected`."""

    def __init__(self, expected: str):
        self.expected = expected

    def complete(self, request):
        user = request.messages[-1].text or ""
        right = self.expected in user.split("[[ ## fixed_code ## ]]")[-1]
        text = f"[[ ## is_right_fix ## ]]\n{right}\n\n[[ ## reason ## ]]\nchecked\n\n[[ ## completed ## ]]"
        return Response(id=None, model="verdict", message=Message.assistant((TextPart(text),)), finish_reason="stop",
                        usage=Usage(input_tokens=1, output_tokens=1))  # fmt: skip

    def stream(self, request):
        raise NotImplementedError

    def close(self):
        pass


def test_llm_judge_drops_clean_but_wrong_fixes(warm_linter):
    code = "value = 3\nvalues = [1]\nprint(valeu)\n"
    diagnostic = error_of(warm_linter, code)
    judge = DSPyJudge(dspy.LM("local/verdict", engine=VerdictEngine("print(value)"), cache=False))
    verifier = Verifier(warm_linter, judge=judge)
    right = verifier.verify(code, diagnostic, "<diff>\n-3 print(valeu)\n+3 print(value)\n</diff>")
    wrong = verifier.verify(code, diagnostic, "<diff>\n-3 print(valeu)\n+3 print(values)\n</diff>")
    assert right.accepted
    assert wrong.verdict == "judge_rejected" and wrong.detail == "checked"
