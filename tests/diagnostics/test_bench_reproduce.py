"""bench_reproduce's warm-server variants measure the work the warm path does: fed the states as
new documents or as edits of one open document per file, the server reports the warm path's
basedpyright diagnostics state for state; with every rule off only syntax errors are left."""

from __future__ import annotations

from benchmarks.bench_reproduce import server_variant
from repair.lint import FileState, lint_file_states

HELPER = "def greet(name: str) -> str:\n    return name\n"
STATES = [
    # Out of version order, so that the variant, not the caller, orders a file's states.
    FileState({"main.py": "from helper import greet\ngreet(1).nope\n", "helper.py": HELPER}, "main.py", "r/main.py", 2),
    FileState({"main.py": "from helper import greet\nprint(undefined)\n", "helper.py": HELPER}, "main.py", "r/main.py", 1),
    FileState({"geo.py": "def area(r):\n    return 3.14 * r * r\n\nprint(area(radius)\n"}, "geo.py", "r/geo.py", 1),
]


def _pyright(diagnostics) -> list:
    return [d for d in diagnostics if d.source == "pyright"]


def test_documents_and_edits_report_the_warm_paths_diagnostics_and_rules_off_only_syntax():
    expected = [_pyright(result.diagnostics) for result in lint_file_states(STATES)]
    assert all(expected) and len({d.code for found in expected for d in found}) >= 3  # real, varied diagnostics
    for how in ("documents", "edits"):
        cpu, first, found = server_variant(STATES, how)
        assert found == expected, how
        assert cpu >= first > 0
    _, _, found = server_variant(STATES, "rules_off")
    assert found == [[d for d in state if d.code == "syntax"] for state in expected]
