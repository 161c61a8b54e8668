"""`repair simulate --day YYYY-MM-DD --sessions N --seed S [--source DIR] [--store URI] [--mix KIND=W]`:
write one daily partition of simulated IDE session logs (plus snapshots, ground truth and a realism
report) into the object store. Same arguments, same bytes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click


def _parse_mix(values: tuple[str, ...]) -> dict[str, float]:
    from repair.simulate import DEFAULT_MIX, MISTAKE_KINDS

    mix = dict(DEFAULT_MIX)
    for value in values:
        kind, sep, weight = value.partition("=")
        if not sep or kind not in MISTAKE_KINDS:
            raise click.BadParameter(f"{value!r}: want KIND=WEIGHT with KIND one of {', '.join(MISTAKE_KINDS)}")
        try:
            mix[kind] = float(weight)
        except ValueError:
            raise click.BadParameter(f"{value!r}: the weight must be a number") from None
    return mix


@click.command(name="simulate")
@click.option("--day", default=lambda: date.today().isoformat(), show_default="today", help="The partition (YYYY-MM-DD).")
@click.option("--sessions", type=click.IntRange(min=1), default=100, show_default=True, help="Sessions to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, day and options: same bytes.")
@click.option(
    "--source", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="Directory of Python files to take code from (default: the standard library).",
)
@click.option("--store", "store_uri", default=".data/store", show_default=True, help="Local path or gs://bucket/prefix.")
@click.option("--mix", multiple=True, metavar="KIND=WEIGHT", help="Override a mistake kind's weight (repeatable).")
@click.option("--mistake-rate", type=click.FloatRange(0, 1), default=None, help="Chance a definition is typed with a mistake.")
def command(
    day: str, sessions: int, seed: int, source: Path | None, store_uri: str, mix: tuple[str, ...], mistake_rate: float | None
) -> None:
    """Simulate one day of IDE sessions into the object store."""
    import dataclasses

    from repair.object_store import open_store
    from repair.simulate import BehaviourModel, SimulationConfig, simulate_partition

    try:
        date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a YYYY-MM-DD date", param_hint="--day") from None
    behaviour = BehaviourModel()
    if mistake_rate is not None:
        behaviour = dataclasses.replace(behaviour, mistake_rate=mistake_rate)
    config = SimulationConfig(day=day, sessions=sessions, seed=seed, source=source, mix=_parse_mix(mix), behaviour=behaviour)
    store = open_store(store_uri)
    click.echo(f"simulating {sessions} sessions of {day} (seed {seed}) into {store.uri()}", err=True)
    try:
        summary = simulate_partition(store, config, progress=lambda line: click.echo(f"  {line}", err=True))
    except (FileNotFoundError, RuntimeError) as error:  # no usable source code
        raise click.ClickException(str(error)) from error
    click.echo(
        f"{summary.sessions} sessions ({summary.continued_sessions} continuing projects of earlier days), "
        f"{summary.repls} projects, {summary.events} events "
        f"({summary.events_by_kind['ot']} packets, {summary.diagnostics} diagnostics), "
        f"{sum(summary.mistakes_by_kind.values())} mistakes in {summary.seconds:.1f} s"
    )
    click.echo(f"shards: {store.uri(f'sessions/date={day}/')}  report: {store.uri(summary.report_key)}")
