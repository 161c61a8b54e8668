"""`repair demo`: the whole lifecycle on the embedded default, end to end, with progress.

Simulates two days of IDE sessions into the local object store (projects begun on the first day
continue on the second), ingests the first day so that their files replay across days, materializes
the whole graph for the second day (ingest, diagnostics, synthesis, dataset, training, evaluation,
deployment) in the project's
Dagster instance so that every run shows in the UI afterwards, prints the evaluation (every
repairer in both modes, by bug origin and by reference source, with intervals and n) and the gate's
decision, then serves the deployed model on a local Triton, sends it a broken file and prints the fix.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from repair.diagnostic import Diagnostic

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The demo's budget: enough sessions for ~450 training examples and ~90 held-out ones (120 sessions
# gave ~160 and 27: a held-out figure that moved 3.7 points per item), and a short training run.
DEMO_SESSIONS = 360
# Finetuning the pretrained base (models/base-cpu) on a day's ~450 examples: 100 batches of 16 are
# ~3.5 epochs (benchmarks/RESULTS.md "Finetuning learning rate": 300 batches gained nothing).
DEMO_TRAIN_DURATION = "100ba"
DEMO_EVAL_ITEMS = 40

BROKEN_EXAMPLE = """import math


def circle_area(radius):
    return math.pi * raduis ** 2


def describe(shapes):
    for shape in shapes:
        print(shape, circle_area(shape))
"""


def demo_lifecycle_config(train_duration: str) -> dict:
    """The demo's budget for the whole graph: a short training run, and benchmarks sampled small
    enough that evaluation takes minutes (production evaluates every item)."""
    return {
        "finetuned_model": {"config": {"max_duration": train_duration}},
        "function_repair_benchmark": {"config": {"functions_per_program": 1, "tries_per_kind": 1}},
        "model_evaluation": {"config": {"max_items_per_benchmark": DEMO_EVAL_ITEMS}},
    }


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def _instance():
    from dagster import DagsterInstance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return DagsterInstance.get()


def _run(defs, instance, job_name: str, day: str, ops_config: dict) -> None:
    started = time.monotonic()
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=day,
        instance=instance,
        run_config={"ops": ops_config, "loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    minutes = (time.monotonic() - started) / 60
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise click.ClickException(
            f"{job_name} failed for {day} after {minutes:.1f} min (steps: {', '.join(failed) or 'see log'}); "
            f"open the run in the UI (`make ui`) for details"
        )
    click.secho(f"    {job_name} succeeded in {minutes:.1f} min", fg="green")


def _stage(number: int, total: int, text: str) -> None:
    click.secho(f"\n[{number}/{total}] {text}", bold=True)


def _gate_decision(instance) -> dict | None:
    """What the deployment gate decided in the run just made (its materialization's metadata)."""
    from dagster import AssetKey

    event = instance.get_latest_materialization_event(AssetKey("deployment_gate"))
    if event is None or event.asset_materialization is None:
        return None
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def _evaluation_table(store_root: str) -> None:
    """The evaluation just made: every repairer in both modes, by bug origin and reference source."""
    from evals.harness import main_scores_markdown
    from evals.run import latest_results
    from repair.object_store import LocalObjectStore

    results = latest_results(LocalObjectStore(store_root))
    if results is None:
        click.echo("    no evaluation was published")
        return
    click.echo("\n".join("    " + line for line in main_scores_markdown(results).splitlines()))


def _verification(code: str, target: Diagnostic, answer_diff: str) -> str:
    """The served answer through verification (`repair.verify`, as the pipeline verifies candidates):
    a diff that applies is not yet a fix."""
    from repair.verify import BatchLinter, Verifier

    verdict = Verifier(BatchLinter()).verify(code, target, answer_diff, "broken.py")
    if verdict.accepted:
        return "passed (the error is gone and no new error appeared)"
    return f"failed: {verdict.verdict}: {verdict.detail}"


def _answer_report(code: str, target: Diagnostic, diff: str, status: str) -> str:
    """What the demo prints of the served answer: the fix and verification's verdict on it, or, when
    the model answers no fix, that it found none it could stand behind."""
    from repair.serving.handler import STATUS_NO_FIX

    if status == STATUS_NO_FIX:
        return (
            "    the model answers: no fix. None of its candidate fixes passed its own quick check (ruff:\n"
            "    the error gone, nothing new), so it shows none rather than a wrong one."
        )
    return "\n".join([
        "    the model proposes:",
        *("      " + line for line in diff.splitlines()),
        f"    status: {status}",
        f"    verification: {_verification(code, target, diff)}",
    ])


def _serve_and_fix(store_root: str) -> None:
    from repair import registry
    from repair.lint import lint_project
    from repair.object_store import LocalObjectStore
    from repair.serving.client import RepairClient
    from repair.serving.repository import DeployRepository
    from repair.serving.server import EmbeddedTritonServer, free_ports

    store = LocalObjectStore(store_root)
    deployed = DeployRepository(store)
    serving = registry.serving_version(store)
    if serving is None:
        click.echo("    no model version serves (none has passed the deployment gate); nothing to serve")
        return
    example = PROJECT_ROOT / ".data" / "demo" / "broken.py"
    example.parent.mkdir(parents=True, exist_ok=True)
    example.write_text(BROKEN_EXAMPLE)
    (linted,) = lint_project({"broken.py": BROKEN_EXAMPLE}, ["broken.py"])
    errors = [d for d in linted.diagnostics if d.severity == "error"]
    server = EmbeddedTritonServer(
        deployed.local_path(), load_models=(deployed.model_name,), ports=tuple(free_ports(3))
    )
    with server:
        click.echo(f"    Triton serves {deployed.model_name} v{serving} at {server.grpc_url}")
        with RepairClient(server.grpc_url, timeout_s=60) as client:
            for diagnostic in errors[:1]:
                click.echo(
                    f"    {example.relative_to(PROJECT_ROOT)}:{diagnostic.line1}: {diagnostic.describe()}"
                )
                answer = client.repair(BROKEN_EXAMPLE, diagnostic, "broken.py")
                click.echo(_answer_report(BROKEN_EXAMPLE, diagnostic, answer.diff, answer.status))


@click.command()
@click.option(
    "--day", default=_yesterday, show_default="yesterday (UTC)", help="The log day to simulate and process."
)
@click.option("--sessions", default=DEMO_SESSIONS, show_default=True, help="IDE sessions to simulate.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--train-duration",
    default=DEMO_TRAIN_DURATION,
    show_default=True,
    help="LLM Foundry max_duration of the demo's training run (e.g. 3000ba or 4ep to train longer).",
)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the result and fix a file.")
def command(day: str, sessions: int, seed: int, train_duration: str, serve: bool) -> None:
    """Run the whole lifecycle on the embedded default and show the served model fixing a file."""
    os.environ.setdefault("REPAIR_ENV", "local")
    from jobs.definitions import defs
    from jobs.environments import current_environment

    if current_environment() != "local":
        raise click.UsageError("the demo runs on the embedded default: unset REPAIR_ENV or set it to 'local'")
    store_root = os.environ.get("REPAIR_STORE_ROOT", ".data/store")
    instance = _instance()
    total = 3 if serve else 2
    click.secho(
        f"Demo for {day}: {sessions} sessions, training {train_duration}; store {store_root}", bold=True
    )

    previous = (datetime.fromisoformat(day) - timedelta(days=1)).strftime("%Y-%m-%d")
    _stage(
        1, total, f"Simulating {sessions} IDE sessions a day on {previous} and {day} (the embedded default)"
    )
    for simulated in (previous, day):  # projects begun on the first day continue on the second
        _run(
            defs,
            instance,
            "simulate_day",
            simulated,
            {"simulated_sessions": {"config": {"sessions": sessions, "seed": seed}}},
        )
    _run(defs, instance, "ingest_day", previous, {})  # its file_states start the next day

    _stage(
        2,
        total,
        "Materializing the whole graph: logs -> diagnostics -> repairs -> dataset -> model -> eval -> Triton",
    )
    _run(defs, instance, "full_lifecycle", day, demo_lifecycle_config(train_duration))

    click.secho("\n    The evaluation (`model_evaluation`; the report is in its metadata):", bold=True)
    _evaluation_table(store_root)
    decision = _gate_decision(instance)
    if decision is not None and not decision.get("passed"):
        click.secho(
            f"    The deployment gate REFUSED model v{decision.get('candidate_version')}: {decision.get('reason')}.\n"
            "    Nothing new is served (the numbers are in the `deployment_gate` asset's metadata).",
            fg="yellow",
            bold=True,
        )
    elif decision is not None:
        numbers = decision.get("numbers") or {}
        click.secho(
            f"    The deployment gate DEPLOYED model v{decision.get('candidate_version')}: {decision.get('reason')} "
            f"(gate metric: {numbers.get('benchmark')} `{numbers.get('metric')}`, pass@1).",
            fg="green",
            bold=True,
        )
    if serve:
        _stage(3, total, "Serving the deployed model on a local Triton and sending it a broken file")
        _serve_and_fix(store_root)

    click.secho(
        "\nDone. Open the Dagster UI with `make ui` (http://127.0.0.1:3000): the runs above, the asset graph, "
        "every asset's metadata and checks.\nServe the model yourself with `uv run repair serve`, then "
        "`uv run repair fix FILE`.",
        fg="green",
    )
