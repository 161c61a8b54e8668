"""Paths from a log reach the warm linter as project file names: one that leaves the project is left
out (as the batched path does), never written or deleted outside the linter's folder (issue 18)."""

from __future__ import annotations

from repair.lint import WarmLinter


def test_a_project_file_whose_path_leaves_the_project_is_never_written(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with WarmLinter(timeout_s=60) as linter:
        root = linter._root
        depth = len(root.relative_to(root.anchor).parts)
        escape = "../" * depth + str((outside / "escape.py").relative_to("/"))
        project = {"main.py": "import helper\nhelper.VALUE\n", "helper.py": "VALUE = 1\n", escape: "x = 1\n"}
        linter.check(project, "main.py")
        assert not (outside / "escape.py").exists()
        assert (root / "helper.py").is_file()
        linter.check({"main.py": "x = 1\n"}, "main.py")  # what the last check wrote is removed
    assert not (outside / "escape.py").exists()
