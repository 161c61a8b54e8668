"""The `spark` executor of reproduction: executors read the states from the store and lint them there.

The driver (`repair.reproduce.reproduce`) decides which states to lint and assigns them to tasks by
row number of the stored `error_states` partition, never shipping a text. Each task opens the store
(a `StoreLocation`), reads the partition's rows it was given and the blob table their context refers
to, lints the states (`repair.reproduce.lint`, batched or warm as configured) and writes
the diagnostics found as one Parquet part (`spark/reproduced_diagnostics/<partition>/part-NNNNN.parquet`);
only a `LintSummary` (counts, the key) comes back. The driver then reads the parts, which hold
diagnostics but no file texts, and filters as with every executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace

import polars as pl

from repair.diagnostic import Diagnostic
from repair.ingest import load_context
from repair.ingest.frames import read_frame, write_frame
from repair.ingest.states import ERROR_STATES_SCHEMA
from repair.lint import FileState, LintResult
from repair.object_store import StoreLocation
from repair.reproduce import ReproduceSettings, lint

# A Diagnostic's fields, typed as the error_states columns of the same names.
DIAGNOSTIC_STRUCT = pl.Struct({f.name: ERROR_STATES_SCHEMA[f.name] for f in fields(Diagnostic)})
RESULTS_SCHEMA = {"row": pl.Int64, "error": pl.String, "diagnostics": pl.List(DIAGNOSTIC_STRUCT)}


@dataclass(frozen=True)
class StoredStates:
    """Where an `error_states` partition lies (its blob table is `repair.ingest.blobs_key(partition)`)."""

    location: StoreLocation
    states_key: str
    partition: str

    @property
    def results_prefix(self) -> str:
        return f"spark/reproduced_diagnostics/{self.partition}/"


@dataclass(frozen=True)
class LintSummary:
    """What one task sends back."""

    part: int
    states: int
    errors: int
    diagnostics: int
    key: str


def _lint_part(
    part: int, rows: Sequence[tuple[int, str]], source: StoredStates, settings: ReproduceSettings
) -> LintSummary:
    """Executor side: reads rows `rows` ((row number, diagnostic_id) pairs) of the stored partition,
    lints each row's state and writes the results."""
    store = source.location.open()
    numbers = [number for number, _ in rows]
    frame = read_frame(store, source.states_key).select("diagnostic_id", "repl", "file", "ts", "content", "context")
    picked = frame[numbers]
    if picked["diagnostic_id"].to_list() != [did for _, did in rows]:
        raise ValueError(
            f"{store.uri(source.states_key)} is not the partition the driver planned on (ids differ)"
        )
    contexts = load_context(store, source.partition, picked)
    # The task holds every state of its files (the driver keeps a file's states together), so the
    # warm linting's version-ordered edits work here as in one process.
    states = [
        FileState(files={**context, file: content}, target=file, file_id=f"{repl}/{file}", order=ts)
        for context, repl, file, ts, content in zip(
            contexts, picked["repl"], picked["file"], picked["ts"], picked["content"], strict=True
        )
    ]
    results = lint(states, replace(settings, executor="serial"))
    key = f"{source.results_prefix}part-{part:05d}.parquet"
    table = pl.DataFrame(
        {
            "row": numbers,
            "error": [r.error for r in results],
            "diagnostics": [[asdict(d) for d in r.diagnostics] for r in results],
        },
        schema=RESULTS_SCHEMA,
    )
    write_frame(store, key, table)
    return LintSummary(
        part,
        len(results),
        sum(r.error is not None for r in results),
        sum(len(r.diagnostics) for r in results),
        key,
    )


def tasks_by_file(rows: Sequence[tuple[int, str, str]], batch_size: int) -> list[list[tuple[int, str]]]:
    """`rows` ((row number, diagnostic id, file history)) packed into tasks of about `batch_size`,
    every state of a file in the same task (a warm language server re-checks a file's states as
    edits), files in order of first appearance."""
    by_file: dict[str, list[tuple[int, str]]] = {}
    for number, did, history in rows:
        by_file.setdefault(history, []).append((number, did))
    tasks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for file_rows in by_file.values():
        if current and len(current) + len(file_rows) > batch_size:
            tasks.append(current)
            current = []
        current.extend(file_rows)
    return tasks + [current] if current else tasks


def lint_on_spark(
    spark,
    source: StoredStates,
    rows: Sequence[tuple[int, str, str]],
    settings: ReproduceSettings,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[LintResult]:
    """Driver side: the states (`rows`: the row number and diagnostic id of each state's first row,
    and the file whose history it is) in tasks of about `batch_size` (`tasks_by_file`), run on the
    executors; the results, in `rows` order, read back from the parts they wrote."""
    store = source.location.open()
    for key in store.list(source.results_prefix):
        store.delete(key)  # an earlier run's parts
    tasks = tasks_by_file(rows, batch_size)
    if not tasks:
        return []
    summaries = (
        spark.sparkContext.parallelize(list(enumerate(tasks)), numSlices=len(tasks))
        .map(lambda item: _lint_part(item[0], item[1], source, settings))
        .collect()
    )
    if progress:
        progress(len(tasks), len(tasks))
    found: dict[int, LintResult] = {}
    for summary in summaries:
        for number, error, diagnostics in read_frame(store, summary.key).iter_rows():
            found[number] = LintResult([Diagnostic(**d) for d in diagnostics], error)
    return [found[number] for number, _did, _history in rows]
