"""Continuous client load on one or more Triton endpoints, recording every outcome: what the
rollout tests and benchmarks run through a version swap to show that no request is dropped."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

from repair.serving.client import RepairClient, RepairClientError
from repair.serving.rollout import SMOKE_CASES, SmokeCase


@dataclass
class Outcome:
    url: str
    started: float  # time.monotonic() when sent
    latency_ms: float
    version: str | None  # the model version that answered; None: the request failed
    error: str = ""
    retried: tuple[str, ...] = ()  # the transient failures the client retried past (see `Traffic.retries`)


@dataclass
class Traffic:
    """`clients_per_url` clients per endpoint, each sending `case` back to back (after `pause_s`)
    until the context exits, recording every outcome. `retries` 0 (the default): a failed request
    is recorded as failed, so a test sees every transport error; `DEFAULT_RETRIES`: the production
    client's retries of transient failures, each recorded in `Outcome.retried`."""

    urls: Sequence[str]
    clients_per_url: int = 1
    case: SmokeCase = SMOKE_CASES[1]
    pause_s: float = 0.0
    timeout_s: float = 300.0
    retries: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.urls = [self.urls] if isinstance(self.urls, str) else list(self.urls)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(url,), daemon=True)
            for url in self.urls
            for _ in range(self.clients_per_url)
        ]

    def _run(self, url: str) -> None:
        with RepairClient(url, timeout_s=self.timeout_s, retries=self.retries) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    version, error = client.repair(self.case.code, self.case.diagnostic).model_version, ""
                except RepairClientError as exc:
                    version, error = None, str(exc)
                latency_ms = (time.monotonic() - started) * 1000
                with self._lock:
                    self.outcomes.append(
                        Outcome(url, started, latency_ms, version, error, tuple(client.retried_errors))
                    )
                self._stop.wait(self.pause_s)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 30)

    @property
    def versions(self) -> list[str]:
        return [o.version for o in self.outcomes if o.version is not None]

    @property
    def errors(self) -> list[str]:
        return [f"{o.url}: {o.error}" for o in self.outcomes if o.version is None]

    def versions_at(self, url: str) -> list[str]:
        return [o.version for o in self.outcomes if o.url == url and o.version is not None]


def latency_summary(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """p50, p95 and max latency in ms of the answered requests among `outcomes`."""
    latencies = sorted(o.latency_ms for o in outcomes if o.version is not None)
    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1),
        "max_ms": round(latencies[-1], 1),
    }
