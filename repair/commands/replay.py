"""`repair replay LOG --repl R --file PATH [--at TS | --version V]`: print a file as it was.

LOG is a session-log shard (`.jsonl` or `.jsonl.gz`) or a folder of them (one daily partition), on
disk or in a bucket (`gs://bucket/sessions/date=2026-01-05/`).
Without `--at` or `--version` the file is printed at its last version. Exit status 0 with the text on
stdout; 2 when the state depends on an invalid packet (the message names the shard, line, packet
version and reason); 1 when there is no such file or state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

LATEST = 2**63 - 1


def _parse_ts(value: str | None) -> int | None:
    """Milliseconds since the epoch, given as such or as an ISO-8601 time (UTC unless it says)."""
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is neither milliseconds nor an ISO-8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


SHARD_SUFFIXES = (".jsonl", ".jsonl.gz")


def _shards(log: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of every shard LOG names, in name order."""
    if log.startswith("gs://"):
        from repair.object_store import open_store

        bucket, _, key = log[len("gs://") :].partition("/")
        store = open_store(f"gs://{bucket}")
        keys = [key] if key.endswith(SHARD_SUFFIXES) else store.list(key.rstrip("/") + "/" if key else "")
        return [(k.rsplit("/", 1)[-1], store.read_bytes(k)) for k in keys if k.endswith(SHARD_SUFFIXES)]
    path = Path(log.removeprefix("file://"))
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist", param_hint="LOG")
    paths = sorted(p for p in path.iterdir() if p.name.endswith(SHARD_SUFFIXES)) if path.is_dir() else [path]
    return [(p.name, p.read_bytes()) for p in paths]


@click.command(name="replay")
@click.argument("log")
@click.option("--repl", required=True, help="Project id.")
@click.option("--file", "path", required=True, help="File path relative to the project root.")
@click.option("--at", "at", default=None, help="A moment: milliseconds since the epoch or ISO-8601 (UTC).")
@click.option("--version", "version", type=click.IntRange(min=1), default=None, help="A file version.")
def command(log: str, repl: str, path: str, at: str | None, version: int | None) -> None:
    """Print FILE of project REPL as it was at a moment or version, replayed from the session log."""
    from repair.ingest.states import replay_group
    from repair.sessionlog import LogEvent, read_shard

    if at is not None and version is not None:
        raise click.UsageError("give --at or --version, not both")
    ts = _parse_ts(at)
    packets, rejected = [], []
    for name, data in _shards(log):
        for record in read_shard(data, name):
            if not isinstance(record, LogEvent):
                rejected.append(record)
                continue
            event = record.event
            if event["kind"] == "ot" and event["repl"] == repl and event["file"] == path:
                packets.append((event["version"], event["ts"], record.shard, record.line_no, record.raw))
    for bad in rejected[:5]:
        click.echo(f"warning: {bad.shard}:{bad.line_no}: line rejected: {bad.reason}", err=True)
    if len(rejected) > 5:
        click.echo(f"warning: {len(rejected) - 5} more lines rejected", err=True)
    if not packets:
        click.echo(f"no edits of {path} in repl {repl} in {log}", err=True)
        raise SystemExit(1)

    request = ("cli", "content", version, None if version is not None else (LATEST if ts is None else ts))
    result = replay_group(repl, path, packets, [request])
    (_, _, blob, at_version, error) = result.states[0]
    if result.invalid is not None:
        bad_version, shard, line_no, reason = result.invalid
        where = f"{shard}:{line_no}: packet version {bad_version}: {reason}"
        if error:
            click.echo(f"invalid log: {where}", err=True)
            if rejected:
                click.echo(
                    f"({len(rejected)} lines of the log were rejected; one may be the missing packet)",
                    err=True,
                )
            raise SystemExit(2)
        click.echo(f"warning: later in the log, {where}", err=True)
    if error:
        click.echo(f"{repl}/{path}: {error}", err=True)
        raise SystemExit(1)
    if blob is None:
        click.echo(f"{repl}/{path} did not exist yet at {ts} (its first edit comes later)", err=True)
        raise SystemExit(1)
    click.echo(f"{repl}/{path} at version {at_version}", err=True)
    click.echo(result.blobs[blob], nl=False)
