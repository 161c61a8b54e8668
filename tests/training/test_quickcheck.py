"""The served repairer's own check of its candidate answers (`repair.quickcheck`), with real ruff."""

from repair.diagnostic import Diagnostic
from repair.quickcheck import first_clearing

CODE = "import os\n\n\ndef start(path)\n    return os.path.join(path, path)\n"
SYNTAX = Diagnostic("pyright", "syntax", "error", 'Expected ":"', 3, 15, 3, 15)
UNDEFINED = Diagnostic("pyright", "reportUndefinedVariable", "error", '"pth" is not defined', 4, 0, 4, 0)
ATTRIBUTE = Diagnostic(
    "pyright", "reportAttributeAccessIssue", "error", 'Cannot access attribute "jion"', 4, 0, 4, 0
)


def _diff(*ops: str) -> str:
    return "\n".join(["<diff>", *ops, "</diff>"])


def test_the_first_candidate_that_clears_the_target_without_a_new_error_is_chosen():
    still_broken = _diff("-4 def start(path)", "+4 def  start(path)")
    breaks_next = _diff(
        "-4 def start(path)",
        "+4 def start(path):",
        "-5     return os.path.join(path, path)",
        "+5     return os.path.join(",
    )
    malformed = "<edit>\n@0 nowhere\n=x\n</edit>"
    fixed = _diff("-4 def start(path)", "+4 def start(path):")
    assert first_clearing([(CODE, SYNTAX)], [[malformed, still_broken, breaks_next, fixed]]) == [3]
    assert first_clearing([(CODE, SYNTAX)], [[still_broken, breaks_next]]) == [None]


def test_an_undefined_name_must_be_gone_and_a_target_ruff_cannot_see_only_adds_no_error():
    code = "def f(path):\n    return pth\n"
    keeps = _diff("-2     return pth", "+2     return pth + 1")
    renames = _diff("-2     return pth", "+2     return path")
    assert first_clearing([(code, UNDEFINED)], [[keeps, renames]]) == [1]
    attribute = "import os\n\n\ndef f(p):\n    return os.path.jion(p)\n"
    breaks = _diff("-5     return os.path.jion(p)", "+5     return os.path.join(q)")
    joins = _diff("-5     return os.path.jion(p)", "+5     return os.path.join(p)")
    unchanged = _diff("-5     return os.path.jion(p)", "+5     return os.path.jion(p)")
    assert first_clearing(
        [(attribute, ATTRIBUTE), (code, UNDEFINED)], [[unchanged, breaks, joins], [keeps]]
    ) == [2, None]


def _attribute_error(message: str, line: int = 4) -> Diagnostic:
    return Diagnostic("pyright", "reportAttributeAccessIssue", "error", message, line, 0, line, 0)


def _unknown_attribute_of(module: str) -> Diagnostic:
    return _attribute_error(f'"gmtiem" is not a known attribute of module "{module}"')


def test_an_unknown_attribute_of_a_standard_module_must_become_one_it_has():
    """pyright's "X is not a known attribute of module M" for a standard module: a fix that still
    writes, on a line it adds, an attribute M lacks does not pass (the served model's third answer
    to `time.gmtiem` on the demo day was `time.mimegmtiem`, its fourth `time.gmtime`)."""
    code = "import time\n\n\ndef now():\n    return time.gmtiem(0), time.time()\n"
    line = "5     return time.gmtiem(0), time.time()"
    misspelt = _diff(f"-{line}", "+" + line.replace("gmtiem", "mimegmtiem"))
    right = _diff(f"-{line}", "+" + line.replace("gmtiem", "gmtime"))
    assert first_clearing([(code, _unknown_attribute_of("time"))], [[misspelt, right]]) == [1]
    # A submodule is judged by its own names, and a module imported under another name where the
    # error line writes it so (`mp.Priter` for `mp.Ppie` was a held-out answer).
    for module, imported, written, typo, invented, right in [
        ("os.path", "import os", "os.path", "jion", "joinn", "join"),
        ("multiprocessing", "import multiprocessing as mp", "mp", "Ppie", "Priter", "Pipe"),
    ]:
        source = f"{imported}\n\n\ndef f(p):\n    return {written}.{typo}(p)\n"
        wrong = f"5     return {written}.{typo}(p)"
        target = _attribute_error(f'"{typo}" is not a known attribute of module "{module}"')
        answers = [_diff(f"-{wrong}", "+" + wrong.replace(typo, new)) for new in (invented, right)]
        assert first_clearing([(source, target)], [answers]) == [1], module
    # A module this process does not import (not the standard library's) is not judged.
    renamed = code.replace("time", "mytime")
    guess = _diff(
        f"-{line.replace('time', 'mytime')}",
        "+" + line.replace("time", "mytime").replace("gmtiem", "gmtime2"),
    )
    assert first_clearing([(renamed, _unknown_attribute_of("mytime"))], [[guess]]) == [0]


def test_a_fix_must_not_write_an_attribute_a_builtin_lacks():
    """`math.inf` without `import math`: the benchmark model's answer `format.inf` named a builtin
    the file never writes, which has no `inf`; pyright would flag it, ruff cannot. A builtin's
    real attribute passes, and so does a name the file binds itself (a parameter `format`)."""
    target = Diagnostic("pyright", "reportUndefinedVariable", "error", '"math" is not defined', 1, 13, 1, 17)
    code = "def low():\n    lowest = math.inf\n    return lowest\n"
    builtin = _diff("-2     lowest = math.inf", "+2     lowest = format.inf")
    real = _diff("-2     lowest = math.inf", "+2     lowest = float.fromhex('inf')")
    assert first_clearing([(code, target)], [[builtin, real]]) == [1]
    bound = code.replace("def low():", "def low(format):")
    assert first_clearing([(bound, target)], [[builtin]]) == [0]
    # A constant is no local, however often the file writes it (a held-out answer `True.unpack`).
    constant = _diff("-2     lowest = math.inf", "+2     lowest = True.inf")
    assert first_clearing(
        [(code.replace("return lowest", "return lowest or True"), target)], [[constant]]
    ) == [None]


def test_a_fix_of_an_unknown_attribute_of_a_builtin_class_must_stop_writing_it_and_write_one_it_has():
    """pyright's "Cannot access attribute X for class T" for a builtin T, which no code can give an
    attribute: a fix that still writes `.X` as often leaves the target (the benchmark model's
    `words[-21].length`), and one that writes an attribute new to the file that T lacks makes another
    (`word.lowerlowercase()`); `word.lower()` passes, and so does `len(...)` that writes none."""
    target = _attribute_error(
        'Cannot access attribute "lowercase" for class "str"\n  Attribute "lowercase" is unknown', line=1
    )
    code = "def letters(word):\n    return set(word.lowercase())\n"
    line = "2     return set(word.lowercase())"
    keeps = _diff(f"-{line}", "+2     return sorted(word.lowercase())")
    invented = _diff(f"-{line}", "+2     return set(word.lowerlowercase())")
    right = _diff(f"-{line}", "+2     return set(word.lower())")
    assert first_clearing([(code, target)], [[keeps, invented, right]]) == [2]
    length = _attribute_error('Cannot access attribute "length" for class "str"', line=1)
    code = "def size(word):\n    return word.length\n"
    assert first_clearing(
        [(code, length)], [[_diff("-2     return word.length", "+2     return len(word)")]]
    ) == [0]
    # A class of the project's own can gain the attribute where it is defined: not judged.
    mine = _attribute_error('Cannot access attribute "lowercase" for class "Word"', line=1)
    code = "def letters(word):\n    return set(word.lowercase())\n"
    assert first_clearing([(code, mine)], [[keeps]]) == [0]


def test_without_the_file_the_prompt_s_own_lines_and_error_are_checked():
    """The held-out split holds prompts only: a window of lines 3-7 and its `<lsp_error>`."""
    from repair.prompt import parse_prompt
    from repair.quickcheck import prompt_source
    from tests.training.test_edits import PROMPT

    source = prompt_source(parse_prompt(PROMPT))
    assert source is not None
    code, target = source
    assert code.splitlines()[:5] == ["", "", "import os", "", "def start(path)"]
    assert (target.source, target.code, target.line1) == ("pyright", "syntax", 5)
    still_broken = _diff("-5 def start(path)", "+5 def  start(path)")
    fixed = _diff("-5 def start(path)", "+5 def start(path):")
    assert first_clearing([source], [[still_broken, fixed]]) == [1]


def test_the_model_answers_no_fix_when_none_of_its_candidates_passes(tiny_checkpoint, tmp_path):
    """A candidate that fails the quick check is not shown: with none passing, the answer is the
    empty diff (status `no_fix`), the request's whole file or the prompt alone being the check."""
    import shutil

    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, NO_FIX, RepairModel, write_prompt_settings

    edit_model = tmp_path / "edit-model"
    shutil.copytree(tiny_checkpoint, edit_model)
    write_prompt_settings(edit_model, DEFAULT_WINDOW, EDIT_RESPONSE)
    model = RepairModel(edit_model, temperature=0.0, edit_candidates=2)
    prompt = model.prompt(CODE, SYNTAX)
    broken = _diff("-4 def start(path)", "+4 def start(path) -> str")
    fixed = _diff("-4 def start(path)", "+4 def start(path):")
    model.candidates_of = lambda prompts, tops=None: [[broken, broken]]
    assert model.generate([prompt], [(CODE, SYNTAX)]) == [NO_FIX]
    assert model.generate([prompt]) == [NO_FIX]
    model.candidates_of = lambda prompts, tops=None: [[broken, fixed]]
    assert model.generate([prompt], [(CODE, SYNTAX)]) == [fixed]


def test_the_evaluation_checks_candidates_against_the_whole_file_as_the_served_model_does(
    tiny_checkpoint, tmp_path
):
    """A fix naming what the prompt's window does not show (`BASE`, line 1) passes against the whole
    file and fails against the prompt's lines alone: the evaluation's k proposals get the file."""
    import shutil

    from evals.models import Sampled
    from repair.dataset import DEFAULT_WINDOW
    from repair.model import EDIT_RESPONSE, NO_FIX, RepairModel, write_prompt_settings

    code = 'BASE = "/srv"\n' + "\n" * 9 + "def where(name):\n    return BASEE + name\n"
    target = Diagnostic("ruff", "F821", "error", "Undefined name `BASEE`", 11, 11, 11, 16)
    fix = _diff("-12     return BASEE + name", "+12     return BASE + name")
    edit_model = tmp_path / "edit-model"
    shutil.copytree(tiny_checkpoint, edit_model)
    write_prompt_settings(edit_model, DEFAULT_WINDOW, EDIT_RESPONSE)
    model = RepairModel(edit_model, temperature=0.0, edit_candidates=2)
    model.candidates_of = lambda prompts, tops=None: [[fix, fix] for _ in prompts]
    assert model.generate([model.prompt(code, target)]) == [NO_FIX]  # the prompt alone
    assert Sampled(model, "finetuned").propose_k(code, target, k=2) == [fix, fix]


def test_a_window_cut_inside_a_function_is_checked_for_its_undefined_name():
    """Lines 24-28 of a function body: without blocks opened above them the window does not parse,
    ruff reports no undefined name, and an unrelated import would pass for a fix of `arh`."""
    from repair.prompt import parse_prompt
    from repair.quickcheck import prompt_source

    prompt = (
        "<code>\n#main.py\n"
        "24         if not isinstance(b, str):\n"
        "25             raise TypeError(b)\n"
        "26     for arg in args:\n"
        "27         if not isinstance(arg, str):\n"
        "28             raise TypeError('not str: %r' % (arh,))\n"
        "</code>\n<lsp_error>Undefined name `arh` (ruff F821)</lsp_error>\n"
        "<error_line>28             raise TypeError('not str: %r' % (arh,))</error_line>\n"
    )
    source = prompt_source(parse_prompt(prompt))
    assert source is not None
    imports = _diff("+11 import rectools")
    renames = _diff(
        "-28             raise TypeError('not str: %r' % (arh,))",
        "+28             raise TypeError('not str: %r' % (arg,))",
    )
    assert first_clearing([source], [[imports, renames]]) == [1]
    # The lines at their numbers; the blocks take the unknown lines just above them.
    lines = source[0].splitlines()
    assert lines[23:28] == [text[3:] for text in prompt.splitlines()[2:7]]
    assert lines[21:23] == ["if True:", "    if True:"] and not any(lines[:21])


def _window(first: int, lines: list[str], error: str, error_line: int) -> str:
    numbered = "".join(f"{first + i} {text}\n" for i, text in enumerate(lines))
    return (
        f"<code>\n#main.py\n{numbered}</code>\n<lsp_error>{error}</lsp_error>\n"
        f"<error_line>{error_line} {lines[error_line - first]}</error_line>\n"
    )


def _checked(prompt: str, *candidates: str) -> int | None:
    from repair.prompt import parse_prompt
    from repair.quickcheck import prompt_source

    return first_clearing([prompt_source(parse_prompt(prompt))], [list(candidates)])[0]


def test_a_window_that_starts_inside_a_docstring_still_shows_its_target():
    """Its first triple quote closes a docstring: read as an opening one, the rest of the file is a
    string, ruff sees no error there, and the right fix could not clear the target."""
    lines = [
        "    must be supplied with all of the available keys.",
        '    """',
        "    kwargs = dict(**domain, **accessor)",
        "        df = engine.records(kwargs)",
        "",
        "    return df.count()",
    ]
    prompt = _window(291, lines, "SyntaxError: Unexpected indentation (ruff syntax)", 294)
    fix = _diff("-294         df = engine.records(kwargs)", "+294     df = engine.records(kwargs)")
    assert _checked(prompt, fix) == 0


def test_a_window_that_ends_inside_a_docstring_or_a_block_or_starts_on_except_still_shows_its_target():
    lines = [
        "    except ValueError:",
        "        return False",
        "",
        "",
        "def validate(value: Any) -> None",
        '    """Raise an exception if value is invalid.',
        "",
        "    :param value: the input to be checked",
    ]
    prompt = _window(57, lines, 'Expected ":" (pyright syntax)', 61)
    keeps = _diff("-61 def validate(value: Any) -> None", "+61 def validate(value: Any) -> None  ")
    fix = _diff("-61 def validate(value: Any) -> None", "+61 def validate(value: Any) -> None:")
    assert _checked(prompt, keeps, fix) == 1
    lines = [
        "_ACTIVE: Final[dict[str, int]] = {",
        "_LOCK: Final[RLock] = RLock()",
        "",
        'if hasattr(os, "register_at_fork"):',
        "    # A child must inherit a complete redirect.",
    ]
    prompt = _window(127, lines, '"{" was not closed (pyright syntax)', 127)
    fix = _diff("-127 _ACTIVE: Final[dict[str, int]] = {", "+127 _ACTIVE: Final[dict[str, int]] = {}")
    assert _checked(prompt, fix) == 0


def test_a_name_undefined_in_the_window_may_be_used_once_more():
    """`typing` is imported above the window: its use by the fix of `typign` is no new problem."""
    lines = ["", "Event = typign.Union[asyncio.Event, trio.Event]", "Lock = typing.Union[int, str]"]
    prompt = _window(13, lines, '"typign" is not defined (pyright reportUndefinedVariable)', 14)
    fix = _diff(
        "-14 Event = typign.Union[asyncio.Event, trio.Event]",
        "+14 Event = typing.Union[asyncio.Event, trio.Event]",
    )
    assert _checked(prompt, fix) == 0


def test_a_syntax_fix_must_not_write_a_name_the_broken_file_never_had():
    """A file that does not parse shows ruff no undefined name, so every name of the fixed file
    used to count as already undefined. A name the broken file does not hold anywhere cannot have
    been: the benchmark model's first answer to `elif price - lowest > profit` was
    `... > procode:`, which passed; `profit:` is the fix."""
    code = "def best(prices):\n    profit = 0\n    for price in prices:\n        if price > profit\n            profit = price\n    return profit\n"
    target = Diagnostic("pyright", "syntax", "error", 'Expected ":"', 3, 25, 4, 0)
    invented = _diff("-4         if price > profit", "+4         if price > procode:")
    right = _diff("-4         if price > profit", "+4         if price > profit:")
    assert first_clearing([(code, target)], [[invented, right]]) == [1]
    # A name already written elsewhere in the broken file (defined outside a window) still may be.
    elsewhere = code.replace("    return profit\n", "    return profit + bonus\n")
    uses_it = _diff("-4         if price > profit", "+4         if price > bonus:")
    assert first_clearing([(elsewhere, target)], [[uses_it]]) == [0]


def test_an_added_import_must_name_a_module_and_a_name_that_exist():
    code = "import os\nfrom myapp.models import User\n\nprint(os.sep, Counter(), User)\n"
    target = Diagnostic("ruff", "F821", "error", "Undefined name `Counter`", 3, 15, 3, 22)
    not_a_module = _diff("+3 import Counter")
    misspelt = _diff("+3 from collections import Countr")
    guessed = _diff("+3 from counters import Counter")  # a package the file imports nothing from
    right = _diff("+3 from collections import Counter")
    assert first_clearing([(code, target)], [[not_a_module, misspelt, guessed, right]]) == [3]
    # A package the file already imports from may hold it.
    assert first_clearing([(code, target)], [[_diff("+3 from myapp.util import Counter")]]) == [0]


def test_the_served_model_adds_an_import_after_the_file_s_imports_where_the_window_does_not_reach():
    """The shipped base answers an undefined `math` 30 lines below `from __future__` with
    `+^ import $0`: at line 1 (all the prompt can tell) the file would not compile, and the check
    refuses it; with the request's file the import goes after `import os`."""
    from repair.model import RepairModel
    from repair.training.config import SHIPPED_MODELS_DIR

    code = '"""Doc."""\nfrom __future__ import annotations\n\nimport os\n' + "\n" * 30 + "print(math.pi, os)\n"
    target = Diagnostic("ruff", "F821", "error", "Undefined name `math`", 34, 6, 34, 10)
    model = RepairModel(SHIPPED_MODELS_DIR / "base-cpu", temperature=0.0)
    prompt = model.prompt(code, target)
    assert model.generate([prompt]) == [_diff("+1 import math")]
    assert first_clearing([(code, target)], [[_diff("+1 import math")]]) == [None]
    assert model.generate([prompt], [(code, target)]) == [_diff("+5 import math")]


def test_a_fix_must_not_call_a_constant():
    code = "import operator\n\n\ndef single(nums):\n    return reduce(operator.xor, nums)\n"
    target = Diagnostic("pyright", "reportUndefinedVariable", "error", '"reduce" is not defined', 4, 11, 4, 17)
    called = _diff("-5     return reduce(operator.xor, nums)", "+5     return True(operator.xor, nums)")
    imported = _diff("+2 from functools import reduce")
    assert first_clearing([(code, target)], [[called, imported]]) == [1]
