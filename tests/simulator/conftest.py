"""One small simulated partition, written through the CLI, shared by the simulator's tests."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.cli import main
from resources.object_store import LocalObjectStore

DAY = "2026-11-20"
SESSIONS = 5
SEED = 11


def simulate_args(store: Path) -> list[str]:
    return ["simulate", "--day", DAY, "--sessions", str(SESSIONS), "--seed", str(SEED), "--store", str(store)]


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> LocalObjectStore:
    root = tmp_path_factory.mktemp("simulated")
    result = CliRunner().invoke(main, simulate_args(root))
    assert result.exit_code == 0, result.output
    return LocalObjectStore(root)
