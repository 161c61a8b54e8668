"""The compact edit (docs/formats.md 2b): what a small model emits, expanded into the section 2
diff before anything else sees it."""

import pytest

from repair.dataset import build_examples
from repair.edits import edit_response, edit_span, expand_completion, expand_edit, to_edit, to_edit_example
from repair.linediff import DiffParseError, parse_diff, render_diff
from repair.prompt import parse_prompt

PROMPT = """<code>
#main.py
3 import os
4 
5 def start(path)
6     return os.path.join(path, path)
7 x = sellf.value + sellf.other
</code>
<lsp_error>Expected ":" (pyright syntax)</lsp_error>
<error_line>5 def start(path)</error_line>
"""


def _diff(*ops: str) -> str:
    return "\n".join(["<diff>", *ops, "</diff>"])


@pytest.mark.parametrize(
    ("diff", "edit"),
    [
        (_diff("-5 def start(path)", "+5 def start(path):"), ["@0 )", "=):"]),
        # the changed word, widened right until it is the only occurrence in the line
        (
            _diff("-7 x = sellf.value + sellf.other", "+7 x = self.value + sellf.other"),
            ["@2 sellf.value", "=self.value"],
        ),
        (
            _diff("-6     return os.path.join(path, path)", "+6         return os.path.join(path, path)"),
            ["@1     ", "=        "],
        ),
        (_diff("+3 import sys"), ["+-2 import sys"]),
        (_diff("-4"), ["--1"]),
        (_diff("-4", "+4 y = 1", "+4 z = 2"), ["@-1 ", "=y = 1", "+-1 z = 2"]),
    ],
)
def test_an_edit_names_only_what_changes_relative_to_the_error_line_and_expands_back(diff, edit):
    prompt = parse_prompt(PROMPT)
    text = to_edit(prompt, parse_diff(diff))
    assert text.split("\n") == ["<edit>", *edit, "</edit>"]
    assert expand_edit(prompt, text) == render_diff(parse_diff(diff))


def test_a_diff_removing_a_line_the_prompt_does_not_show_keeps_its_diff_form():
    diff = _diff("-40 gone = 1")
    assert to_edit(parse_prompt(PROMPT), parse_diff(diff)) is None
    assert edit_response(PROMPT, diff) == diff
    assert expand_completion(PROMPT, diff) == diff  # a <diff> completion passes through


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("<edit>\n@0 missing\n=x\n</edit>", "malformed_line"),  # the span is not in the line
        ("<edit>\n@1 path\n=p\n</edit>", "malformed_line"),  # not unique: which one?
        ("<edit>\n@4 x\n=y\n</edit>", "bad_line_number"),  # not a shown line
        ("<edit>\n@0 )\n</edit>", "malformed_line"),  # no '=' row
        ("<edit>\n-7\n</edit>", "bad_line_number"),
        ("<edit>\n+-9 x\n</edit>", "bad_line_number"),  # before line 1,
        ("nothing here", "no_diff_block"),
    ],
)
def test_an_edit_that_does_not_fit_the_prompt_is_refused_with_the_reason(completion, reason):
    with pytest.raises(DiffParseError) as error:
        expand_edit(parse_prompt(PROMPT), completion)
    assert error.value.reason == reason
    assert expand_completion(PROMPT, completion) == completion  # parsing it later says why


def test_edit_span_is_unique_and_replaces_to_the_new_line():
    for old, new in [("a = b", "a == b"), ("", "x"), ("abc", ""), ("f(x, x)", "f(x, y)"), ("aaa", "aaaa")]:
        span, replacement = edit_span(old, new)
        assert sum(old.startswith(span, i) for i in range(len(old) + 1)) == 1
        assert old.replace(span, replacement, 1) == new


def test_every_row_of_a_real_dataset_round_trips(repair_rows):
    examples, _, _ = build_examples(repair_rows)
    assert len(examples) > 50
    compact = 0
    for example in examples:
        row = to_edit_example(example)
        compact += row["response"].startswith("<edit>")
        expanded = expand_completion(example["prompt"], row["response"])
        assert parse_diff(expanded).ops == parse_diff(example["response"]).ops, example
    assert compact >= 0.9 * len(examples)


def test_a_model_that_emits_edits_answers_with_the_expanded_diff(tiny_checkpoint, tmp_path):
    """The served path: a model trained on edits (its repair_prompt.json says so) answers `propose`,
    and so Triton and the editor, with the section 2 diff."""
    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, RepairModel, write_prompt_settings
    from tests.conftest import LEARNED_CASE, LEARNED_DIFF, overfit

    model = RepairModel(tiny_checkpoint, temperature=0.0)
    prompt = model.prompt(LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name)
    edit = to_edit(parse_prompt(prompt), parse_diff(LEARNED_DIFF))
    assert edit == "<edit>\n@0 .screen\n=.Screen()\n</edit>"  # "screen" alone is there twice
    learned = overfit(tiny_checkpoint, tmp_path / "edits", prompt, edit, steps=60)
    assert RepairModel(learned, temperature=0.0).propose(LEARNED_CASE.code, LEARNED_CASE.diagnostic) == edit
    write_prompt_settings(learned, DEFAULT_WINDOW, EDIT_RESPONSE)
    assert (
        RepairModel(learned, temperature=0.0).propose(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
        == LEARNED_DIFF
    )


def test_the_cpu_presets_teach_the_edit_and_the_large_ones_the_diff(tmp_path):
    from repair.model import DIFF_RESPONSE, EDIT_RESPONSE, response_format_of
    from repair.training.config import TrainingSettings, render_config

    def form(preset: str) -> str:
        return response_format_of(
            render_config(TrainingSettings(preset, str(tmp_path), str(tmp_path), str(tmp_path)))
        )

    assert form("cpu-tiny") == form("cpu-tiny-scratch") == EDIT_RESPONSE
    assert form("single-gpu-lora") == DIFF_RESPONSE


def _base_vocabulary() -> list[str]:
    from transformers import AutoTokenizer

    from repair.training.config import SHIPPED_MODELS_DIR

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODELS_DIR / "base-cpu")
    return [tokenizer.decode([i]) for i in range(len(tokenizer))]


def test_constrained_decoding_never_finishes_an_edit_that_does_not_expand():
    """Whatever the model picks among the tokens the grammar allows (here: at random), a finished
    `<edit>` block expands against the prompt. Unconstrained, such walks are almost never edits."""
    import random

    from repair.edits import CLOSE_EDIT, EditGrammar

    vocabulary = _base_vocabulary()
    grammar, prompt, rng = EditGrammar(vocabulary), parse_prompt(PROMPT), random.Random(0)
    finished = 0
    for _ in range(150):
        text = ""
        for _ in range(60):
            text += vocabulary[rng.choice(grammar.allowed(prompt, text))]
            if text.endswith(CLOSE_EDIT):
                finished += 1
                expand_edit(prompt, text)  # raises DiffParseError when it does not fit
                break
    assert finished >= 20


@pytest.mark.parametrize(
    "edit", ["@0 )\n=):", "@2 sellf.value\n=self.value", "@1     \n=        ", "+-2 import sys", "--1", "@-1 \n=y = 1\n+-1 z = 2"]
)
def test_constrained_decoding_allows_every_well_formed_edit(edit):
    from transformers import AutoTokenizer

    from repair.edits import EditGrammar
    from repair.training.config import SHIPPED_MODELS_DIR

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODELS_DIR / "base-cpu")
    grammar, prompt = EditGrammar(_base_vocabulary()), parse_prompt(PROMPT)
    ids = tokenizer(f"<edit>\n{edit}\n</edit>", add_special_tokens=False)["input_ids"]
    for end, token in enumerate(ids):
        assert token in grammar.allowed(prompt, tokenizer.decode(ids[:end])), (tokenizer.decode(ids[:end]), token)


def test_a_constrained_model_answers_with_an_edit_that_fits_the_prompt(tiny_checkpoint, tmp_path):
    """A model taught an edit whose span is twice in its line (`screen`) answers, unconstrained, with
    an edit that does not expand; constrained, with a diff of the prompt's line."""
    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, RepairModel, write_prompt_settings
    from tests.conftest import LEARNED_CASE, overfit

    model = RepairModel(tiny_checkpoint, temperature=0.0)
    prompt = model.prompt(LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name)
    ambiguous = "<edit>\n@0 screen\n=Screen\n</edit>"
    learned = overfit(tiny_checkpoint, tmp_path / "ambiguous", prompt, ambiguous, steps=60)
    write_prompt_settings(learned, DEFAULT_WINDOW, EDIT_RESPONSE)
    free = RepairModel(learned, temperature=0.0, constrained=False, edit_candidates=1)
    assert free.propose(LEARNED_CASE.code, LEARNED_CASE.diagnostic) == ambiguous
    answer = RepairModel(learned, temperature=0.0, edit_candidates=1).propose(LEARNED_CASE.code, LEARNED_CASE.diagnostic)
    assert parse_diff(answer).ops[0].text == "screen = turtle.screen"
