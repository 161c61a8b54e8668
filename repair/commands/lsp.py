"""`repair lsp`: the language server an editor starts (diagnostics, model fixes as code actions)."""

from __future__ import annotations

import click


@click.command()
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin/stdout (the default and only transport).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Write the server's log here (stderr otherwise).")
def command(stdio: bool, log_file: str | None) -> None:
    """Serve the Language Server Protocol over stdio: publish the linting service's diagnostics
    (ruff + basedpyright) and offer the served model's verified fixes as the quick fix
    "Fix with code_repair". Configure with the client's initializationOptions (tritonUrl,
    timeoutMs, model, feedbackStore, repl, debounceMs, retryAfterMs) or $REPAIR_TRITON_URL,
    $REPAIR_LSP_TIMEOUT_MS, $REPAIR_FEEDBACK_STORE. See docs/ide.md."""
    import logging

    from repair.lsp.server import build_server

    logging.basicConfig(
        filename=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = build_server()
    try:
        server.start_io()
    finally:
        server.close()
