"""A real editor: headless Neovim's built-in LSP client against `repair lsp` and a real local Triton
serving the model that learned one repair (tests/conftest.py). Open the broken file, wait for the
diagnostic, request code actions, pick "Fix with code_repair", write, and check the file on disk and
the feedback events. `make test-slow` installs Debian's neovim first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ide.lsp_session import BROKEN, FIXED

SCRIPT = Path(__file__).with_name("neovim_fix.lua")


@pytest.mark.slow
def test_neovim_applies_the_served_fix(served, tmp_path):
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("neovim is not installed (`make editor` installs it)")
    server, _ = served
    project = tmp_path / "project"
    project.mkdir()
    source = project / "main.py"
    source.write_text(BROKEN)
    store = tmp_path / "store"
    env = {
        **os.environ,
        "REPAIR_PYTHON": sys.executable,
        "REPAIR_TRITON_URL": server.grpc_url,
        "REPAIR_FEEDBACK_STORE": str(store),
        "REPAIR_LSP_LOG": str(tmp_path / "lsp.log"),
        "REPAIR_NVIM_RESULT": str(tmp_path / "result.txt"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    completed = subprocess.run(
        [nvim, "--headless", "--clean", "-n", "main.py", "-c", f"luafile {SCRIPT}"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result = (tmp_path / "result.txt").read_text() if (tmp_path / "result.txt").exists() else "(no result)"
    assert result == "ok", f"{result}\nnvim stderr: {completed.stderr[-2000:]}"
    assert source.read_text() == FIXED
    events = [json.loads(line) for shard in store.glob("sessions/date=*/*.jsonl") for line in shard.read_text().splitlines()]
    assert [e["action"] for e in events] == ["offered", "accepted"]
