"""`repair deploy`: the deployment gate, then Triton, for one approved model version: what the
`deployment_gate` and `triton_deployment` assets do (`repair.deployment`), from the command line."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import click


@click.command()
@click.option("--store", default=lambda: os.environ.get("REPAIR_STORE_ROOT", ".data/store"),
              show_default="$REPAIR_STORE_ROOT or .data/store", help="Object store (local path or gs://...).")
@click.option("--version", "version", type=int, default=None,
              help="Approved model version to deploy (default: the newest approved).")
@click.option("--results", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Per-item evaluation results (`results.parquet` of `repair eval` with the candidate "
                   "`finetuned:vN`, `no_change` and the serving model).")
@click.option("--url", "urls", multiple=True,
              help="gRPC host:port of a running Triton; repeat it for every replica of a fleet "
                   "(default: start the embedded one).")
@click.option("--metrics-url", default="", help="With --url: the first replica's Prometheus metrics URL.")
@click.option("--keep-versions", type=int, default=3, show_default=True,
              help="Version folders kept in the deploy repository (the served one always).")
def command(
    store: str, version: int | None, results: Path, urls: tuple[str, ...], metrics_url: str, keep_versions: int
) -> None:
    """Decide the deployment gate for an approved version and, if it passes, roll it out to Triton and
    record it as serving. Exits 1 when the gate refuses or the rollout does not promote."""
    import json
    from dataclasses import asdict
    from types import SimpleNamespace

    import polars as pl

    from evals.gate import GateSettings
    from repair import registry
    from repair.deployment import decide, deploy
    from repair.object_store import open_store

    object_store = open_store(store)
    try:
        record = (registry.get(object_store, registry.MODEL, version) if version is not None
                  else registry.latest_approved(object_store, registry.MODEL))
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    if record.status != registry.APPROVED:
        raise click.ClickException(f"{record.label} is {record.status}, not approved: only approved versions deploy")
    decision = decide(object_store, record.version, pl.read_parquet(results).to_dicts(), GateSettings())
    click.echo(decision.describe(), err=True)

    @contextmanager
    def connect(repository_dir: Path | None):
        if urls:
            yield SimpleNamespace(grpc_url=urls[0], metrics_url=metrics_url, replicas=urls)
            return
        from repair.serving.server import EmbeddedTritonServer

        with EmbeddedTritonServer(repository_dir) as server:
            yield server

    deployment = deploy(object_store, record.version, gate_passed=decision.passed, gate_reason=decision.reason,
                        connect=connect, embedded=not urls, keep_versions=keep_versions,
                        log=lambda message: click.echo(message, err=True))
    click.echo(json.dumps(asdict(deployment.record), indent=1))
    if not deployment.record.promoted:
        raise SystemExit(1)
