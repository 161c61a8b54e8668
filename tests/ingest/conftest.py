from pathlib import Path

import pytest

# CI clones main into another folder with shared/ beside it, so look beside the repository.
TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "editing-traces"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    if not TRACES.is_dir():
        pytest.fail(f"editing traces not found at {TRACES}")
    return TRACES
