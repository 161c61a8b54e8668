"""The names like the flagged one that an edit model reads after its prompt (`repair.hints`)."""

import pytest

from repair.dataset import model_input
from repair.diagnostic import Diagnostic
from repair.edits import expand_completion, refer_to_names, to_edit_example, to_named_edit_example
from repair.hints import flagged_name, module_names, names_line, providing_modules, similar_names
from repair.prompt import parse_prompt, render_prompt

DEMO_FILE = "import math\n\n\ndef circle_area(radius):\n    return math.pi * raduis ** 2\n"


def _diagnostic(message: str, rule: str = "reportUndefinedVariable", line: int = 5) -> Diagnostic:
    return Diagnostic("pyright", rule, "error", message, line - 1, 0, line - 1, 1)


def _prompt(code: str, message: str, rule: str = "reportUndefinedVariable") -> str:
    return render_prompt(code, _diagnostic(message, rule), "main.py", 4)


_FLAGGED_NAME_PROMPT = (
    "<code>\n#main.py\n13         path = urlllib.parse.urlunparse(urllib.parse.urlparse(path))\n</code>\n"
    "<lsp_error>Undefined name `urlllib` (ruff F821)</lsp_error>\n"
    "<error_line>13         path = urlllib.parse.urlunparse(urllib.parse.urlparse(path))</error_line>\n"
)


@pytest.mark.parametrize(
    ("lsp_error", "name"),
    [
        ('"enc_namr" is not defined (pyright reportUndefinedVariable)', "enc_namr"),
        ("Undefined name `urlllib` (ruff F821)", "urlllib"),
        ('"gmtiem" is not a known attribute of module "time" (pyright reportAttributeAccessIssue)', "gmtiem"),
        (
            'Cannot access attribute "extends" for class "list[int]" (pyright reportAttributeAccessIssue)',
            "extends",
        ),
        ('Expected ":" (pyright syntax)', None),
        ('Argument of type "str" cannot be assigned to parameter "x" (pyright reportArgumentType)', None),
    ],
)
def test_the_flagged_name_is_the_identifier_a_naming_rule_quotes_first(lsp_error, name):
    prompt = _FLAGGED_NAME_PROMPT.replace("Undefined name `urlllib` (ruff F821)", lsp_error)
    assert flagged_name(parse_prompt(prompt)) == name


def test_the_demo_files_misspelt_name_is_answered_by_the_parameter_two_lines_up():
    prompt = parse_prompt(_prompt(DEMO_FILE, '"raduis" is not defined'))
    assert similar_names(prompt)[0] == "radius"
    assert names_line(prompt).startswith("<names>radius") and names_line(prompt).endswith("</names>\n")


@pytest.mark.parametrize(
    ("code", "message", "rule", "expected"),
    [
        # Case differs: a constant written in lower case.
        ("ROWS = 3\n\n\n\nprint(rows)\n", '"rows" is not defined', "reportUndefinedVariable", "ROWS"),
        (
            "row_index = 0\n\n\n\nprint(rowIndex)\n",
            '"rowIndex" is not defined',
            "reportUndefinedVariable",
            "row_index",
        ),
        # A builtin the prompt does not show.
        ("x = 1\n\n\n\nprint(lne(x))\n", '"lne" is not defined', "reportUndefinedVariable", "len"),
        # An attribute of a builtin class: its own attributes, not the prompt's names.
        (
            "extend = 1\n\n\n\nxs.extends([1])\n",
            'Cannot access attribute "extends" for class "list[int]"\n  Attribute "extends" is unknown',
            "reportAttributeAccessIssue",
            "extend",
        ),
        # An attribute of a module: the module's names (a compiled one and one with a source).
        (
            "import time\n\n\n\ntime.gmtiem()\n",
            '"gmtiem" is not a known attribute of module "time"',
            "reportAttributeAccessIssue",
            "gmtime",
        ),
        (
            "import json\n\n\n\njson.dumsp({})\n",
            '"dumsp" is not a known attribute of module "json"',
            "reportAttributeAccessIssue",
            "dumps",
        ),
    ],
)
def test_the_closest_names_come_from_where_the_fix_would_come(code, message, rule, expected):
    # `dumsp`: `dump` is as close as `dumps` to difflib; the model reads both.
    assert expected in similar_names(parse_prompt(_prompt(code, message, rule=rule)))


def test_no_names_without_a_flagged_name_or_a_close_one():
    assert similar_names(parse_prompt(_prompt(DEMO_FILE, 'Expected ":"', rule="syntax"))) == ()
    far = parse_prompt(_prompt("a = 1\n\n\n\nprint(zzqqxx)\n", '"zzqqxx" is not defined'))
    assert similar_names(far) == () and names_line(far) == ""


def test_a_modules_names_are_read_from_its_source_without_running_it(tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    (tmp_path / "sideeffects.py").write_text(
        f"open({str(ran)!r}, 'w').write('ran')\nimport os\ndef load(): pass\nclass Loader: pass\nLIMIT: int = 3\n_private = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_names("sideeffects") == {"os", "load", "Loader", "LIMIT"}
    assert not ran.exists()
    # A submodule would import its package to be found: no names rather than running it.
    assert module_names("email.mime") == frozenset() and module_names("no_such_module_here") == frozenset()


def test_a_named_example_reads_the_names_line_and_points_at_the_name_it_writes():
    row = {
        "prompt": _prompt(DEMO_FILE, '"raduis" is not defined'),
        "response": "<diff>\n-5     return math.pi * raduis ** 2\n+5     return math.pi * radius ** 2\n</diff>",
    }
    named = to_named_edit_example(row)
    assert to_edit_example(row)["response"] == "<edit>\n@0 raduis\n=radius\n</edit>"
    assert named["response"] == "<edit>\n@0 raduis\n=$1\n</edit>"
    assert expand_completion(row["prompt"], named["response"], names=True) == row["response"]
    assert named["prompt"] == model_input(row["prompt"]) + names_line(parse_prompt(row["prompt"]))
    assert model_input(row["prompt"], names=True) == named["prompt"]
    assert model_input("not a prompt", names=True) == "not a prompt\n"


def test_the_named_preprocessing_is_recorded_as_an_edit_model_that_reads_names():
    from repair.model import names_of, response_format_of

    def cfg(fn):
        return {"train_loader": {"dataset": {"preprocessing_fn": fn}}}

    assert response_format_of(cfg("repair.edits:to_named_edit_example")) == "edit"
    assert names_of(cfg("repair.edits:to_named_edit_example"))
    assert not names_of(cfg("repair.edits:to_edit_example")) and not names_of(cfg(None))


class _Recording:
    """A tokenizer that keeps every text it is asked to encode."""

    def __init__(self, tokenizer):
        self.tokenizer, self.texts = tokenizer, []

    def __call__(self, text, *args, **kwargs):
        self.texts.extend([text] if isinstance(text, str) else text)
        return self.tokenizer(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_a_model_that_reads_names_is_given_them(tiny_checkpoint, tmp_path):
    """The served path builds the input training built, and expands what training taught: with the
    names and `$K` pointing at them for a model whose settings say it reads them, without for any
    other."""
    import shutil

    from repair.model import EDIT_RESPONSE, RepairModel, write_prompt_settings

    diagnostic = _diagnostic('"raduis" is not defined')
    prompt = render_prompt(DEMO_FILE, diagnostic, "main.py", 4)
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, model_dir)
    read, written = {}, {}
    for names in (True, False):
        write_prompt_settings(model_dir, 4, EDIT_RESPONSE, names=names)
        model = RepairModel(model_dir, temperature=0.0)
        model.tokenizer = recording = _Recording(model.tokenizer)
        model.propose(DEMO_FILE, diagnostic)
        read[names] = next(text for text in recording.texts if text.startswith("<code>"))
        pointed = model._finish(model_input(prompt), "<edit>\n@0 raduis\n=$1\n</edit>")
        written[names] = pointed.split("\n")[2]
    assert read[True] == model_input(prompt, names=True) + "<edit>\n" and "<names>radius" in read[True]
    assert read[False] == model_input(prompt) + "<edit>\n"
    # `$1` points at the first name only for a model that reads them.
    assert written == {True: "+5     return math.pi * radius ** 2", False: "+5     return math.pi * $1 ** 2"}


def test_a_finetune_reads_names_when_its_base_was_trained_with_them(tmp_path):
    from repair.model import EDIT_RESPONSE, write_prompt_settings
    from repair.training.config import TrainingSettings, render_config

    def preprocessing(base, **overrides) -> set[str]:
        cfg = render_config(
            TrainingSettings("cpu-tiny", str(tmp_path), str(base), str(tmp_path), overrides=overrides)
        )
        return {cfg[loader]["dataset"]["preprocessing_fn"] for loader in ("train_loader", "eval_loader")}

    named, plain = tmp_path / "named", tmp_path / "plain"
    for folder, names in ((named, True), (plain, False)):
        folder.mkdir()
        write_prompt_settings(folder, 4, EDIT_RESPONSE, names=names)
    assert preprocessing(named) == {"repair.edits:to_named_edit_example"}
    assert preprocessing(plain) == preprocessing(tmp_path / "no settings") == {"repair.edits:to_edit_example"}
    # An explicit override still decides.
    chosen = {"train_loader.dataset.preprocessing_fn": "repair.edits:to_edit_example"}
    assert "repair.edits:to_edit_example" in preprocessing(named, **chosen)


def test_names_are_referred_to_as_whole_words_in_new_rows_only():
    names = ["radius", "rad"]
    edit = "<edit>\n@0 raduis **\n=radius ** radiuses + rad\n+1 radius\n</edit>"
    assert refer_to_names(edit, names) == "<edit>\n@0 raduis **\n=$1 ** radiuses + $2\n+1 radius\n</edit>"
    assert refer_to_names("<edit>\n@0 x\n=f'$radius'\n</edit>", names) == "<edit>\n@0 x\n=f'$radius'\n</edit>"


def test_every_row_of_a_real_dataset_round_trips_through_the_named_edit(repair_rows):
    from repair.dataset import build_examples
    from repair.linediff import parse_diff

    examples, _, _ = build_examples(repair_rows)
    referred = 0
    for example in examples:
        response = to_named_edit_example(example)["response"]
        referred += "$1" in response
        expanded = expand_completion(example["prompt"], response, names=True)
        assert parse_diff(expanded).ops == parse_diff(example["response"]).ops, example
    assert referred > 0


def test_pretrain_shows_names_from_scratch_and_a_continued_base_keeps_its_own(tmp_path):
    from repair.training.pretrain import names_overrides

    named, plain = "repair.edits:to_named_edit_example", "repair.edits:to_edit_example"
    assert set(names_overrides(None).values()) == {named} and len(names_overrides(None)) == 2
    assert names_overrides(None, tmp_path) == {}  # `follow_base_names` decides by the base's settings
    assert set(names_overrides(False, tmp_path).values()) == {plain}
    assert set(names_overrides(True, tmp_path).values()) == {named}


def test_an_undefined_name_a_standard_module_offers_gets_the_modules_line_and_a_pointer_to_it():
    prompt = _prompt("import os\n\n\nx = 1\nprint(os.sep, Counter())\n", '"Counter" is not defined')
    parsed = parse_prompt(prompt)
    # `__all__` where a module declares one: `statistics` imports Counter for itself.
    assert providing_modules(parsed) == ("typing", "collections")
    assert model_input(prompt, names=True).endswith("<modules>typing collections</modules>\n")
    example = {"prompt": prompt, "response": "<diff>\n+2 from collections import Counter\n</diff>"}
    assert to_named_edit_example(example)["response"] == "<edit>\n+^ from $2 import $0\n</edit>"
    assert expand_completion(prompt, "<edit>\n+^ from $2 import $0\n</edit>", names=True, top=2) == (
        "<diff>\n+2 from collections import Counter\n</diff>"
    )
    # A module's own name, an attribute, or a name no common module has: no line.
    for code, message, rule in [
        ("x = 1\n\n\n\nmath.pi\n", '"math" is not defined', "reportUndefinedVariable"),
        ("import math\n\n\n\nmath.tau2\n", '"tau2" is not a known attribute of module "math"', "reportAttributeAccessIssue"),
        ("x = 1\n\n\n\nprint(raduis)\n", '"raduis" is not defined', "reportUndefinedVariable"),
    ]:
        assert providing_modules(parse_prompt(_prompt(code, message, rule))) == (), message
