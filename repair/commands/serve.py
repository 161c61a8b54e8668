"""`repair serve`: Triton with the repair model on this machine, in the foreground (Ctrl-C stops)."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import click


@click.command()
@click.option(
    "--store", default=".data/store", show_default=True, help="Object store (local path or gs://...)."
)
@click.option(
    "--checkpoint", type=click.Path(exists=True, file_okay=False), help="Serve this HF checkpoint instead."
)
@click.option("--grpc-port", type=int, default=8001, show_default=True)
@click.option("--http-port", type=int, default=8000, show_default=True)
@click.option("--metrics-port", type=int, default=8002, show_default=True)
def command(store: str, checkpoint: str | None, grpc_port: int, http_port: int, metrics_port: int) -> None:
    """Serve the model on loopback: the version the registry records as serving (the deploy
    repository in a local store), else the newest APPROVED registry version (or --checkpoint) from
    a temporary repository. Candidates, rejected and half-written versions are never served."""
    import tempfile
    import time

    from repair.object_store import open_store
    from repair.serving.server import EmbeddedTritonServer, TritonServerError

    object_store = open_store(store)
    with tempfile.TemporaryDirectory(prefix="repair-serve-") as tmp:
        repository, what = served_repository(object_store, checkpoint, tmp)
        server = EmbeddedTritonServer(
            repository.local_path(),
            load_models=(repository.model_name,),
            ports=(http_port, grpc_port, metrics_port),
        )
        click.echo(f"starting Triton with {what} ...")
        # Ctrl-C, SIGTERM (systemd, Kubernetes) and SIGHUP stop alike: Triton is stopped and its
        # ports freed before the command exits, never orphaned.
        with stop_on_signals():
            try:
                server.start()
                click.echo(
                    f"serving {repository.model_name}: gRPC {server.grpc_url}, HTTP http://127.0.0.1:{http_port}, "
                    f"metrics {server.metrics_url}; log {server.log_path}. Ctrl-C stops."
                )
                while True:
                    server.check_alive()
                    time.sleep(1)
            except KeyboardInterrupt:
                click.echo("stopping ...")
            except TritonServerError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                server.stop()


def served_repository(object_store, checkpoint: str | None, tmp: str):
    """The deploy repository to serve and what it holds: the deployed one when the registry records
    its version as serving (a promotion a crash interrupted between the stored config and the
    record is finished first: the config names a version every replica proved), else a repository
    in `tmp` with `checkpoint` or the newest approved version."""
    from pathlib import Path

    from repair import registry
    from repair.object_store import LocalObjectStore
    from repair.serving.repository import DEFAULT_SERVING, DeployRepository
    from repair.serving.rollout import finish_interrupted_promotion, registry_pointer

    deployed = DeployRepository(object_store)
    if checkpoint is None and isinstance(object_store, LocalObjectStore):
        try:
            finish_interrupted_promotion(
                deployed, registry_pointer(object_store), {"finished_by": "repair serve"}
            )
        except (registry.RegistryError, FileNotFoundError):
            pass  # the config names no approved registry version: it is not served
        serving = registry.serving_version(object_store)
        if serving is not None and deployed.served_versions() == [serving]:
            return deployed, f"deployed version {serving} ({object_store.uri(deployed.prefix)})"
    repository = DeployRepository(LocalObjectStore(tmp))
    if checkpoint is None:
        try:
            record = registry.latest_approved(object_store, registry.MODEL)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        checkpoint = str(registry.fetch_model(object_store, Path(tmp) / "model", record.version))
        what = f"approved registry version {record.version} (not deployed)"
    else:
        what = f"checkpoint {checkpoint}"
    repository.write_version(1, checkpoint)
    repository.write_config(repository.model_name, [1], DEFAULT_SERVING)
    return repository, what


@contextmanager
def stop_on_signals(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """Within the block, the given signals raise KeyboardInterrupt. SIGINT is among them because a
    process started as a shell's background job inherits SIGINT ignored, and Python then leaves it so."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
