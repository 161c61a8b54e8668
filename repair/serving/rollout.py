"""Rolling a new model version out to a fleet of Triton servers (one or more replicas behind a load
balancer, each started on the same deploy repository) that keep serving meanwhile, without a window
in which a restarted replica would load a version that has not been proven, and so that a rollout
killed at any point (kill -9 included) leaves a version answering on every replica and is finished
by a rerun.

0. A promotion a crash interrupted between the stored config and the serving pointer is finished
   (`finish_interrupted_promotion`: the config is written only once every replica proved the
   version; `repair serve` does the same before it starts); then every replica serves
   what the stored config names: a restarted replica loads it, and one a killed rollout left on a
   candidate goes back to it (the candidate is staged again).
1. The version's files go into the deploy repository (`code_repair/<N>/`, `repository.py`), unless a
   complete folder for N is already there: a version folder, once complete, is never rewritten (the
   served one included; registry versions are immutable).
2. A copy is loaded as `code_repair_staging` on EVERY replica and smoke-tested there over gRPC with
   real repair requests; the served model is untouched, so IDE traffic never reaches an untested
   candidate. Staging left loaded (or loading) by a killed rollout is unloaded first, before its
   files are rewritten.
3. Only when every replica passed AND the evaluation gate passed, each replica is switched:
   `load_model("code_repair")` with the candidate's config IN THE CALL (naming version N): the
   stored `config.pbtxt` still names the previous version, so a replica that restarts now loads the
   proven one. Triton (2.51, the binary we ship) loads N beside the old version, moves requests to
   N once it is ready, then unloads the old one when its in-flight requests are done: no request
   fails (`tests/deployment/test_rollout.py`, one replica; `test_fleet.py`, two). N must then be
   ready and answer a smoke test addressed to version N on every replica.
4. If any replica fails in 3, every replica reloads the stored (unchanged) config: the previous
   version serves everywhere again, and the pointer never named N.
5. Then the stored config and the serving pointer (`ServingPointer`: the registry's, the one place
   that says which version serves) change, config first; a rerun after a crash between the two
   finishes the pair (0).

Between 3 and 5 the replicas serve N while the store still names the previous version (no longer
loaded, its folder kept): a kill there leaves the store naming the proven previous version, which a
restarted replica loads, and the rerun stages and switches N again. The config and the pointer are
two objects (Triton reads the one, the registry holds the other) and cannot be written in one step;
why that is safe: docs/deployment.md, "Why the config and the record are two writes".
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from repair.diagnostic import Diagnostic
from repair.serving.client import RepairClient, RepairClientError, keepalive_channel_args
from repair.serving.repository import (
    DEFAULT_SERVING,
    DeployRepository,
    ServingConfig,
    config_json,
    render_config,
    template_config,
)

# Bound on each smoke-test request: it proves the version answers, not how fast (a loaded CPU takes
# tens of seconds for an untrained model's full-length answer).
SMOKE_TIMEOUT_S = 180.0


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
        # A load may take minutes (the 600 s deadline); the keepalive fails a call to a server gone
        # silent within seconds instead.
        self.client = grpcclient.InferenceServerClient(url, channel_args=keepalive_channel_args())

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

    def version_states(self, model: str) -> dict[int, str]:
        """Each version of `model` the server knows, with its state (READY, LOADING, UNLOADING,
        UNAVAILABLE), from the repository index."""
        try:
            index = self.client.get_model_repository_index(headers=self.headers, client_timeout=60)
        except self._grpc.InferenceServerException as exc:
            raise RolloutError(f"Triton at {self.url}: no repository index: {exc.message()}") from None
        return {int(m.version): m.state for m in index.models if m.name == model and m.version.isdigit()}

    def ready_versions(self, model: str) -> list[int]:
        return sorted(v for v, state in self.version_states(model).items() if state == "READY")

    def settled_states(self, model: str, poll_s: float = 0.5) -> dict[int, str]:
        """`version_states` once no version of `model` is loading or unloading (a load another,
        killed, client started goes on in the server: it is waited for)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            states = self.version_states(model)
            if not set(states.values()) & {"LOADING", "UNLOADING"}:
                return states
            if time.monotonic() > deadline:
                raise RolloutError(
                    f"Triton at {self.url}: {model!r} still {sorted(states.values())} after {self.timeout_s:.0f} s"
                )
            time.sleep(poll_s)

    def unload_settled(self, model: str, poll_s: float = 0.5) -> None:
        """Unloads `model` and returns once no version of it is loaded, loading or unloading."""
        while "READY" in self.settled_states(model, poll_s).values():
            self.unload(model)

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


@dataclass(frozen=True)
class ServingPointer:
    """Where "which version serves" is recorded: `read()` the version, `write(version, facts)`.
    There is one such record, the registry's (`registry_pointer`); a test may wrap it (to watch or
    interrupt its writes), never keep a second one."""

    read: Callable[[], int | None]
    write: Callable[[int, dict], object]


def registry_pointer(store) -> ServingPointer:
    """The registry's serving record (`repair.registry.serving_version` / `set_serving`): what the
    deployment asset, `repair deploy` and `repair serve` use."""
    from repair import registry

    return ServingPointer(
        read=lambda: registry.serving_version(store),
        write=lambda version, facts: registry.set_serving(store, version, **facts),
    )


def _commit(
    repository: DeployRepository, version: int, serving: ServingConfig, pointer: ServingPointer, facts: dict
) -> None:
    """The stored config and the pointer name `version`: config first (what a restarted server
    loads), then the pointer; a crash between the two is finished by
    `finish_interrupted_promotion`."""
    if repository.served_versions() != [version]:
        repository.write_config(repository.model_name, [version], serving)
    if pointer.read() != version:
        pointer.write(version, facts)


def finish_interrupted_promotion(
    repository: DeployRepository, pointer: ServingPointer, facts: dict | None = None
) -> int | None:
    """Makes the pointer name the version the stored config names, and returns it (None: no stored
    config). The config is written only once every replica proved its version (`_commit`, config
    first), so a pointer that differs from it is one a crash left behind between the two writes:
    every path that acts on either (a rollout, `repair serve`) finishes the pair first."""
    stored = repository.served_versions()
    if not stored:
        return None
    if pointer.read() != stored[-1]:
        pointer.write(stored[-1], {"model": repository.model_name, **(facts or {}), "candidate_version": stored[-1],
                                   "reason": "finished an interrupted promotion"})  # fmt: skip
    return stored[-1]


T = TypeVar("T")


def _on_every(fleet: Sequence[ModelControl], action: Callable[[ModelControl], T]) -> list[T]:
    """`action` on every replica at once; when any refused, a `RolloutError` naming each refusal is
    raised once all have finished."""
    with ThreadPoolExecutor(max_workers=len(fleet), thread_name_prefix="replica") as pool:
        futures = [pool.submit(action, control) for control in fleet]
    errors = [f.exception() for f in futures if f.exception() is not None]
    for error in errors:
        if not isinstance(error, RolloutError):
            raise error  # a bug, not a replica's refusal
    if errors:
        raise errors[0] if len(errors) == 1 else RolloutError("; ".join(map(str, errors)))
    return [f.result() for f in futures]


def _serve_stored(control: ModelControl, repository: DeployRepository) -> None:
    """The replica serves exactly the versions the stored config names (nothing to do when none is
    stored): a fresh replica loads them, one left on another version goes back to them. A switch a
    killed rollout left loading is waited for first: compared while still loading, it would turn
    ready behind this rollout, whose own switch would then reload a version already serving (which
    crashed Triton 2.51 under traffic: "malloc(): unaligned fastbin chunk detected", bench_faults)."""
    stored = repository.served_versions()
    if not stored:
        return
    ready = sorted(
        v for v, state in control.settled_states(repository.model_name).items() if state == "READY"
    )
    if ready != stored:
        control.load(repository.model_name)


def _fleet(controls: ModelControl | Sequence[ModelControl]) -> list[ModelControl]:
    fleet = [controls] if isinstance(controls, ModelControl) else list(controls)
    urls = [c.url for c in fleet]
    if not fleet or len(set(urls)) != len(urls):
        raise ValueError(f"a rollout needs one or more distinct Triton endpoints, got {urls}")
    return fleet


def _smoke(
    control: ModelControl,
    model: str,
    cases: Sequence[SmokeCase],
    timeout_s: float,
    version: int | None = None,
) -> SmokeResult:
    with RepairClient(
        control.url, model=model, model_version="" if version is None else str(version), timeout_s=timeout_s
    ) as client:
        return smoke_test(client, cases)


def _stage(
    fleet: Sequence[ModelControl],
    repository: DeployRepository,
    version: int,
    serving: ServingConfig,
    cases: Sequence[SmokeCase],
    timeout_s: float,
) -> tuple[SmokeResult, float]:
    """`version` loaded as the staging model on every replica and smoke-tested there; staging is
    unloaded and its files removed afterwards, whatever happened. Returns the results (all
    replicas together) and the slowest load's seconds."""
    staging = repository.staging_name
    # A killed rollout may have left staging loaded or loading: its files change only once no replica reads them.
    _on_every(fleet, lambda c: c.unload_settled(staging))
    repository.delete_model_files(staging)
    repository.copy_version(version, repository.model_name, staging)
    repository.write_config(staging, [version], serving)

    def load_and_smoke(control: ModelControl) -> tuple[float, SmokeResult]:
        return control.load(staging), _smoke(control, staging, cases, timeout_s)

    try:
        loaded = _on_every(fleet, load_and_smoke)
    finally:
        for control in fleet:
            try:
                control.unload(staging)
            except RolloutError:
                pass  # it never loaded there: the load error is the one to report
        repository.delete_model_files(staging)
    return combine_smokes(
        staging, [(c.url, smoke) for c, (_, smoke) in zip(fleet, loaded, strict=True)]
    ), max(seconds for seconds, _ in loaded)


def combine_smokes(model: str, results: Sequence[tuple[str, SmokeResult]]) -> SmokeResult:
    """One replica's result as it is; several summed, each error prefixed with its replica's URL,
    latency p50 the median of the replicas' and max the largest."""
    if len(results) == 1:
        return results[0][1]
    combined = SmokeResult(model=model)
    statuses: Counter[str] = Counter()
    for url, result in results:
        combined.requests += result.requests
        combined.answered += result.answered
        statuses.update(result.statuses)
        combined.errors += [f"{url}: {e}" for e in result.errors]
    combined.statuses = dict(statuses)
    combined.model_versions = sorted({v for _, r in results for v in r.model_versions})
    combined.latency_ms_p50 = round(statistics.median(r.latency_ms_p50 for _, r in results), 1)
    combined.latency_ms_max = max(r.latency_ms_max for _, r in results)
    return combined


def _switch(
    fleet: Sequence[ModelControl],
    repository: DeployRepository,
    version: int,
    serving: ServingConfig,
    cases: Sequence[SmokeCase],
    timeout_s: float,
) -> SmokeResult:
    """Every replica serves `version` (its config in the load call) and answers a smoke test from
    it; if any fails, every replica goes back to the stored config and `RolloutError`."""
    model = repository.model_name
    config = config_json(
        render_config(template_config(model), name=model, versions=[version], serving=serving)
    )

    def switch(control: ModelControl) -> SmokeResult:
        control.load(model, config=config)
        if not control.is_ready(model, version):
            raise RolloutError(
                f"Triton at {control.url}: {model} version {version} is not ready after loading"
            )
        served = _smoke(control, model, cases, timeout_s, version)
        if not served.ok or served.model_versions != [str(version)]:
            raise RolloutError(
                f"Triton at {control.url}: {model} version {version} failed its smoke test as the served model "
                f"(answers {served.answered}/{served.requests} from versions {served.model_versions}; "
                f"{'; '.join(served.errors)})"
            )
        return served

    try:
        return combine_smokes(
            model, [(c.url, r) for c, r in zip(fleet, _on_every(fleet, switch), strict=True)]
        )
    except RolloutError as exc:
        previous = repository.served_versions()
        keeps = f"version {previous[-1]} keeps serving" if previous else "nothing serves"
        try:
            _on_every(fleet, lambda c: _restore(c, repository))
        except RolloutError as restore_error:
            keeps += f" where it could be restored ({restore_error})"
        raise RolloutError(f"{exc}; {keeps}") from None


def roll_out(
    controls: ModelControl | Sequence[ModelControl],
    repository: DeployRepository,
    version: int,
    checkpoint_dir: str | Path,
    *,
    gate_passed: bool,
    serving: ServingConfig = DEFAULT_SERVING,
    cases: Sequence[SmokeCase] = SMOKE_CASES,
    keep_versions: int = 3,
    pointer: ServingPointer,
    pointer_facts: dict | None = None,
    smoke_timeout_s: float = SMOKE_TIMEOUT_S,
) -> RolloutResult:
    """Writes, stages, smoke-tests and (gate permitting) promotes `version` on every replica in
    `controls` (one `ModelControl` or several); see the module doc. `pointer` (the registry's,
    `registry_pointer`) records the promotion, with `pointer_facts`. `smoke_timeout_s` bounds each smoke
    request (it proves the version answers, not how fast: a busy machine is slow)."""
    fleet = _fleet(controls)
    model = repository.model_name
    previous = repository.served_versions()
    previous_version = previous[-1] if previous else None
    facts = {
        "model": model,
        "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate_version": version,
        "promoted": True,
        "previous_served": previous_version,
        "reason": "promoted",
        "replicas": [c.url for c in fleet],
        **(pointer_facts or {}),
    }
    finish_interrupted_promotion(repository, pointer, facts)
    _on_every(fleet, lambda c: _serve_stored(c, repository))
    if version in previous:
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

    candidate, load_seconds = _stage(fleet, repository, version, serving, cases, smoke_timeout_s)

    def kept(reason: str) -> RolloutResult:
        return RolloutResult(
            version, previous_version, previous_version, False, reason, candidate, None, load_seconds
        )

    if not candidate.ok:
        return kept(f"smoke test of version {version} failed: {'; '.join(candidate.errors)}")
    if not gate_passed:
        return kept("evaluation gate did not pass: the previous version keeps serving")

    served = _switch(fleet, repository, version, serving, cases[:1], smoke_timeout_s)
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
