"""Session-log shards: every kind of bad line is rejected with its line and reason, nothing is lost."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from repair.sessionlog import LogEvent, Rejected, ShardLimits, read_shard, validate_event

BASE = {"v": 1, "session": "s1", "repl": "r1", "ts": 1_764_000_000_000}
GOOD = {
    "ot": {
        **BASE,
        "kind": "ot",
        "file": "main.py",
        "version": 1,
        "ops": [{"insert": "x = 1\n"}],
        "crc32": 123,
        "author": "user",
    },
    "lsp_diagnostic": {
        **BASE,
        "kind": "lsp_diagnostic",
        "file": "main.py",
        "version": 1,
        "source": "ruff",
        "code": "F821",
        "severity": "error",
        "message": "Undefined name `y`",
        "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}},
        "has_code_action": False,
    },
    "editor": {**BASE, "kind": "editor", "file": "main.py", "action": "paste"},
    "package_install": {**BASE, "kind": "package_install", "manager": "pip", "packages": ["requests"]},
    "run": {**BASE, "kind": "run", "command": "python main.py", "exit_code": 1, "stderr_tail": "NameError"},
    "shell": {**BASE, "kind": "shell", "command": "ls"},
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_every_kind_validates(kind):
    assert validate_event(GOOD[kind]) is None


def without(event, field):
    return {k: v for k, v in event.items() if k != field}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([1, 2], "not a JSON object but a list"),
        (without(GOOD["ot"], "v"), "missing field 'v'"),
        ({**GOOD["ot"], "v": 2}, "unsupported schema version 2"),
        ({**GOOD["ot"], "v": True}, "unsupported schema version true"),
        (without(GOOD["ot"], "session"), "missing field 'session'"),
        ({**GOOD["ot"], "repl": ""}, "field 'repl' must be a non-empty id"),
        ({**GOOD["ot"], "repl": "../../x"}, "field 'repl' must be a non-empty id without '/'"),
        ({**GOOD["ot"], "repl": ".."}, "field 'repl' must be a non-empty id"),
        ({**GOOD["ot"], "session": "s\n1"}, "field 'session' must be a non-empty id"),
        ({**GOOD["ot"], "file": "a/./b.py"}, "field 'file' must be a relative path"),
        ({**GOOD["ot"], "file": "a//b.py"}, "field 'file' must be a relative path"),
        ({**GOOD["ot"], "file": "..\\x.py"}, "field 'file' must be a relative path"),
        ({**GOOD["ot"], "file": "a\x00.py"}, "field 'file' must be a relative path"),
        ({**GOOD["ot"], "ts": "yesterday"}, "field 'ts' must be an int"),
        ({**GOOD["ot"], "ts": 1.5}, "field 'ts' must be an int"),
        ({**GOOD["ot"], "kind": "keystroke"}, "unknown kind 'keystroke'"),
        (without(GOOD["ot"], "file"), "missing field 'file'"),
        ({**GOOD["ot"], "file": "/etc/passwd"}, "field 'file' must be a relative path"),
        ({**GOOD["ot"], "file": "../x.py"}, "field 'file' must be a relative path"),
        (without(GOOD["ot"], "version"), "missing field 'version'"),
        ({**GOOD["ot"], "version": 0}, "field 'version' must be an int >= 1"),
        ({**GOOD["ot"], "ops": {"insert": "x"}}, "field 'ops' must be a list of ops"),
        ({**GOOD["ot"], "crc32": 2**32}, "field 'crc32' must be an unsigned 32-bit int"),
        ({**GOOD["ot"], "author": "robot"}, "field 'author' must be 'user' or 'assistant'"),
        ({**GOOD["lsp_diagnostic"], "source": "mypy"}, "field 'source' must be one of pyright, ruff"),
        ({**GOOD["lsp_diagnostic"], "severity": "fatal"}, "field 'severity' must be one of"),
        (without(GOOD["lsp_diagnostic"], "message"), "missing field 'message'"),
        ({**GOOD["lsp_diagnostic"], "range": {"start": {"line": 0}}}, "field 'range' must be an LSP range"),
        (
            {**GOOD["lsp_diagnostic"], "has_code_action": "yes"},
            "field 'has_code_action' must be true or false",
        ),
        (without(GOOD["editor"], "action"), "missing field 'action'"),
        ({**GOOD["package_install"], "packages": "requests"}, "field 'packages' must be a list of strings"),
        ({**GOOD["run"], "exit_code": None}, "field 'exit_code' must be an int"),
        (without(GOOD["shell"], "command"), "missing field 'command'"),
    ],
)
def test_invalid_events_say_why(event, reason):
    assert reason in validate_event(event)


def line(event) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def test_a_shard_with_every_kind_of_bad_line_reconciles():
    good = line(GOOD["ot"])
    lines = [
        good,
        line({**GOOD["shell"], "kind": "telepathy"}),
        b'{"v": 1, "session": "s1", "repl": "r1" "ts": 1}',
        b"\xff\xfe not utf-8",
        b"",
        line(without(GOOD["run"], "exit_code")),
        line({**GOOD["editor"], "action": "format ✨ 中文"}),
        good[:25],  # the writer died mid-line
    ]
    results = list(read_shard(b"\n".join(lines), "shard-000.jsonl"))
    assert len(results) == len(lines)  # read = kept + quarantined
    assert [r.line_no for r in results] == list(range(1, len(lines) + 1))
    kept = [r for r in results if isinstance(r, LogEvent)]
    assert [r.line_no for r in kept] == [1, 7]
    assert kept[1].event["action"] == "format ✨ 中文"
    reasons = {r.line_no: r.reason for r in results if isinstance(r, Rejected)}
    assert reasons[2] == "unknown kind 'telepathy'"
    assert reasons[3].startswith("bad JSON: Expecting ',' delimiter")
    assert reasons[4] == "invalid UTF-8 at byte 0"
    assert reasons[5] == "empty line"
    assert reasons[6] == "missing field 'exit_code'"
    assert reasons[8].startswith("truncated line")
    assert all(r.shard == "shard-000.jsonl" for r in results)


def test_a_gzip_shard_reads_like_plain_text_and_a_final_newline_is_no_line():
    data = b"\n".join(line(e) for e in GOOD.values()) + b"\n"
    plain = list(read_shard(data, "a.jsonl"))
    zipped = list(read_shard(gzip.compress(data), "a.jsonl.gz"))
    assert len(plain) == len(GOOD) and all(isinstance(r, LogEvent) for r in plain)
    assert [r.event for r in zipped] == [r.event for r in plain]


def test_a_cut_gzip_stream_keeps_what_precedes_the_cut_and_reports_it():
    data = b"".join(line({**GOOD["ot"], "ts": i * 7919 % 100_003}) + b"\n" for i in range(2000))
    whole = gzip.compress(data)
    cut = whole[: len(whole) // 2]
    results = list(read_shard(cut, "b.jsonl.gz"))
    assert all(isinstance(r, LogEvent) for r in results[:-1])
    assert len(results) > 100
    assert isinstance(results[-1], Rejected)
    assert "gzip stream ends early" in results[-1].reason


def test_corrupt_gzip_on_a_line_boundary_is_still_reported():
    data = line(GOOD["ot"]) + b"\n"
    results = list(read_shard(gzip.compress(data) + b"\x1f\x8bgarbage", "c.jsonl.gz"))
    assert isinstance(results[0], LogEvent)
    assert isinstance(results[-1], Rejected) and "gzip" in results[-1].reason
    assert "the rest of the shard is unreadable" in results[-1].reason


# --- limits: nothing in a shard can make ingest run out of memory ------------------------------


def _reconciles(records) -> None:
    """Line numbers 1..N, each once: the rows (kept or quarantined) account for the whole shard."""
    assert [r.line_no for r in records] == list(range(1, len(records) + 1))


def test_a_gzip_bomb_is_capped_with_bounded_memory():
    import tracemalloc

    bomb = gzip.compress(b"\n" * 300_000_000, compresslevel=9, mtime=0)  # 300 MB of empty lines
    assert len(bomb) < 400_000
    tracemalloc.start()
    records = list(read_shard(io.BytesIO(bomb), "bomb.jsonl.gz"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 30 << 20, f"peak {peak / 2**20:.0f} MiB"
    _reconciles(records)
    assert len(records) == ShardLimits().max_rejected + 1
    assert records[-1].reason.startswith(
        "more than 10000 bad lines: the rest of the shard is quarantined unread"
    )


def test_a_shard_over_the_decompressed_size_cap_quarantines_the_rest():
    good = line(GOOD["shell"]) + b"\n"
    data = gzip.compress(good * 10_000)
    records = list(read_shard(data, "big.jsonl.gz", ShardLimits(max_bytes=len(good) * 3000)))
    _reconciles(records)
    assert all(isinstance(r, LogEvent) for r in records[:-1]) and len(records) < 3001
    assert records[-1].reason.startswith(f"shard exceeds {len(good) * 3000} decompressed bytes: the rest")


def test_an_endless_line_is_quarantined_and_reading_goes_on():
    data = line(GOOD["shell"]) + b"\n" + b"x" * (3 << 20) + b"\n" + line(GOOD["shell"]) + b"\n"
    records = list(read_shard(io.BytesIO(data), "long.jsonl"))
    _reconciles(records)
    assert [type(r).__name__ for r in records] == ["LogEvent", "Rejected", "LogEvent"]
    assert records[1].reason == f"line longer than {1 << 20} bytes" and records[1].raw == ""


def test_rows_past_the_cap_are_quarantined_as_one():
    data = (line(GOOD["shell"]) + b"\n") * 10
    records = list(read_shard(data, "many.jsonl", ShardLimits(max_lines=4)))
    _reconciles(records)
    assert len(records) == 5 and records[-1].reason.startswith("shard holds more than 4 lines")
