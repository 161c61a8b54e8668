"""The Dagster UI, used as a person would: start it on the workspace, open the asset graph in
headless Chromium, check the lineage shows every asset of docs/formats.md section 5, launch a
materialization through the GraphQL API, wait for it to succeed, and keep a screenshot
(`test-artifacts/ui-asset-graph.png`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from jobs.definitions import CONTRACT_ASSETS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DAY = "2026-11-25"
# The network here is closed: no background fetches, no sandbox (CI runs as root).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is not installed; `make test-slow` installs it (apt-get install chromium)")
    return found


def _drawn(key: str, html: str) -> bool:
    """The graph draws long names shortened in the middle (`repro…_diagnostics`)."""
    if key in html:
        return True
    return any(
        key.startswith(head) and key.endswith(tail) and len(head) + len(tail) < len(key)
        for head, tail in re.findall(r"([\w]{3,})(?:…|\.\.\.)([\w]{3,})", html)
    )


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    from repair.simulate import SimulationConfig, simulate_partition
    from resources.object_store import LocalObjectStore

    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    store = tmp_path_factory.mktemp("store")
    simulate_partition(LocalObjectStore(store), SimulationConfig(day=DAY, sessions=3, seed=7))
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "REPAIR_STORE_ROOT": str(store), "REPAIR_ENV": "local"}
    log = open(home / "dagster-dev.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                _graphql(port, "{ version }")
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dagster dev did not come up: {(home / 'dagster-dev.log').read_text()[-3000:]}")
                time.sleep(2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_asset_graph_shows_the_whole_lineage(dagster_ui):
    data = _graphql(dagster_ui, "{ assetNodes { assetKey { path } groupName } }")
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert CONTRACT_ASSETS <= keys, f"missing from the code location: {sorted(CONTRACT_ASSETS - keys)}"

    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "ui-asset-graph.png"
    screenshot.unlink(missing_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1800, "height": 1100})
            page.goto(f"http://127.0.0.1:{dagster_ui}/asset-groups")
            page.wait_for_selector("text=Global Asset Lineage", timeout=120_000)
            for label in ("Skip", "Dismiss", "Dismiss"):  # first-visit newsletter and tips, if shown
                try:
                    page.get_by_role("button", name=label).first.click(timeout=5000)
                except PlaywrightTimeout:
                    pass
            # Groups start collapsed on a graph this size; the UI's own shortcut expands them all.
            page.keyboard.press("Alt+e")
            page.wait_for_selector("text=triton_deployment", timeout=60_000)
            page.wait_for_timeout(2000)
            html = page.content()
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    drawn = {key for key in CONTRACT_ASSETS if _drawn(key, html)}
    assert drawn == CONTRACT_ASSETS, f"not drawn in the lineage view: {sorted(CONTRACT_ASSETS - drawn)}"
    assert screenshot.stat().st_size > 10_000


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""


def test_materialization_launched_through_graphql_succeeds(dagster_ui):
    params = {
        "selector": {"repositoryLocationName": "code_repair", "repositoryName": "__repository__",
                     "jobName": "data_refresh", "assetSelection": [{"path": ["session_logs"]}]},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
    }
    launched = _graphql(dagster_ui, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        run = _graphql(dagster_ui, '{ runOrError(runId: "%s") { ... on Run { status } } }' % run_id)
        status = run["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    assert status == "SUCCESS"
