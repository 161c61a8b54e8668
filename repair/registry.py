"""The one registry of versions: which dataset and model versions exist, which are approved, which
model version serves. Pure logic over the object store; the assets, the gate, the CLI and
`repair serve` all ask it.

```
datasets/repair_dataset/claims/v<N>         claimed by exactly one writer (exclusive create)
datasets/repair_dataset/v<N>/...            jsonl/, mds/, card.json, tokenizer/
datasets/repair_dataset/v<N>/registry.json  the version's record, written last
models/code_repair/claims/v<N>
models/code_repair/v<N>/model/...           the Hugging Face checkpoint; train.yaml
models/code_repair/v<N>/registry.json
deployments/code_repair/serving.json        which model version serves (set only by `set_serving`)
deployments/code_repair/history/*.json      every change of the serving version
```

A version is born a *candidate*: its files, then its `registry.json` with the results of its checks.
It becomes *approved* only by `approve`, which a step downstream of the blocking checks calls and
which refuses a version whose blocking check failed; a failed check or a killed run leaves the
candidate (or half a folder without `registry.json`) that no reader takes. Readers of "the current
dataset/model" (`latest_approved`, `fetch_model`) see approved versions only. Versions are numbered
by claiming `claims/v<N>` with an exclusive create (`O_EXCL` locally, `if_generation_match=0` on
GCS), so two runs never take the same number. A version carries the `data_version` of the content
that made it: `find_by_data_version` lets a writer reuse it instead of making a copy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from repair.object_store import ObjectStore

DATASET = "dataset"
MODEL = "model"
PREFIXES = {DATASET: "datasets/repair_dataset", MODEL: "models/code_repair"}
MODEL_NAME = "code_repair"
SERVING_KEY = f"deployments/{MODEL_NAME}/serving.json"
SERVING_HISTORY = f"deployments/{MODEL_NAME}/history"
ENTRY = "registry.json"

CANDIDATE, APPROVED, REJECTED = "candidate", "approved", "rejected"
STATUSES = (CANDIDATE, APPROVED, REJECTED)


class RegistryError(RuntimeError):
    """A registry operation that would let a bad version through (e.g. approving a failed one)."""


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    blocking: bool = True
    detail: str = ""


@dataclass(frozen=True)
class VersionRecord:
    """One version of a dataset or model, as assets pass it to each other."""

    kind: str
    version: int
    status: str
    data_version: str
    prefix: str
    uri: str
    created: str
    checks: dict[str, CheckOutcome] = field(default_factory=dict)
    parents: dict[str, int] = field(default_factory=dict)  # e.g. the model's {"dataset": 3}
    details: dict[str, Any] = field(default_factory=dict)  # rows, window / preset, settings, metrics

    @property
    def failed_blocking_checks(self) -> list[str]:
        return sorted(name for name, outcome in self.checks.items() if outcome.blocking and not outcome.passed)

    @property
    def label(self) -> str:
        return f"{self.kind} v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"record_type": "VersionRecord", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionRecord:
        data = {k: v for k, v in data.items() if k != "record_type"}
        data["checks"] = {name: CheckOutcome(**outcome) for name, outcome in data.get("checks", {}).items()}
        return cls(**data)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _prefix(kind: str) -> str:
    if kind not in PREFIXES:
        raise ValueError(f"unknown registry kind {kind!r} (use {' or '.join(PREFIXES)})")
    return PREFIXES[kind]


def version_prefix(kind: str, version: int) -> str:
    return f"{_prefix(kind)}/v{version}"


def claim_version(store: ObjectStore, kind: str) -> int:
    """The next free version number, claimed for this writer alone."""
    claims = f"{_prefix(kind)}/claims/"
    taken = [int(key[len(claims) + 1 :]) for key in store.list(claims) if key[len(claims) + 1 :].isdigit()]
    version = max(taken, default=0) + 1
    while not store.create_exclusive(f"{claims}v{version}", _now().encode()):
        version += 1  # another run claimed it between our list and our create
    return version


def record_candidate(
    store: ObjectStore,
    kind: str,
    version: int,
    *,
    data_version: str,
    checks: dict[str, CheckOutcome],
    parents: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
) -> VersionRecord:
    """Writes the record of a version whose files are complete: from now on it exists, as a candidate."""
    prefix = version_prefix(kind, version)
    record = VersionRecord(
        kind, version, CANDIDATE, data_version, prefix, store.uri(prefix), _now(), dict(checks),
        dict(parents or {}), dict(details or {}),
    )  # fmt: skip
    _write(store, record)
    return record


def _write(store: ObjectStore, record: VersionRecord) -> None:
    store.write_text(f"{record.prefix}/{ENTRY}", json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str))


def get(store: ObjectStore, kind: str, version: int) -> VersionRecord:
    key = f"{version_prefix(kind, version)}/{ENTRY}"
    if not store.exists(key):
        known = [r.version for r in versions(store, kind)]
        raise FileNotFoundError(f"{kind} has no complete version {version} (has {known}) in {store.uri(_prefix(kind))}")
    return VersionRecord.from_dict(json.loads(store.read_text(key)))


def versions(store: ObjectStore, kind: str, status: str | None = None) -> list[VersionRecord]:
    """Every complete version (its record written), oldest first; only those in `status` if given."""
    base = _prefix(kind) + "/"
    records = [
        VersionRecord.from_dict(json.loads(store.read_text(key)))
        for key in store.list(base)
        if key.endswith(f"/{ENTRY}") and key[len(base) :].count("/") == 1
    ]
    return sorted((r for r in records if status is None or r.status == status), key=lambda r: r.version)


def latest_approved(store: ObjectStore, kind: str) -> VersionRecord:
    approved = versions(store, kind, APPROVED)
    if not approved:
        raise FileNotFoundError(
            f"no approved {kind} version in {store.uri(_prefix(kind))}: materialize it and let its checks pass"
        )
    return approved[-1]


def find_by_data_version(store: ObjectStore, kind: str, data_version: str) -> VersionRecord | None:
    """The newest complete version made from the same content, if any (to reuse instead of copying)."""
    same = [r for r in versions(store, kind) if r.data_version == data_version]
    return same[-1] if same else None


def approve(store: ObjectStore, record: VersionRecord) -> VersionRecord:
    """Makes a candidate current. Refuses one whose blocking check failed: that can never publish."""
    current = get(store, record.kind, record.version)
    if current.failed_blocking_checks:
        raise RegistryError(f"{current.label} failed blocking checks {current.failed_blocking_checks}: not approved")
    if current.status == APPROVED:
        return current
    if current.status == REJECTED:
        raise RegistryError(f"{current.label} was rejected: not approved")
    approved = VersionRecord(**{**current.__dict__, "status": APPROVED})
    _write(store, approved)
    return approved


def reject(store: ObjectStore, record: VersionRecord, reason: str) -> VersionRecord:
    current = get(store, record.kind, record.version)
    rejected = VersionRecord(**{**current.__dict__, "status": REJECTED, "details": {**current.details, "rejected": reason}})
    _write(store, rejected)
    return rejected


# --- which model version serves ------------------------------------------------------------------


def serving(store: ObjectStore) -> dict[str, Any] | None:
    """The serving record (`version` and how it got there), or None when nothing serves."""
    if not store.exists(SERVING_KEY):
        return None
    data = json.loads(store.read_text(SERVING_KEY))
    if not isinstance(data.get("version"), int):
        raise ValueError(f"{store.uri(SERVING_KEY)}: expected JSON with an integer `version`, got {data}")  # noqa: TRY004
    return data


def serving_version(store: ObjectStore) -> int | None:
    record = serving(store)
    return None if record is None else record["version"]


def set_serving(store: ObjectStore, version: int, **facts: Any) -> dict[str, Any]:
    """The one way to change which model version serves (the rollout calls it once the version is
    loaded, ready and smoke-tested). Only an approved version may serve."""
    record = get(store, MODEL, version)
    if record.status != APPROVED:
        raise RegistryError(f"{record.label} is {record.status}, not approved: it may not serve")
    previous = serving_version(store)
    entry = {**facts, "version": version, "previous_version": previous, "since": _now(),
             "dataset_version": record.parents.get(DATASET)}  # fmt: skip
    store.write_text(f"{SERVING_HISTORY}/{entry['since'].replace(':', '')}-v{version}.json", json.dumps(entry, indent=1))
    store.write_text(SERVING_KEY, json.dumps(entry, indent=1, default=str))
    return entry


# --- models ---------------------------------------------------------------------------------------


def fetch_model(store: ObjectStore, local_dir: str | Path, version: int | None = None) -> Path:
    """Downloads a model version (default: the newest approved) into `local_dir`; returns the folder
    to give `RepairModel` / `from_pretrained`."""
    record = latest_approved(store, MODEL) if version is None else get(store, MODEL, version)
    return store.download_dir(f"{record.prefix}/model", local_dir)


def register_model(
    store: ObjectStore,
    export_dir: str | Path,
    *,
    data_version: str,
    dataset_version: int | None,
    config_yaml: str,
    checks: dict[str, CheckOutcome],
    details: dict[str, Any],
) -> VersionRecord:
    """Uploads a Hugging Face export as a new candidate model version (checkpoint, then train.yaml,
    then the record)."""
    version = claim_version(store, MODEL)
    prefix = version_prefix(MODEL, version)
    keys = store.upload_dir(export_dir, f"{prefix}/model")
    store.write_text(f"{prefix}/train.yaml", config_yaml)
    parents = {DATASET: dataset_version} if dataset_version is not None else {}
    return record_candidate(
        store, MODEL, version, data_version=data_version, checks=checks, parents=parents,
        details={**details, "files": len(keys), "model_uri": store.uri(f"{prefix}/model")},
    )  # fmt: skip
