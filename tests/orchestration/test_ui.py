"""The Dagster UI, used as a person would: start it on the workspace, open the asset graph in
headless Chromium, check the lineage shows every asset of docs/formats.md section 5, launch a
materialization through the GraphQL API, wait for it to succeed, and keep a screenshot
(`test-artifacts/ui-asset-graph.png`)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time

import pytest

from jobs.definitions import CONTRACT_ASSETS
from tests.orchestration.dagster_processes import (
    ROOT,
    WORKSPACE,
    free_port,
    graphql,
    process,
    wait_for_webserver,
)

ARTIFACTS = ROOT / "test-artifacts"
DAY = "2026-11-25"
# The network here is closed: no background fetches, no sandbox (CI runs as root).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


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
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "REPAIR_STORE_ROOT": str(store), "REPAIR_ENV": "local"}
    log = home / "dagster-dev.log"
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    with process(command, env, log) as server:
        wait_for_webserver(port, server, log)
        yield port


def test_asset_graph_shows_the_whole_lineage(dagster_ui):
    data = graphql(dagster_ui, "{ assetNodes { assetKey { path } groupName } }")
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
    launched = graphql(dagster_ui, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        run = graphql(dagster_ui, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status }} }} }}')
        status = run["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    assert status == "SUCCESS"
