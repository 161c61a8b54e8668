"""The model input of docs/formats.md section 3 and the expected completion."""

import pytest

from repair.diagnostic import Diagnostic
from repair.linediff import apply_diff, make_diff, parse_diff
from repair.prompt import PromptError, make_example, parse_prompt, render_prompt, render_response

TURTLE = "import turtle\n\nscreen = turtle.screen\n"
ATTRIBUTE = Diagnostic(
    source="pyright",
    code="reportAttributeAccessIssue",
    severity="error",
    message='"screen" is not a known attribute of module "turtle"',
    start_line=2,
    start_character=16,
    end_line=2,
    end_character=22,
)

CONTRACT_PROMPT = """<code>
#main.py
1 import turtle
2 
3 screen = turtle.screen
</code>
<lsp_error>"screen" is not a known attribute of module "turtle" (pyright reportAttributeAccessIssue)</lsp_error>
<error_line>3 screen = turtle.screen</error_line>"""


def test_contract_example():
    assert render_prompt(TURTLE, ATTRIBUTE) == CONTRACT_PROMPT
    parsed = parse_prompt(CONTRACT_PROMPT)
    assert parsed.file_name == "main.py"
    assert parsed.lines == ((1, "import turtle"), (2, ""), (3, "screen = turtle.screen"))
    assert (parsed.error_line, parsed.error_text) == (3, "screen = turtle.screen")
    assert parsed.diagnostic_parts() == (ATTRIBUTE.message, "pyright", "reportAttributeAccessIssue")
    assert parsed.code_excerpt + "\n" == TURTLE


def test_window_keeps_original_numbers_and_diff_applies_to_whole_file():
    code = "\n".join(f"x{i} = {i}" for i in range(1, 41)) + "\nprint(x41)\n"
    diagnostic = Diagnostic(
        "pyright", "reportUndefinedVariable", "error", '"x41" is not defined', 40, 6, 40, 9
    )
    prompt = render_prompt(code, diagnostic, file_name="pkg/mod.py", window=3)
    parsed = parse_prompt(prompt)
    assert parsed.file_name == "pkg/mod.py"
    assert [n for n, _ in parsed.lines] == [38, 39, 40, 41]
    assert parsed.error_line == 41 and parsed.error_text == "print(x41)"
    fixed = code.replace("print(x41)", "print(x40)")
    diff = make_diff(code, fixed)
    assert apply_diff(code, parse_diff(render_response(diff))) == fixed


def test_multiline_message_and_trailing_line_error():
    code = "def f(:\n"
    diagnostic = Diagnostic("pyright", "syntax", "error", "Expected parameter\n  name", 1, 0, 1, 0)
    prompt = render_prompt(code, diagnostic, window=0)
    parsed = parse_prompt(prompt)
    assert parsed.lines == ((2, ""),) and parsed.error_line == 2
    assert parsed.diagnostic_parts() == ("Expected parameter\n  name", "pyright", "syntax")


def test_errors():
    outside = Diagnostic("ruff", "F821", "error", "x", 10, 0, 10, 1)
    with pytest.raises(PromptError, match="outside"):
        render_prompt(TURTLE, outside)
    with pytest.raises(PromptError):
        parse_prompt("<code>\n#main.py\n1 x\n</code>\n")
    with pytest.raises(PromptError, match="not 'N TEXT'"):
        parse_prompt(CONTRACT_PROMPT.replace("2 \n", "two\n"))


def test_example():
    example = make_example(TURTLE, ATTRIBUTE, make_diff(TURTLE, TURTLE.replace(".screen", ".Screen()")))
    assert example.prompt == CONTRACT_PROMPT
    assert example.response == "<diff>\n-3 screen = turtle.screen\n+3 screen = turtle.Screen()\n</diff>"
