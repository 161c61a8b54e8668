"""Rolling a new model version out to a Triton server that keeps serving meanwhile, without a
window in which anything names a version that has not been proven.

1. The version's files go into the deploy repository (`code_repair/<N>/`, `repository.py`), unless a
   complete folder for N is already there: a version folder, once complete, is never rewritten (the
   served one included; registry versions are immutable).
2. A copy is loaded as `code_repair_staging` and smoke-tested over gRPC with real repair requests;
   the served model is untouched, so IDE traffic never reaches an untested candidate.
3. Only when the smoke test passed AND the evaluation gate passed, `load_model("code_repair")` is
   called with the candidate's config IN THE CALL (naming version N): the stored `config.pbtxt`
   still names the previous version, so a replica that restarts now loads the proven one. Triton
   (2.51, the binary we ship; `tests/deployment/test_rollout.py` checks it under continuous
   requests) loads N beside the old version, moves requests to N once it is ready, then unloads the
   old one when its in-flight requests are done: no request fails.
4. N must then be ready and answer a smoke test as the served model (answers from version N). Only
   then the stored config and the serving pointer (`ServingPointer`: the registry's, the one place that says
   which version serves) change, together; a rerun after a crash between the two finishes the pair.
5. If anything in 3-4 fails, the stored config (unchanged) is reloaded: the previous version keeps
   serving, and the pointer never named N.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from repair.diagnostic import Diagnostic
from repair.serving.client import RepairClient, RepairClientError
from repair.serving.repository import (
    DEFAULT_SERVING,
    DeployRepository,
    ServingConfig,
    config_json,
    render_config,
    template_config,
)


class RolloutError(RuntimeError):
    """The candidate could not be loaded or served; the previous version keeps serving."""


@dataclass(frozen=True)
class SmokeCase:
    """One real repair request: a broken file and the diagnostic the linters report on it."""

    name: str
    code: str
    diagnostic: Diagnostic
    file_name: str = "main.py"


def _diag(source: str, code: str, message: str, line1: int) -> Diagnostic:
    return Diagnostic(source, code, "error", message, line1 - 1, 0, line1 - 1, 1)


# Broken files as users write them, with the diagnostics ruff/basedpyright report (lines 1-based).
SMOKE_CASES: tuple[SmokeCase, ...] = (
    SmokeCase(
        "attribute_typo",
        "import turtle\n\nscreen = turtle.screen\nscreen.bgcolor('black')\n",
        _diag(
            "pyright", "reportAttributeAccessIssue", '"screen" is not a known attribute of module "turtle"', 3
        ),
    ),
    SmokeCase(
        "undefined_name",
        "def total(items):\n    result = 0\n    for item in items:\n        result += item\n    return reslt\n",
        _diag("ruff", "F821", "Undefined name `reslt`", 5),
    ),
    SmokeCase(
        "missing_import",
        "def stamp():\n    return datetime.now().isoformat()\n",
        _diag("pyright", "reportUndefinedVariable", '"datetime" is not defined', 2),
        "clock.py",
    ),
    SmokeCase(
        "syntax_error",
        "def greet(name)\n    print(f'hello {name}')\n",
        _diag("ruff", "syntax", "SyntaxError: Expected ':', found newline", 1),
    ),
)


@dataclass
class SmokeResult:
    model: str
    requests: int = 0
    answered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    latency_ms_p50: float = 0.0
    latency_ms_max: float = 0.0
    model_versions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.answered == self.requests

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def smoke_test(client: RepairClient, cases: Sequence[SmokeCase] = SMOKE_CASES) -> SmokeResult:
    """Sends every case; passes when each got a section 4 answer (any status: an untrained model
    proposes garbage, which is `rejected`, not an error)."""
    result = SmokeResult(model=client.model)
    latencies = []
    statuses: Counter[str] = Counter()
    versions = set()
    for case in cases:
        result.requests += 1
        started = time.perf_counter()
        try:
            answer = client.repair(case.code, case.diagnostic, case.file_name)
        except RepairClientError as exc:
            result.errors.append(f"{case.name}: {exc}")
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        result.answered += 1
        statuses[answer.status.split(":", 1)[0]] += 1
        versions.add(answer.model_version)
    result.statuses = dict(statuses)
    result.model_versions = sorted(versions)
    if latencies:
        result.latency_ms_p50 = round(statistics.median(latencies), 1)
        result.latency_ms_max = round(max(latencies), 1)
    return result


@dataclass
class RolloutResult:
    version: int
    previous_version: int | None
    served_version: int | None
    promoted: bool
    reason: str
    candidate_smoke: SmokeResult
    served_smoke: SmokeResult | None = None
    load_seconds: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["candidate_smoke"] = self.candidate_smoke.to_dict()
        data["served_smoke"] = self.served_smoke.to_dict() if self.served_smoke else None
        return data


class ModelControl:
    """Triton's model-control API over gRPC (explicit mode) with clear errors. Every call sends the
    admin key (`admin_key`, default `REPAIR_TRITON_ADMIN_KEY`) the server restricts these APIs to."""

    def __init__(self, url: str, timeout_s: float = 600.0, admin_key: str | None = None):
        import tritonclient.grpc as grpcclient

        from repair.serving.server import admin_headers

        self._grpc = grpcclient
        self.url = url
        self.timeout_s = timeout_s
        self.headers = admin_headers(admin_key)
        self.client = grpcclient.InferenceServerClient(url)

    def load(self, model: str, config: str | None = None) -> float:
        """Loads (or reloads) `model`; `config` (JSON model config) replaces its stored config.pbtxt
        for this load, so a candidate's config travels in the call and the store is untouched."""
        started = time.perf_counter()
        try:
            self.client.load_model(model, headers=self.headers, config=config, client_timeout=self.timeout_s)
        except self._grpc.InferenceServerException as exc:
            raise RolloutError(f"Triton at {self.url} could not load {model!r}: {exc.message()}") from None
        return time.perf_counter() - started

    def unload(self, model: str) -> None:
        try:
            self.client.unload_model(model, headers=self.headers, client_timeout=self.timeout_s)
        except self._grpc.InferenceServerException as exc:
            raise RolloutError(f"Triton at {self.url} could not unload {model!r}: {exc.message()}") from None

    def is_ready(self, model: str, version: int | None = None) -> bool:
        try:
            return bool(
                self.client.is_model_ready(model, "" if version is None else str(version), client_timeout=10)
            )
        except self._grpc.InferenceServerException:
            return False

    def server_health(self) -> dict[str, bool]:
        try:
            return {
                "live": bool(self.client.is_server_live(client_timeout=10)),
                "ready": bool(self.client.is_server_ready(client_timeout=10)),
            }
        except self._grpc.InferenceServerException:
            return {"live": False, "ready": False}

    def close(self) -> None:
        self.client.close()


SERVING_POINTER_KEY = "deployments/code_repair/current.json"


def read_serving_pointer(store) -> dict | None:
    return json.loads(store.read_text(SERVING_POINTER_KEY)) if store.exists(SERVING_POINTER_KEY) else None


@dataclass(frozen=True)
class ServingPointer:
    """Where "which version serves" is recorded: `read()` the version, `write(version, facts)`.
    The deployment asset passes the registry's (`repair.registry.serving_version` / `set_serving`);
    standalone, `store_pointer` keeps it in the store's `deployments/code_repair/current.json`."""

    read: Callable[[], int | None]
    write: Callable[[int, dict], object]


def store_pointer(store) -> ServingPointer:
    def read() -> int | None:
        current = read_serving_pointer(store)
        return None if current is None else current.get("version")

    def write(version: int, facts: dict) -> None:
        store.write_text(SERVING_POINTER_KEY, json.dumps({**facts, "version": version}, indent=1))

    return ServingPointer(read, write)


def _commit(
    repository: DeployRepository, version: int, serving: ServingConfig, pointer: ServingPointer, facts: dict
) -> None:
    """The stored config and the pointer name `version`: config first (what a restarted server
    loads), then the pointer; a rerun completes a pair a crash interrupted."""
    if repository.served_versions() != [version]:
        repository.write_config(repository.model_name, [version], serving)
    if pointer.read() != version:
        pointer.write(version, facts)


def roll_out(
    control: ModelControl,
    repository: DeployRepository,
    version: int,
    checkpoint_dir: str | Path,
    *,
    gate_passed: bool,
    serving: ServingConfig = DEFAULT_SERVING,
    cases: Sequence[SmokeCase] = SMOKE_CASES,
    keep_versions: int = 3,
    pointer: ServingPointer | None = None,
    pointer_facts: dict | None = None,
) -> RolloutResult:
    """Writes, stages, smoke-tests and (gate permitting) promotes `version`; see the module doc.
    `pointer` (default: `store_pointer`) records the promotion, with `pointer_facts`."""
    model = repository.model_name
    previous = repository.served_versions()
    previous_version = previous[-1] if previous else None
    pointer = pointer or store_pointer(repository.store)
    facts = {
        "model": model,
        "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate_version": version,
        "promoted": True,
        "previous_served": previous_version,
        "reason": "promoted",
        **(pointer_facts or {}),
    }
    if previous and not control.is_ready(model):
        control.load(model)  # a fresh server: the stored (proven) config serves first
    if version in previous:
        _commit(repository, version, serving, pointer, facts)  # finishes a pair a crash interrupted
        return RolloutResult(
            version,
            previous_version,
            version,
            False,
            f"version {version} is already served",
            SmokeResult(model),
        )
    if version not in repository.versions():
        repository.write_version(version, checkpoint_dir)

    staging = repository.staging_name
    repository.delete_model_files(staging)
    repository.copy_version(version, model, staging)
    repository.write_config(staging, [version], serving)
    try:
        load_seconds = control.load(staging)
        with RepairClient(control.url, model=staging) as client:
            candidate = smoke_test(client, cases)
    finally:
        try:
            control.unload(staging)
        except RolloutError:
            pass  # it never loaded: the load error is the one to report
        repository.delete_model_files(staging)

    def kept(reason: str) -> RolloutResult:
        return RolloutResult(
            version, previous_version, previous_version, False, reason, candidate, None, load_seconds
        )

    if not candidate.ok:
        return kept(f"smoke test of version {version} failed: {'; '.join(candidate.errors)}")
    if not gate_passed:
        return kept("evaluation gate did not pass: the previous version keeps serving")

    config = render_config(template_config(model), name=model, versions=[version], serving=serving)
    served: SmokeResult | None = None
    try:
        control.load(model, config=config_json(config))
        if not control.is_ready(model, version):
            raise RolloutError(f"{model} version {version} is not ready after loading")
        with RepairClient(control.url, model=model) as client:
            served = smoke_test(client, cases[:1])
        if not served.ok or served.model_versions != [str(version)]:
            raise RolloutError(
                f"{model} version {version} failed its smoke test as the served model "
                f"(answers {served.answered}/{served.requests} from versions {served.model_versions}; "
                f"{'; '.join(served.errors)})"
            )
    except RolloutError as exc:
        _restore(control, repository)
        keeps = f"version {previous_version} keeps serving" if previous_version else "nothing serves"
        raise RolloutError(f"{exc}; {keeps}") from None
    _commit(repository, version, serving, pointer, facts)
    for old in repository.versions()[:-keep_versions]:
        if old != version:
            repository.delete_model_files(model, old)
    return RolloutResult(
        version, previous_version, version, True, "promoted", candidate, served, load_seconds
    )


def _restore(control: ModelControl, repository: DeployRepository) -> None:
    """Back to what the stored config names (untouched by a failed promotion), or nothing."""
    if repository.served_versions():
        control.load(repository.model_name)
    else:
        try:
            control.unload(repository.model_name)
        except RolloutError:
            pass
