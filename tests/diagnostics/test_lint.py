"""The linting service against real ruff and basedpyright: batch and warm mode, bad input,
timeouts, crashes."""

from __future__ import annotations

import json

import psutil
import pytest
from click.testing import CliRunner

from repair.lint import BadInput, LintConfig, WarmLinter, lint_batch, lint_project
from repair.lint import batch as batch_module
from repair.lint import tools as tools_module
from repair.lint.tools import ToolFailure

BROKEN = {
    "main.py": (
        "import os\n"
        "from helper import greet, missing\n"
        "\n"
        "value = undefined_name\n"
        "greet('x').nope\n"
    ),
    "helper.py": "def greet(name: str) -> str:\n    return name\n",
}


def keys(diagnostics):
    return {(d.source, d.code, d.start_line) for d in diagnostics}


@pytest.fixture(scope="module")
def warm():
    with WarmLinter(timeout_s=30) as linter:
        yield linter


OTHER_PROJECT = {
    "app/main.py": "from app.util import twice\n\ntwice(1, 2)\nimport helper\n",
    "app/util.py": "def twice(x: int) -> int:\n    return 2 * x\n",
    "app/__init__.py": "",
}
SYNTAX = {"main.py": "def f(:\n    pass\n"}
UNICODE = {"main.py": "s = '😀é'; s.nope\n"}
GOOD = {"main.py": "print(undefined)\n"}
BAD_INPUT = [
    (b"\xff\xfex = 1\n", "not UTF-8"),
    ("x = '\ud800'\n", "not UTF-8"),
    (b"x = 1\x00\x01\n", "binary"),
    ("x = 1\n" * 400, "too large"),
]


@pytest.fixture(scope="module")
def batch():
    """One batch (one ruff and one basedpyright process) holding every case below."""
    projects = [BROKEN, OTHER_PROJECT, SYNTAX, UNICODE, GOOD, *[{"main.py": v} for v, _ in BAD_INPUT], GOOD]
    targets = ["main.py", "app/main.py", *["main.py"] * (len(projects) - 2)]
    return lint_batch(projects, targets, max_file_bytes=1000)


def test_batch_reports_real_errors_across_a_projects_files(batch):
    first, second, third = batch[:3]
    assert first.error is None and second.error is None and third.error is None
    assert {
        ("ruff", "F401", 0),
        ("pyright", "reportAttributeAccessIssue", 1),  # `missing` is not in helper.py
        ("ruff", "F821", 3),
        ("pyright", "reportUndefinedVariable", 3),
        ("pyright", "reportAttributeAccessIssue", 4),  # str has no `nope`
    } <= keys(first.diagnostics)
    # `greet` resolved through the sibling file: no complaint about it.
    assert not any("greet" in d.message for d in first.diagnostics)
    # An absolute import inside the project resolves from the project's root; `helper` lives only
    # in the first project and must not leak into this one.
    assert ("pyright", "reportCallIssue", 2) in keys(second.diagnostics)
    assert ("pyright", "reportMissingImports", 3) in keys(second.diagnostics)
    assert {"ruff", "pyright"} == {d.source for d in third.diagnostics if d.code == "syntax"}


def test_normalised_fields(batch):
    by_key = {}
    for d in batch[0].diagnostics:
        by_key.setdefault((d.source, d.code), d)
    unused = by_key[("ruff", "F401")]
    assert unused.has_code_action and unused.severity == "warning"
    assert (unused.start_line, unused.start_character, unused.end_character) == (0, 7, 9)
    undefined = by_key[("ruff", "F821")]
    assert undefined.severity == "error" and not undefined.has_code_action
    pyright_undefined = by_key[("pyright", "reportUndefinedVariable")]
    assert pyright_undefined.message == '"undefined_name" is not defined'
    assert (pyright_undefined.start_character, pyright_undefined.end_character) == (8, 22)
    for d in batch[0].diagnostics:
        assert d.severity in ("error", "warning", "information")


def test_characters_are_code_points_for_both_tools(batch):
    text = UNICODE["main.py"]
    nope = next(d for d in batch[3].diagnostics if d.code == "reportAttributeAccessIssue")
    assert text[nope.start_character:nope.end_character] == "nope"
    semicolon = next(d for d in batch[3].diagnostics if d.code == "E702")
    assert text[semicolon.start_character] == ";"


def test_bad_input_is_recorded_and_the_batch_goes_on(batch):
    for result, (_, reason) in zip(batch[5:-1], BAD_INPUT, strict=True):
        assert result.error.startswith(reason) and "main.py" in result.error
        assert result.diagnostics == []
    for ok in (batch[4], batch[-1]):
        assert ok.error is None and ("ruff", "F821", 0) in keys(ok.diagnostics)


def test_targets_that_cannot_be_linted():
    results = lint_batch(
        [{"notes.md": "# hi"}, {"../escape.py": "x = 1"}, {"main.py": "x = 1\n"}],
        ["notes.md", "../escape.py", "other.py"],
    )
    assert [r.error.split(":")[0] for r in results] == ["not Python", "unsafe path '../escape.py'", "missing"]


def _linter_processes():
    me = psutil.Process()
    return [
        child
        for child in me.children(recursive=True)
        if any("basedpyright" in part or "ruff" in part for part in child.cmdline())
    ]


def test_a_hanging_linter_times_out_and_nothing_is_left_running():
    results = lint_batch([BROKEN, BROKEN], ["main.py", "main.py"], timeout_s=0.001)
    for result in results:
        assert "timed out after 0.001 s" in result.error
    assert _linter_processes() == []


def test_a_crashing_linter_fails_only_the_state_that_crashes_it(monkeypatch):
    # The tools do not crash on demand, so one state is made to crash "ruff": bisection must pin
    # the failure on it and still lint the others in the same call.
    real = batch_module._RUNNERS["ruff"]

    def crashing(root, states, config, timeout_s):
        if any("CRASH" in s.text for s in states):
            raise ToolFailure("ruff exited with 2: panic")
        return real(root, states, config, timeout_s)

    monkeypatch.setitem(batch_module._RUNNERS, "ruff", crashing)
    projects = [{"main.py": f"x{i} = nope\n"} for i in range(5)]
    projects[3] = {"main.py": "# CRASH\nx = nope\n"}
    results = lint_batch(projects, ["main.py"] * 5)
    assert [r.error for r in results] == [None, None, None, "ruff exited with 2: panic", None]
    assert all(("ruff", "F821", 0) in keys(r.diagnostics) for r in results[:3])
    # pyright still ran for the crashing state.
    assert ("pyright", "reportUndefinedVariable", 1) in keys(results[3].diagnostics)


def test_a_linter_that_is_not_there_is_a_failure_not_a_hang(monkeypatch):
    monkeypatch.setattr(tools_module, "ruff_command", lambda: ["sh", "-c", "echo boom >&2; exit 3"])
    (result,) = lint_batch([BROKEN], ["main.py"])
    assert result.error == "ruff exited with 3: boom"


def test_configuration_is_honoured():
    config = LintConfig(ruff_select=("F821",), pyright_overrides={"reportAttributeAccessIssue": "none"})
    (result,) = lint_batch([BROKEN], ["main.py"], config=config)
    assert {d.code for d in result.diagnostics} == {"F821", "reportUndefinedVariable"}


def test_lint_project_checks_several_files_of_one_project():
    results = lint_project(BROKEN, ["main.py", "helper.py"])
    assert ("pyright", "reportUndefinedVariable", 3) in keys(results[0].diagnostics)
    assert results[1].diagnostics == [] and results[1].error is None


def test_warm_agrees_with_batch(warm):
    (batch,) = lint_batch([BROKEN], ["main.py"])
    assert warm.check(BROKEN, "main.py") == batch.diagnostics


def test_warm_recheck_sees_edits_and_context_changes(warm):
    fixed = dict(BROKEN, **{"main.py": BROKEN["main.py"].replace("undefined_name", "os.sep")})
    assert ("pyright", "reportUndefinedVariable", 3) not in keys(warm.check(fixed, "main.py"))
    # The context changes: `missing` now exists in helper.py, a new module appears.
    context = dict(fixed, **{"helper.py": BROKEN["helper.py"] + "missing = 1\n", "extra.py": "z = 1\n"})
    context["main.py"] += "from extra import z, q\n"
    found = keys(warm.check(context, "main.py"))
    assert ("pyright", "reportAttributeAccessIssue", 1) not in found
    assert ("pyright", "reportAttributeAccessIssue", 5) in found  # `q` is not in extra.py
    (batch,) = lint_batch([context], ["main.py"])
    assert keys(batch.diagnostics) == found
    # Another project, another target: the previous project's files are gone.
    other = {"main.py": "import helper\n"}
    assert ("pyright", "reportMissingImports", 0) in keys(warm.check(other, "main.py"))


def test_warm_documents_left_open_never_shadow_a_projects_files(warm):
    # helper.py is checked (and stays open) with `missing` defined; the next project has a
    # helper.py without it: the import must be judged against that project's file.
    warm.check({"helper.py": "missing = 1\n"}, "helper.py")
    assert ("pyright", "reportAttributeAccessIssue", 1) in keys(warm.check(BROKEN, "main.py"))
    # An open document that is not one of the project's files satisfies no import.
    assert ("pyright", "reportMissingImports", 0) in keys(warm.check({"app.py": "import helper\n"}, "app.py"))


def test_warm_refuses_bad_input(warm):
    with pytest.raises(BadInput, match="binary"):
        warm.check({"main.py": "x\x00"}, "main.py")
    assert warm.check({"main.py": "x = 1\n"}, "main.py") == []


def test_warm_restarts_a_crashed_server(warm):
    before = warm.restarts
    warm._client._proc.kill()
    warm._client._proc.wait()
    assert ("pyright", "reportUndefinedVariable", 3) in keys(warm.check(BROKEN, "main.py"))
    assert warm.restarts == before + 1


def test_warm_close_leaves_nothing_running():
    before = {p.pid for p in _linter_processes()}  # the module's shared linter
    linter = WarmLinter()
    with linter:
        linter.check({"main.py": "x = 1\n"}, "main.py")
        assert {p.pid for p in _linter_processes()} - before
    assert linter._root is None
    assert {p.pid for p in _linter_processes()} - before == set()


def test_diagnose_command(tmp_path, monkeypatch):
    from repair.cli import main

    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diagnose", "main.py"])
    assert result.exit_code == 0, result.output
    assert 'main.py:4:9: error pyright reportUndefinedVariable: "undefined_name" is not defined' in result.output
    as_json = CliRunner().invoke(main, ["diagnose", "--json", "main.py"])
    record = json.loads(as_json.output)
    assert record["path"] == "main.py" and record["error"] is None
    assert {"source", "code", "severity", "message", "start_line", "has_code_action"} <= set(record["diagnostics"][0])
    (tmp_path / "blob.py").write_bytes(b"\x00\x01")
    failed = CliRunner().invoke(main, ["diagnose", "blob.py"])
    assert failed.exit_code == 2
