"""The compact edit (docs/formats.md 2b): what a small model emits, expanded into the section 2
diff before anything else sees it."""

import pytest

from repair.dataset import build_examples
from repair.diagnostic import Diagnostic
from repair.edits import (
    edit_response,
    edit_span,
    expand_completion,
    expand_edit,
    same_fix,
    to_edit,
    to_edit_example,
)
from repair.linediff import DiffOp, DiffParseError, parse_diff, render_diff
from repair.prompt import import_line, parse_prompt, render_prompt

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
        (_diff("+3 global sys"), ["+-2 global sys"]),
        # `from __future__` must open the file: not an import `+^` may place
        (_diff("+3 from __future__ import annotations"), ["+-2 from __future__ import annotations"]),
        (_diff("-4"), ["--1"]),
        (_diff("-4", "+4 y = 1", "+4 z = 2"), ["@-1 ", "=y = 1", "+-1 z = 2"]),
    ],
)
def test_an_edit_names_only_what_changes_relative_to_the_error_line_and_expands_back(diff, edit):
    prompt = parse_prompt(PROMPT)
    text = to_edit(prompt, parse_diff(diff))
    assert text.split("\n") == ["<edit>", *edit, "</edit>"]
    assert expand_edit(prompt, text) == render_diff(parse_diff(diff))


_IMPORT_PROMPT = render_prompt(
    '"""Doc."""\nimport os\n\nprint(os.sep, sys.argv)\n',
    Diagnostic("ruff", "F821", "error", "Undefined name `sys`", 3, 15, 3, 18),
)


def test_an_added_import_is_written_plus_caret_with_the_flagged_name_as_0_and_goes_where_the_imports_are():
    added = parse_diff(_diff("+2 import sys"))  # the user put it above `import os`
    text = edit_response(_IMPORT_PROMPT, render_diff(added), names=True)
    assert text == "<edit>\n+^ import $0\n</edit>"
    expanded = parse_diff(expand_completion(_IMPORT_PROMPT, text, names=True, top=3))
    assert expanded.ops == (DiffOp("+", 3, "import sys"),) and same_fix(expanded, added)
    # Without the file, the lines the prompt shows from line 1 place it (after `import os`).
    assert parse_diff(expand_completion(_IMPORT_PROMPT, text, names=True)).ops[0].line == 3
    # Anything else is the same edit only at the same place.
    assert not same_fix(parse_diff(_diff("+3 x = 1")), parse_diff(_diff("+2 x = 1")))
    assert not same_fix(parse_diff(_diff("+3 import os")), added)


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ('"""Doc."""\nfrom __future__ import annotations\n\nimport os\nx = 1\n', 5),
        ("import os\nfrom typing import (\n    Any,\n)\n\nx: Any = os\n", 5),  # never inside the parentheses
        ('#!/usr/bin/env python\n"""Doc\n\nmore."""\nx = 1\n', 5),  # after the docstring
        ("# a comment\nx = 1\n", 2),
        ("import os\nfrom typing import (\n    Any,\n)\ndef f(:\n", 5),  # does not parse
    ],
)
def test_an_import_goes_after_the_imports_that_open_the_file(code, line):
    assert import_line(code) == line


def test_an_import_row_goes_before_an_edit_of_a_line_above_where_it_lands():
    prompt = parse_prompt(_IMPORT_PROMPT)
    text = "<edit>\n+^ import sys\n@-2 os\n=sys, os\n</edit>"
    assert expand_edit(prompt, text, top=3) == _diff("-2 import os", "+2 import sys, os", "+3 import sys")
    two = "<edit>\n+^ import sys\n+^ import re\n</edit>"  # several imports, in their order
    assert expand_edit(prompt, two, top=3) == _diff("+3 import sys", "+3 import re")


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
        ("<edit>\n--1\n+^ import sys\n</edit>", "malformed_line"),  # an import row comes first
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
        assert same_fix(parse_diff(expanded), parse_diff(example["response"])), example
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


def test_constrained_decoding_offers_an_import_row_only_before_every_other_row():
    from repair.edits import EditGrammar

    vocabulary = _base_vocabulary()
    grammar, prompt = EditGrammar(vocabulary), parse_prompt(PROMPT)
    caret = vocabulary.index("^")
    assert caret in grammar.allowed(prompt, "<edit>\n+")
    assert caret in grammar.allowed(prompt, "<edit>\n+^ import os\n+")
    assert caret not in grammar.allowed(prompt, "<edit>\n--1\n+")
    assert {vocabulary[i][0] for i in grammar.allowed(prompt, "<edit>\n+^")} == {" "}
    assert len(grammar.allowed(prompt, "<edit>\n+^ from")) == len(vocabulary)  # free text


def test_the_tokens_a_span_may_grow_by_come_in_the_same_order_under_any_hash_seed():
    """A seeded walk over the allowed tokens (the test above) is repeatable only if their order does
    not follow the process's string hash seed: CI once counted 19 finished walks where a run here
    counted 24, because the tokens a span may grow by came out of a set."""
    import subprocess
    import sys

    script = (
        "from repair.edits import EditGrammar; from repair.prompt import parse_prompt; import sys; "
        "vocabulary = [chr(c) for c in range(32, 127)] + ['\\n', 'se', 'll', 'sellf', '.value', ' +', 'other']; "
        "prompt = parse_prompt(sys.stdin.read()); "
        "print(EditGrammar(vocabulary).allowed(prompt, '<edit>\\n@2 '))"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", script],
            input=PROMPT,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in range(1, 4)
    }
    assert len(orders) == 1, orders


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


def test_a_constrained_edit_model_spends_no_decoding_step_on_the_blocks_frame(tiny_checkpoint, tmp_path):
    """Every constrained answer is an edit: `<edit>` and the newline after it are part of the input,
    and decoding stops once the closing tag has begun (the grammar allows nothing else after `</`),
    so only the edit's rows cost steps; the answer is still the whole, expanded diff."""
    from transformers import AutoTokenizer

    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, RepairModel, write_prompt_settings
    from tests.conftest import LEARNED_CASE, LEARNED_DIFF, overfit

    prompt = RepairModel(tiny_checkpoint).prompt(LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name)
    edit = to_edit(parse_prompt(prompt), parse_diff(LEARNED_DIFF))
    learned = overfit(tiny_checkpoint, tmp_path / "edits", prompt, edit, steps=60)
    write_prompt_settings(learned, DEFAULT_WINDOW, EDIT_RESPONSE)
    model = RepairModel(learned, temperature=0.0, edit_candidates=1)
    steps: list[int] = []
    model.model.register_forward_pre_hook(lambda module, args: steps.append(1))
    assert model.propose(LEARNED_CASE.code, LEARNED_CASE.diagnostic) == LEARNED_DIFF
    rows = edit.removeprefix("<edit>\n").removesuffix("edit>")  # "@0 .screen\n=.Screen()\n</"
    tokenizer = AutoTokenizer.from_pretrained(learned)
    assert len(steps) <= len(tokenizer(rows, add_special_tokens=False)["input_ids"])


def test_a_rows_text_grows_by_its_newest_token_as_decoding_the_whole_row_gives():
    """The grammar reads each row's text at every step; it is extended by the newest token, never
    decoded again, and stays what decoding gives, a character split over tokens included."""
    import torch
    from transformers import AutoTokenizer

    from repair.model import EDIT_OPENING, _RowTexts
    from repair.training.config import SHIPPED_MODELS_DIR

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODELS_DIR / "base-cpu")
    special = set(tokenizer.all_special_ids)
    pieces = ["" if i in special else text for i, text in enumerate(_base_vocabulary())]
    ids = tokenizer("@0 naïve → π\n=x", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert any("\ufffd" in pieces[i] for i in ids)  # the case that a token-by-token sum gets wrong
    texts = _RowTexts(pieces, 3, EDIT_OPENING, tokenizer)
    for end in range(len(ids) + 1):
        row = torch.tensor([7, 8, 9, *ids[:end]])
        assert texts.of(row) == EDIT_OPENING + tokenizer.decode(ids[:end], skip_special_tokens=True)


# Greedy and constrained, decoding is `_ranked_candidates` (one prompt at a time); `generate`'s beams
# remain for an unconstrained model.
@pytest.mark.parametrize(("temperature", "constrained"), [(0.0, False), (0.7, True)])
def test_sharing_each_prompts_cache_among_its_candidates_changes_no_answer(
    tiny_checkpoint, tmp_path, temperature, constrained
):
    """The prompt runs through the model once, not once per beam or sample; left-padded prompts of
    different lengths in one batch decode exactly as when `generate` runs every row's prompt itself."""
    import shutil

    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, RepairModel, write_prompt_settings
    from repair.serving.rollout import SMOKE_CASES

    edit_model = tmp_path / "edit-model"
    shutil.copytree(tiny_checkpoint, edit_model)
    write_prompt_settings(edit_model, DEFAULT_WINDOW, EDIT_RESPONSE)
    model = RepairModel(
        edit_model, temperature=temperature, edit_candidates=3, max_new_tokens=24, constrained=constrained
    )
    prompts = [model.prompt(case.code, case.diagnostic, case.file_name) for case in SMOKE_CASES]
    shared = model.candidates_of(prompts)
    model._prompt_cache = lambda encoded: None
    assert model.candidates_of(prompts) == shared


def _first_row(edit: str) -> str:
    return edit.removeprefix("<edit>\n").split("\n", 1)[0]


def test_the_headers_hold_the_first_row_of_every_edit_of_a_real_dataset_within_the_span_limit(repair_rows):
    """Ranked decoding can only answer with a header `edit_headers` offers: every edit of a dataset
    begins with one, but a span wider than `MAX_SPAN_PIECES` pieces."""
    from repair.edits import _PIECE, MAX_SPAN_PIECES, edit_headers

    examples, _, _ = build_examples(repair_rows)
    checked = 0
    for example in examples:
        edit = edit_response(example["prompt"], example["response"])
        if not edit.startswith("<edit>"):
            continue
        row = _first_row(edit)
        header = f"{row}\n" if row[0] in "@-" else row.split(" ", 1)[0]
        if row[0] == "@" and len(_PIECE.findall(row.split(" ", 1)[1])) > MAX_SPAN_PIECES:
            continue
        assert header in edit_headers(parse_prompt(example["prompt"])), (header, example["prompt"])
        checked += 1
    assert checked > 50


def test_a_header_tokenized_alone_is_how_training_tokenized_it_inside_the_answer(repair_rows):
    """The ranked headers are scored as token sequences: those must be the ones the model was
    trained on, i.e. the answer's own tokenization begins with the opening's then the header's."""
    from transformers import AutoTokenizer

    from repair.edits import edit_headers
    from repair.training.config import SHIPPED_MODELS_DIR

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODELS_DIR / "base-cpu")
    opening = tokenizer("<edit>\n", add_special_tokens=False)["input_ids"]
    examples, _, _ = build_examples(repair_rows)
    for example in examples:
        edit = edit_response(example["prompt"], example["response"])
        headers = [
            h for h in edit_headers(parse_prompt(example["prompt"])) if edit.startswith("<edit>\n" + h)
        ]
        if not headers:
            continue
        header = max(headers, key=len)
        answer = tokenizer(edit, add_special_tokens=False)["input_ids"]
        expected = opening + tokenizer(header, add_special_tokens=False)["input_ids"]
        assert answer[: len(expected)] == expected, (header, edit)


def test_a_header_trie_ends_a_header_where_a_longer_one_goes_on():
    """`+-1` and `+-11` are both headers: the node of `+-1` ends one and has children."""
    from transformers import AutoTokenizer

    from repair.model import _HeaderTrie
    from repair.training.config import SHIPPED_MODELS_DIR

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODELS_DIR / "base-cpu")
    headers = ["+-1", "+-11", "@0 x\n"]
    trie = _HeaderTrie(tokenizer, headers)
    for header in headers:
        node = 0
        for token in tokenizer(header, add_special_tokens=False)["input_ids"]:
            node = trie.children[node][token]
        assert trie.ends[node] == header
    assert sorted(h for h in trie.ends if h) == sorted(headers)


@pytest.mark.parametrize("ranked", [True, False])
def test_greedy_candidates_of_the_shipped_base_differ_in_where_they_edit(repair_rows, ranked):
    """Ranked decoding gives `edit_candidates` edits whose first rows all differ; token beams spent
    their width on replacements at one place (the control: some prompt gets a repeated first row).
    The edits are compared as the model wrote them, before expansion (two spans can make one diff)."""
    from repair.model import RepairModel
    from repair.training.config import SHIPPED_MODELS_DIR

    examples, _, _ = build_examples(repair_rows)
    model = RepairModel(SHIPPED_MODELS_DIR / "base-cpu", temperature=0.0, edit_candidates=4, ranked_headers=ranked)
    model._finish = lambda prompt, text, top=None: text
    first_rows = [[_first_row(edit) for edit in model.candidates_of([e["prompt"]])[0]] for e in examples[:12]]
    assert all(len(rows) == 4 for rows in first_rows)
    all_differ = all(len(set(rows)) == 4 for rows in first_rows)
    assert all_differ if ranked else not all_differ, first_rows


# Two held-out prompts of a corpus (`.data/pretrain18`, test) on which the shipped base's greedy
# candidates kept a span unchanged (`@0 self` answered `=self`; the base of 2026-12-05, evening),
# and never edited the name the diagnostic flags (2026-12-04, the base that points at names).
_KEPT_SPAN_PROMPT = (
    "<code>\n#cyaml.py\n15 \n16 class CBaseLoader(CParser, BaseConstructor, BaseResolver):\n17 \n"
    "18     def __init__(self, stream):\n19         CParser.__init__(self, data)\n"
    "20         BaseConstructor.__init__(self)\n21         BaseResolver.__init__(self)\n22 \n"
    "23 class CSafeLoader(CParser, SafeConstructor, Resolver):\n</code>\n"
    '<lsp_error>"data" is not defined (pyright reportUndefinedVariable)</lsp_error>\n'
    "<error_line>19         CParser.__init__(self, data)</error_line>\n"
)
_FLAGGED_NAME_PROMPT = (
    "<code>\n#decorators.py\n"
    "189     .. versionchanged:: 4.0.0 ``pass_many`` is renamed to ``pass_collection``.\n"
    "190     .. versionchanged:: 4.0.0 ``pass_collection`` is a keyword-only argument.\n"
    "191     .. versionchanged:: 4.0.0 ``unknown`` is passed as a keyword argument to the decorated method.\n"
    '192     """\n193     return set_hook(fn, PRE_LOAAD, many=pass_collection)\n194 \n195 \n196 def post_load(\n'
    "197     fn: typing.Callable[..., typing.Any] | None = None,\n</code>\n"
    '<lsp_error>"PRE_LOAAD" is not defined (pyright reportUndefinedVariable)</lsp_error>\n'
    "<error_line>193     return set_hook(fn, PRE_LOAAD, many=pass_collection)</error_line>\n"
)


def _shipped_first_rows(prompt: str, **disabled) -> list[tuple[str, str]]:
    """(first row, second row) of each greedy candidate of the shipped base, as the model wrote it;
    `disabled` replaces RepairModel attributes (the control of the tests below)."""
    from repair.model import RepairModel
    from repair.training.config import SHIPPED_MODELS_DIR

    model = RepairModel(SHIPPED_MODELS_DIR / "base-cpu", temperature=0.0, edit_candidates=4)
    model._finish = lambda prompt, text, top=None: text
    for name, value in disabled.items():
        setattr(model, name, value)
    rows = [edit.removeprefix("<edit>\n").split("\n") for edit in model.candidates_of([prompt])[0]]
    return [(r[0], r[1] if len(r) > 1 else "") for r in rows]


def test_no_greedy_candidate_replaces_a_span_by_itself():
    """An `@K SPAN` answered `=SPAN` changes nothing: decoding completes that header again from the
    cheapest departure from its greedy NEW (the control, without it: such candidates)."""
    from repair.model import _NoOpFork

    def kept(rows):
        return [(a, b) for a, b in rows if a.startswith("@") and b == "=" + a.split(" ", 1)[1]]

    rows = _shipped_first_rows(_KEPT_SPAN_PROMPT)
    assert len(rows) == 4 and not kept(rows), rows
    original = _NoOpFork.offer
    try:
        _NoOpFork.offer = lambda self, *args: None
        assert kept(_shipped_first_rows(_KEPT_SPAN_PROMPT))
    finally:
        _NoOpFork.offer = original


def test_a_flagged_undefined_name_is_always_among_the_places_edited():
    """The diagnostic names the undefined `PRE_LOAAD`: one candidate edits it even where the model
    ranks four other headers higher (the control, without it: none does); given the header, the
    model points at the first of the names like it (`PRE_LOAD`, docs/formats.md 3b)."""
    assert ("@0 PRE_LOAAD", "=$1") in _shipped_first_rows(_FLAGGED_NAME_PROMPT)
    unflagged = _shipped_first_rows(_FLAGGED_NAME_PROMPT, _flagged_header=lambda *args: None)
    assert not any(first == "@0 PRE_LOAAD" for first, _ in unflagged), unflagged


def test_the_flagged_header_is_answered_by_a_name_it_points_at_when_that_is_likelier():
    """Given `<names>PRE_LOAD ...</names>`, the shipped base completes `@0 PRE_LOAAD` greedily as
    `=PAAAMEABLE` (its first token beats `$`), while `=$1` (`PRE_LOAD`) is likelier as a whole: the
    pointer is the answer (the control, without pointers: the greedy spelling)."""
    assert ("@0 PRE_LOAAD", "=$1") in _shipped_first_rows(_FLAGGED_NAME_PROMPT)
    greedy = _shipped_first_rows(_FLAGGED_NAME_PROMPT, _pointer_answer=lambda *args: None)
    flagged = [second for first, second in greedy if first == "@0 PRE_LOAAD"]
    assert flagged and flagged != ["=$1"], greedy


def test_no_op_fork_takes_the_cheapest_departure_inside_new_only():
    from repair.model import EDIT_OPENING, _NoOpFork

    fork = _NoOpFork("@0 enc_namr\n")
    assert fork.span == "enc_namr"
    assert fork.in_new(EDIT_OPENING + "@0 enc_namr\n=enc_na") and not fork.in_new(EDIT_OPENING + "@0 enc_namr\n=x\n")
    fork.offer(2, -3.0, 11)
    fork.offer(3, -1.5, 12)
    fork.offer(4, -2.0, 13)
    assert fork.best == (-1.5, 3, 12)
    assert fork.is_no_op(EDIT_OPENING + "@0 enc_namr\n=enc_namr\n</edit>")
    assert not fork.is_no_op(EDIT_OPENING + "@0 enc_namr\n=enc_name\n</edit>")
    # A model that reads names: `$1` is the first of them, a no-op when it is the span itself.
    assert _NoOpFork("@0 enc_name\n", ["enc_name"]).is_no_op(EDIT_OPENING + "@0 enc_name\n=$1\n</edit>")
    assert not _NoOpFork("@0 enc_namr\n", ["enc_name"]).is_no_op(EDIT_OPENING + "@0 enc_namr\n=$1\n</edit>")
    assert not _NoOpFork("-0\n").in_new(EDIT_OPENING + "-0\n")  # only `@K SPAN` rows have a NEW
    assert _NoOpFork("@0 enc_namr\n=enc_nam").span is None  # a fork's header is not forked again


@pytest.mark.parametrize("prompt", [_KEPT_SPAN_PROMPT, _FLAGGED_NAME_PROMPT], ids=["no-op re-completed", "flagged name"])
def test_the_model_reads_the_prompt_once_even_when_a_rule_adds_work(prompt):
    """Both rules extend copies of the prompt's KV cache: of the model's forward passes for one
    request, one holds the prompt (the others hold a few new tokens each)."""
    from repair.model import RepairModel
    from repair.training.config import SHIPPED_MODELS_DIR

    model = RepairModel(SHIPPED_MODELS_DIR / "base-cpu", temperature=0.0, edit_candidates=4)
    lengths = []
    forward = model.model.forward

    def counted(input_ids=None, *args, **kwargs):
        lengths.append(input_ids.shape[-1])
        return forward(input_ids, *args, **kwargs)

    model.model.forward = counted
    model.candidates_of([prompt])
    prompt_tokens = len(model.tokenizer(prompt)["input_ids"])
    assert sum(length >= prompt_tokens for length in lengths) == 1, lengths
    assert max(length for length in lengths if length < prompt_tokens) < 20, lengths
