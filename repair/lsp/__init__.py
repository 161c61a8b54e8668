"""`repair lsp`: the language server editors start (see `repair.lsp.server` and docs/ide.md)."""
