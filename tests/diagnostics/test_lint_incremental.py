"""The warm, file-by-file path (`repair.lint.lint_file_states`) against today's batched path on a
simulated day's states: the same diagnostics and the same errors, state for state."""

from __future__ import annotations

from collections import Counter

import psutil
import pytest

from repair.ingest.logs import read_partition
from repair.ingest.states import build_error_states
from repair.ingest.timelines import build_timelines
from repair.lint import FileState, lint_batch, lint_file_states
from repair.simulate import SimulationConfig, simulate_partition
from resources.object_store import LocalObjectStore

DAY = "2026-11-21"
MAX_STATES = 120  # whole files, until this many states (the day has 106)


@pytest.fixture(scope="module")
def day_states(tmp_path_factory) -> list[FileState]:
    """Every distinct state of a small simulated day, whole files in the order they were logged."""
    store = LocalObjectStore(tmp_path_factory.mktemp("day"))
    simulate_partition(store, SimulationConfig(day=DAY, sessions=4, seed=2))
    built = build_error_states(build_timelines(read_partition(store, DAY).events))
    blobs = dict(zip(built.blobs["blob"].to_list(), built.blobs["text"].to_list(), strict=True))
    rows = built.states.unique(["repl", "file", "version"], keep="first", maintain_order=True).to_dicts()
    states: list[FileState] = []
    for row in sorted(rows, key=lambda r: (r["repl"], r["file"], r["ts"])):
        file_id = f"{row['repl']}/{row['file']}"
        if len(states) >= MAX_STATES and states[-1].file_id != file_id:
            break
        files = {ref["path"]: blobs[ref["blob"]] for ref in row["context"] or ()} | {row["file"]: row["content"]}
        states.append(FileState(files, row["file"], file_id=file_id, order=row["ts"]))
    return states


def _linter_processes():
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "node" in p.name() or "ruff" in p.name()]


def test_the_day_exercises_edits_and_other_files(day_states):
    per_file = Counter(s.file_id for s in day_states)
    assert max(per_file.values()) >= 10  # a file re-checked after many edits
    # Files of several multi-file projects: the server's workspace changes between them.
    assert len({s.file_id for s in day_states if len(s.files) > 1}) >= 2


def test_warm_file_states_equal_the_batched_path_on_a_simulated_day(day_states):
    # Shuffled so that the function, not the caller, puts each file's states in version order.
    shuffled = day_states[1::2] + day_states[::2]
    batched = lint_batch([s.files for s in shuffled], [s.target for s in shuffled])
    before = {p.pid for p in _linter_processes()}
    warm = lint_file_states(shuffled)
    assert [(r.error, r.diagnostics) for r in warm] == [(r.error, r.diagnostics) for r in batched]
    assert sum(len(r.diagnostics) for r in warm) > len(shuffled)  # real diagnostics were compared
    assert {p.pid for p in _linter_processes()} - before == set()  # its server is closed


def test_a_state_that_cannot_be_linted_gets_its_reason_and_the_file_goes_on():
    states = [
        FileState({"main.py": "x = 1\nprint(y)\n"}, "main.py", order=1),
        FileState({"main.py": "x = 1\x00\n"}, "main.py", order=2),
        FileState({"main.py": "x = 1\nprint(x.nope)\n"}, "main.py", order=3),
    ]
    first, bad, last = lint_file_states(states)
    assert ("pyright", "reportUndefinedVariable") in {(d.source, d.code) for d in first.diagnostics}
    assert bad.error is not None and bad.error.startswith("binary: main.py") and bad.diagnostics == []
    assert {(d.source, d.code) for d in last.diagnostics} == {("pyright", "reportAttributeAccessIssue")}
    assert lint_file_states([]) == []


def test_a_server_that_fails_is_restarted_and_asked_once_more(monkeypatch):
    """A check that fails once (a crash, a timeout) is retried on a fresh server; one that fails
    twice gets the failure as its error, and the states after it are still checked."""
    from repair.lint import incremental
    from repair.lint.tools import ToolFailure

    real_check, failures = incremental._Server.check, {"s000000/main.py": 1, "s000001/main.py": 2}
    servers = []

    def failing_check(server, path, text):
        servers.append(id(server._client) if server._client is not None else None)
        if failures.get(path, 0) > 0:
            failures[path] -= 1
            real_check(server, path, text)  # the server is started and used, then "crashes"
            server.close()
            raise ToolFailure("pyright language server exited")
        return real_check(server, path, text)

    monkeypatch.setattr(incremental._Server, "check", failing_check)
    states = [
        FileState({"main.py": "print(y)\n"}, "main.py", file_id="a", order=1),
        FileState({"main.py": "print(z)\n"}, "main.py", file_id="b", order=1),
        FileState({"main.py": "x = 1\nprint(x.nope)\n"}, "main.py", file_id="c", order=1),
    ]
    retried, failed, after = lint_file_states(states)
    def pyright(result):
        return {d.code for d in result.diagnostics if d.source == "pyright"}

    assert retried.error is None and pyright(retried) == {"reportUndefinedVariable"}
    assert failed.error == "pyright language server exited" and pyright(failed) == set()
    assert after.error is None and pyright(after) == {"reportAttributeAccessIssue"}
    assert None in servers[1:]  # a fresh server after each failure
