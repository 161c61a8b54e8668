"""Group `embedded`: the embedded default's data, simulated IDE sessions (docs/simulator.md).

`simulated_sessions` writes one day of session logs into the object store exactly where real
exports land (`sessions/date=YYYY-MM-DD/`), with the final `snapshots/`, the `ground_truth/` side
output and a realism report (`sessions/date=.../REALISM.md`). In the local environment
`session_logs` reads it like any customer export; production ingests real logs instead.

Projects continue over up to three days (docs/simulator.md): a day holds the sessions of the projects
begun on it that fall on it, and the continued sessions of projects begun on simulated days before.

Checks (in the same run): `every_session_written` (blocking: the projects begun on the day have the
sessions asked for, and the day holds at least one shard),
`diagnostics_linted` (blocking: no language-server state failed to lint, so no diagnostics are
silently missing).
"""

import dataclasses
from pathlib import Path

import dagster as dg
from pydantic import Field, create_model

from repair.simulate import DEFAULT_MIX, MISTAKE_KINDS, BehaviourModel, SimulationConfig, simulate_partition
from repair.simulate.summary import SimulationSummary
from repair_assets._partitions import daily_log_partitions
from resources.object_store import ObjectStoreResource

GROUP = "embedded"


# One optional weight per mistake kind: the launchpad lists the kinds, and a kind the simulator does
# not know is refused before the run starts.
MistakeMix = create_model(
    "MistakeMix",
    __base__=dg.Config,
    **{
        kind: (float | None, Field(default=None, ge=0, description=f"Weight of {kind} (default {DEFAULT_MIX.get(kind, 0)})."))
        for kind in MISTAKE_KINDS
    },
)


class SimulatedSessionsConfig(dg.Config):
    sessions: int = Field(
        default=100, ge=1,
        description="Sessions of the projects begun on the day (those past 20:00 fall on the next days).",
    )
    seed: int = Field(default=0, description="Same seed and day, same bytes.")
    mix: MistakeMix = Field(
        default_factory=MistakeMix,
        description="Weights of mistake kinds, each overriding its default; a kind left empty keeps its default.",
    )
    mistake_rate: float = Field(
        default=BehaviourModel().mistake_rate, ge=0, le=1,
        description="Chance that a definition is typed with a mistake.",
    )
    source: str = Field(default="", description="Directory of Python files to take code from; empty: the stdlib.")


def _simulation_metadata(summary: SimulationSummary, partition_uri: str, report: str) -> dict:
    """What the day holds (sessions, events, diagnostics, mistakes) and the realism report."""
    realism = summary.realism
    return {
        "partition": dg.MetadataValue.url(partition_uri),
        "shards": len(summary.shard_keys),
        "sessions": summary.sessions,
        "sessions_begun": summary.sessions_begun,
        "continued_sessions": summary.continued_sessions,
        "continued_repls": summary.continued_repls,
        "repls": summary.repls,
        "events": summary.events,
        "packets": summary.events_by_kind["ot"],
        "diagnostics": summary.diagnostics,
        "style_diagnostics": realism["style_diagnostics"],
        "mistakes": realism["mistakes"],
        "mistake_mix": dg.MetadataValue.json(realism["mistake_mix"]),
        "outcomes": dg.MetadataValue.json(realism["outcomes"]),
        "snapshots": len(summary.snapshot_keys),
        "lint_states": summary.lint_states,
        "seconds": round(summary.seconds, 1),
        "sessions_per_minute": round(60 * summary.sessions / summary.seconds, 1) if summary.seconds else 0.0,
        "realism": dg.MetadataValue.json({k: v for k, v in realism.items() if k not in ("mistake_mix", "outcomes")}),
        "realism_report": dg.MetadataValue.md(report),
    }


@dg.asset(
    partitions_def=daily_log_partitions,
    group_name=GROUP,
    kinds={"python", "json"},
    check_specs=[
        dg.AssetCheckSpec(
            "every_session_written", asset="simulated_sessions", blocking=True,
            description="The projects begun on the day have as many sessions as configured, in at least one shard.",
        ),
        dg.AssetCheckSpec(
            "diagnostics_linted", asset="simulated_sessions", blocking=True,
            description="Every language-server state was linted (none failed), so no diagnostics are missing.",
        ),
    ],
)
def simulated_sessions(
    context: dg.AssetExecutionContext, config: SimulatedSessionsConfig, object_store: ObjectStoreResource
):
    """One day of simulated IDE sessions (docs/formats.md section 1) from real Python code: keystroke-level
    OT packets, editor actions, runs and shell commands, and real ruff/basedpyright diagnostics
    published as a language server would. Writes `sessions/date=<day>/shard-*.jsonl.gz`,
    `snapshots/<repl>/<path>`, `ground_truth/date=<day>/shard-*.jsonl` and the realism report."""
    store = object_store.get_store()
    day = context.partition_key
    simulation = SimulationConfig(
        day=day,
        sessions=config.sessions,
        seed=config.seed,
        source=Path(config.source) if config.source else None,
        mix={**DEFAULT_MIX, **config.mix.model_dump(exclude_none=True)},
        behaviour=dataclasses.replace(BehaviourModel(), mistake_rate=config.mistake_rate),
    )
    summary = simulate_partition(store, simulation, progress=context.log.info)
    yield dg.MaterializeResult(metadata=_simulation_metadata(summary, store.uri(f"sessions/date={day}/"),
                                                             store.read_text(summary.report_key)))  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="every_session_written",
        asset_key="simulated_sessions",
        passed=summary.sessions_begun == config.sessions and bool(summary.shard_keys),
        metadata={
            "sessions_begun": summary.sessions_begun,
            "asked": config.sessions,
            "sessions_written": summary.sessions,
            "shards": len(summary.shard_keys),
        },
    )
    yield dg.AssetCheckResult(
        check_name="diagnostics_linted",
        asset_key="simulated_sessions",
        passed=summary.lint_errors == 0,
        metadata={"lint_states": summary.lint_states, "failed_publishes": summary.lint_errors},
    )
