"""The `repair` command line. Each subcommand lives in its own module under `repair/commands/`
(a module `apply_diff.py` exposing a click command `command` becomes `repair apply-diff`), imported
only when it runs so that `repair --help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

import repair.commands


def _command_modules() -> dict[str, str]:
    return {
        info.name.replace("_", "-"): f"repair.commands.{info.name}"
        for info in pkgutil.iter_modules(repair.commands.__path__)
        if not info.name.startswith("_")
    }


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_command_modules())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = _command_modules().get(name)
        if module is None:
            return None
        return importlib.import_module(module).command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Code-repair LLMOps: from IDE session logs to a served repair model."""


if __name__ == "__main__":
    main()
