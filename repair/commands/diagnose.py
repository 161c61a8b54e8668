"""`repair diagnose FILE... [--json]`: the normalised diagnostics (ruff + basedpyright, the IDE
configuration of `repair.lint.config`) of files on disk.

Files given together that share a folder are checked as one project, with the other Python files
of that folder beside them so that imports between them resolve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _project_files(folder: Path, named: list[Path]) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.py*")) if p.is_file()}
    files.update({p.name: p.read_bytes() for p in named})
    return files


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file: path, error, diagnostics.")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True, help="Seconds per linter process.")
def command(files: tuple[Path, ...], as_json: bool, timeout_s: float) -> None:
    """Print the ruff and basedpyright diagnostics of FILE(s)."""
    from repair.lint import lint_project

    by_folder: dict[Path, list[Path]] = {}
    for path in files:
        by_folder.setdefault(path.resolve().parent, []).append(path.resolve())
    failed = False
    for folder, named in by_folder.items():
        results = lint_project(_project_files(folder, named), [p.name for p in named], timeout_s=timeout_s)
        for path, result in zip(named, results, strict=True):
            shown = _relative(path)
            failed |= result.error is not None
            if as_json:
                click.echo(json.dumps({
                    "path": shown,
                    "error": result.error,
                    "diagnostics": [d.to_row() for d in result.diagnostics],
                }))
                continue
            if result.error:
                click.echo(f"{shown}: cannot lint: {result.error}", err=True)
            for d in result.diagnostics:
                click.echo(f"{shown}:{d.line1}:{d.start_character + 1}: {d.severity} {d.source} {d.code}: {d.message}")
    if failed:
        sys.exit(2)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
