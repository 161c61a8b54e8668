"""The Triton Inference Server the deployment talks to.

`mode: embedded` (local default) starts the `tritonserver` binary shipped in nvidia-pytriton on the
deploy repository for the duration of a run (`repair.serving.server`); `mode: remote` (production)
points at long-running servers started on the deploy repository in the bucket
(`--model-repository=gs://<bucket>/<prefix>/triton_repository --model-control-mode=explicit`): one
by its gRPC address (`url`, `REPAIR_TRITON_URL`: also what IDE services call, e.g. the load
balancer), or a fleet of replicas (`urls`, `REPAIR_TRITON_URLS`, comma-separated), on each of which
the rollout proves a candidate before switching any. docs/deployment.md describes both.

`mode` follows `REPAIR_ENV` (read when the code location loads: remote in production). Every other
setting left empty takes its variable when a run uses it (`resources.settings`): `REPAIR_TRITON_URL`,
`REPAIR_TRITON_URLS`, `REPAIR_TRITON_METRICS_URL`, `REPAIR_TRITON_INSTANCE_KIND` (else KIND_GPU in
production, KIND_CPU locally) and `REPAIR_TRITON_INSTANCE_COUNT` (else 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import dagster as dg
from pydantic import Field

from repair.serving.repository import ServingConfig
from resources.choices import InstanceKind, TritonMode
from resources.settings import EnvSettings, FromEnv, environment_name


@dataclass(frozen=True)
class TritonConnection:
    grpc_url: str  # the first replica's (the only one's, for one server)
    metrics_url: str
    log_path: str = ""
    grpc_urls: tuple[str, ...] = ()  # every replica's; empty: `grpc_url` alone

    @property
    def replicas(self) -> tuple[str, ...]:
        return self.grpc_urls or (self.grpc_url,)


def _replicas(raw: str) -> list[str]:
    return [url.strip() for url in raw.split(",") if url.strip()]


class TritonResource(EnvSettings, dg.ConfigurableResource):
    """Where Triton runs and how the deployment configures the model's instances."""

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "url": FromEnv("REPAIR_TRITON_URL", ""),
        "urls": FromEnv("REPAIR_TRITON_URLS", list, _replicas),
        "metrics_url": FromEnv("REPAIR_TRITON_METRICS_URL", ""),
        "instance_kind": FromEnv(
            "REPAIR_TRITON_INSTANCE_KIND",
            lambda: InstanceKind.KIND_GPU if environment_name() == "production" else InstanceKind.KIND_CPU,
            InstanceKind,
        ),
        "instance_count": FromEnv("REPAIR_TRITON_INSTANCE_COUNT", 1, int),
    }

    mode: TritonMode = Field(
        default=TritonMode.embedded,
        description="embedded: this process starts the Triton shipped in nvidia-pytriton; remote: a running server at `url`.",
    )
    url: str | None = Field(
        default=None,
        description="remote mode: the server's gRPC host:port (one server); empty: $REPAIR_TRITON_URL.",
    )
    urls: list[str] | None = Field(
        default=None,
        description="remote mode: every replica's gRPC host:port (a fleet behind a load balancer, each started "
        "on the same deploy repository); the rollout proves the candidate on all before switching any. "
        "Empty: $REPAIR_TRITON_URLS (comma-separated), else `url` alone.",
    )
    metrics_url: str | None = Field(
        default=None,
        description="remote mode: Prometheus metrics, e.g. http://host:8002/metrics; empty: "
        "$REPAIR_TRITON_METRICS_URL, else not scraped.",
    )
    instance_kind: InstanceKind | None = Field(
        default=None,
        description="Where the model's instances run: KIND_CPU or KIND_GPU; empty: $REPAIR_TRITON_INSTANCE_KIND, "
        "else KIND_GPU in production and KIND_CPU locally.",
    )
    instance_count: int | None = Field(
        default=None,
        description="Model instances Triton runs side by side; empty: $REPAIR_TRITON_INSTANCE_COUNT, else 1.",
    )
    max_batch_size: int = Field(
        default=16, description="Largest dynamic batch of requests (0 turns dynamic batching off)."
    )
    max_queue_delay_us: int = Field(
        default=5000, description="How long a request may wait for others to fill a batch, in microseconds."
    )
    startup_timeout_s: float = Field(
        default=180.0,
        description="Seconds the embedded server may take to be ready before the deployment fails.",
    )
    smoke_timeout_s: float = Field(
        default=180.0,
        description="Seconds each smoke-test request of a rollout may take (it proves the candidate answers, "
        "not how fast).",
    )

    @classmethod
    def from_env(cls, env: str) -> TritonResource:
        """Remote servers in production, an embedded one locally; the rest is read at run time."""
        return cls(mode=TritonMode.remote if env == "production" else TritonMode.embedded)

    def serving_config(self) -> ServingConfig:
        return ServingConfig(
            instance_kind=self.setting("instance_kind"),
            instance_count=self.setting("instance_count"),
            max_batch_size=self.max_batch_size,
            max_queue_delay_us=self.max_queue_delay_us,
        )

    @contextmanager
    def connect(self, repository_dir: Path | None = None) -> Iterator[TritonConnection]:
        """The server for one run: an embedded one started on `repository_dir` (and stopped after),
        or the remote one."""
        if self.mode == "remote":
            url = self.setting("url")
            replicas = tuple(self.setting("urls")) or ((url,) if url else ())
            if not replicas:
                raise dg.DagsterInvalidConfigError(
                    "triton: mode 'remote' needs url (REPAIR_TRITON_URL) or urls (REPAIR_TRITON_URLS)",
                    [],
                    None,
                )
            yield TritonConnection(replicas[0], self.setting("metrics_url"), grpc_urls=replicas)
            return
        if self.mode != "embedded":
            raise ValueError(f"triton: unknown mode {self.mode!r} (use {' or '.join(TritonMode)})")
        if repository_dir is None:
            raise ValueError("triton: the embedded server needs the deploy repository's local folder")
        from repair.serving.server import EmbeddedTritonServer

        with EmbeddedTritonServer(repository_dir, startup_timeout_s=self.startup_timeout_s) as server:
            yield TritonConnection(server.grpc_url, server.metrics_url, str(server.log_path))
