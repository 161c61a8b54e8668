"""The layers point one way (docs/architecture.md): import-linter's contracts in pyproject.toml hold."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_every_asset_module_is_under_the_independence_contract():
    # A stage module left out of the list could import another stage unnoticed.
    import pkgutil
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    independent = next(c for c in config if c["type"] == "independence")["modules"]
    stages = {
        f"repair_assets.{info.name}"
        for info in pkgutil.iter_modules([str(ROOT / "repair_assets")])
        if not info.name.startswith("_")
    }
    assert stages - set(independent) == set(), "add these asset modules to the independence contract"
