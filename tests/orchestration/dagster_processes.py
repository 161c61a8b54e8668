"""Dagster's own processes for the UI tests: free ports, the webserver's GraphQL API, and processes
started in their own session (so that stopping one stops what it spawned)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "workspace.yaml"
LOCATION = "code_repair"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as error:  # the body says why (a Python error from the server)
        raise AssertionError(f"HTTP {error.code} from the webserver: {error.read().decode()[:3000]}") from None
    assert "errors" not in payload, payload
    return payload["data"]


@contextmanager
def process(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """`command` run from the repository root with its output in `log_path`; its process group is
    stopped (SIGTERM, then SIGKILL after 30 s) on the way out."""
    with open(log_path, "w") as log:
        started = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield started
        finally:
            os.killpg(started.pid, signal.SIGTERM)
            try:
                started.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(started.pid, signal.SIGKILL)
                started.wait()


def wait_for_webserver(port: int, server: subprocess.Popen, log_path: Path, timeout_s: float = 240) -> None:
    """Returns once the webserver answers GraphQL with the code location loaded."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            entries = graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name "
                              "locationOrLoadError { __typename } } } } }")
            locations = entries["workspaceOrError"]["locationEntries"]
            if any(e["name"] == LOCATION and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                   for e in locations):
                return
        except (OSError, AssertionError, KeyError, TypeError):
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Dagster webserver did not come up: {log_path.read_text()[-3000:]}")
        time.sleep(2)
