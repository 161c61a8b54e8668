"""The versioned model registry in the object store:

```
models/<name>/v<N>/model/...        the Hugging Face checkpoint (config, weights, tokenizer)
models/<name>/v<N>/train.yaml       the LLM Foundry config that trained it
models/<name>/v<N>/registry.json    version, dataset version, preset, settings, metrics, created
```

Versions only grow; a version's folder is written completely before its `registry.json`, so a
reader that finds `registry.json` finds the whole model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from repair.dataset import next_version

MODELS_PREFIX = "models"
DEFAULT_MODEL_NAME = "code_repair"


def model_prefix(name: str, version: int) -> str:
    return f"{MODELS_PREFIX}/{name}/v{version}"


def register_model(
    store,
    export_dir: str | Path,
    *,
    name: str = DEFAULT_MODEL_NAME,
    dataset_version: int | None,
    config_yaml: str,
    settings: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """Uploads a Hugging Face export as the next version of `name`; returns its registry entry."""
    version = next_version(store, f"{MODELS_PREFIX}/{name}")
    prefix = model_prefix(name, version)
    keys = store.upload_dir(export_dir, f"{prefix}/model")
    store.write_text(f"{prefix}/train.yaml", config_yaml)
    entry = {
        "name": name,
        "version": version,
        "dataset_version": dataset_version,
        "preset": settings.get("preset"),
        "settings": settings,
        "metrics": metrics,
        "files": len(keys),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "uri": store.uri(f"{prefix}/model"),
    }
    store.write_text(f"{prefix}/registry.json", json.dumps(entry, indent=1, sort_keys=True, default=str))
    return entry


def list_versions(store, name: str = DEFAULT_MODEL_NAME) -> list[dict[str, Any]]:
    """Every complete version's registry entry, oldest first."""
    entries = [
        json.loads(store.read_text(key))
        for key in store.list(f"{MODELS_PREFIX}/{name}/")
        if key.endswith("/registry.json")
    ]
    return sorted(entries, key=lambda entry: entry["version"])


def fetch_model(
    store, local_dir: str | Path, name: str = DEFAULT_MODEL_NAME, version: int | None = None
) -> Path:
    """Downloads version `version` (default: the latest complete one) into `local_dir`; returns the
    folder to give `RepairModel` / `AutoModelForCausalLM.from_pretrained`."""
    versions = list_versions(store, name)
    if not versions:
        raise FileNotFoundError(f"no registered versions of model {name!r} in {store.uri(MODELS_PREFIX)}")
    chosen = versions[-1] if version is None else next((v for v in versions if v["version"] == version), None)
    if chosen is None:
        raise FileNotFoundError(
            f"model {name!r} has no version {version} (has {[v['version'] for v in versions]})"
        )
    return store.download_dir(f"{model_prefix(name, chosen['version'])}/model", local_dir)
