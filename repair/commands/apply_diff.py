"""`repair apply-diff FILE DIFF_FILE [--check]`: apply a numbered line diff to a file.

Exit status 0 when the diff applies (the file is rewritten, or with `--check` only checked), 2 with
the reason on stderr when it does not (the file is left untouched: a diff never half-applies).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="apply-diff")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("diff_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only check that the diff applies; change nothing.")
def command(file: Path, diff_file: Path, check: bool) -> None:
    """Apply the numbered line diff in DIFF_FILE (free text around the <diff> block is fine) to FILE."""
    from repair.linediff import DiffError, apply_diff, parse_diff

    # newline="" keeps CR characters: the diff addresses lines split on "\n" only.
    with open(file, encoding="utf-8", newline="") as handle:
        code = handle.read()
    with open(diff_file, encoding="utf-8", newline="") as handle:
        diff_text = handle.read()
    try:
        diff = parse_diff(diff_text)
        fixed = apply_diff(code, diff)
    except DiffError as error:
        click.echo(f"{file}: diff does not apply: {error}", err=True)
        raise SystemExit(2) from error
    if diff.is_empty:
        click.echo(f"{file}: empty diff (no fix); nothing to change")
    elif check:
        click.echo(f"{file}: diff applies ({len(diff)} ops, lines {', '.join(map(str, diff.touched))})")
    else:
        with open(file, "w", encoding="utf-8", newline="") as handle:
            handle.write(fixed)
        click.echo(f"{file}: applied {len(diff)} ops")
