"""The evaluation's LLM repairers (`dspy:MODEL`, `dspy-fewshot:MODEL`) are bounded like the teacher
(issue 18: timeouts on every LM call): LiteLLM's own default is 600 s per attempt. That dspy.LM
honours `timeout` is tests/synthesis/test_teacher_timeout.py's."""

from __future__ import annotations

import pytest

from evals.models import LM_TIMEOUT_S, open_repairers, parse_model_spec


@pytest.mark.parametrize("kind", ["dspy", "dspy-fewshot"])
def test_every_evaluation_lm_has_a_timeout(kind):
    spec = [parse_model_spec(f"{kind}:openai/any")]
    with open_repairers(spec) as (repairer,):
        assert repairer.repairer.lm.kwargs["timeout"] == LM_TIMEOUT_S <= 60
    with open_repairers(spec, lm_options={"timeout": 5.0}) as (repairer,):
        assert repairer.repairer.lm.kwargs["timeout"] == 5.0
