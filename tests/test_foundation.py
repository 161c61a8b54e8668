"""The code location loads and the CLI lists its subcommands."""

from click.testing import CliRunner

from jobs.definitions import build_definitions
from repair.cli import main


def test_definitions_load_in_both_environments(monkeypatch):
    monkeypatch.setenv("REPAIR_GCS_BUCKET", "example-bucket")
    for env in ("local", "production"):
        defs = build_definitions(env)
        assert "object_store" in defs.resources


def test_cli_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
