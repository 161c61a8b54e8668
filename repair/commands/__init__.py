"""Subcommands of `repair`, one module each (see repair/cli.py)."""
