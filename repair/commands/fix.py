"""`repair fix FILE`: lint the file, ask the served model to fix a diagnostic, print the diff."""

from __future__ import annotations

import os

import click

SEVERITY_ORDER = ("error", "warning", "information", "hint")
MAX_SIBLINGS = 200  # other .py files of the folder linted along (imports resolve), at most


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--line", type=int, help="Fix the diagnostic on this 1-based line (default: the first error).")
@click.option(
    "--url",
    default=lambda: os.environ.get("REPAIR_TRITON_URL", "127.0.0.1:8001"),
    show_default="$REPAIR_TRITON_URL or 127.0.0.1:8001",
    help="Triton gRPC address HOST:PORT.",
)
@click.option("--write", is_flag=True, help="Write the fixed file back.")
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for the server."
)
def command(file: str, line: int | None, url: str, write: bool, timeout: float) -> None:
    """Find FILE's diagnostics with the linting service (ruff + basedpyright), ask the served model
    for a fix of one of them, and print the numbered line diff (with --write, apply it).

    Exit status: 0 when fixed or nothing to fix, 1 when the model proposed no usable fix, 2 on a
    usage error, 3 when the server is unreachable or refused the request."""
    from pathlib import Path

    from repair.lint import lint_project
    from repair.serving.client import RepairClient, RepairClientError

    path = Path(file)
    code = path.read_text(encoding="utf-8")
    files = {path.name: code}
    for sibling in sorted(path.parent.glob("*.py"))[:MAX_SIBLINGS]:
        if sibling != path:
            files.setdefault(sibling.name, sibling.read_text(encoding="utf-8", errors="replace"))
    (result,) = lint_project(files, [path.name])
    if not result.ok:
        click.echo(f"warning: linting was incomplete: {result.error}", err=True)
    diagnostics = result.diagnostics
    if line is not None:
        diagnostics = [d for d in diagnostics if d.line1 == line]
    if not diagnostics:
        where = f" on line {line}" if line is not None else ""
        click.echo(f"{file}: no diagnostics{where}")
        return
    diagnostic = min(
        diagnostics, key=lambda d: (SEVERITY_ORDER.index(d.severity), d.start_line, d.start_character)
    )
    click.echo(f"{file}:{diagnostic.line1}: {diagnostic.describe()}")
    try:
        with RepairClient(url, timeout_s=timeout) as client:
            answer = client.repair(code, diagnostic, path.name)
    except RepairClientError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(3) from None
    if answer.diff:
        click.echo(answer.diff)
    click.echo(f"status: {answer.status}")
    if not answer.fixed:
        raise SystemExit(1)
    if write:
        path.write_text(answer.fixed_code, encoding="utf-8")
        click.echo(f"wrote {file}")
