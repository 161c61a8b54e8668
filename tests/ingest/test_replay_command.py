"""`repair replay`: a file as it was, from a shard or a partition folder; invalid logs exit 2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from repair.cli import main
from resources.object_store import GCSObjectStore, LocalObjectStore
from tests.ingest.sessions import DAY, T0, write_partition


def replay(*args):
    return CliRunner().invoke(main, ["replay", *map(str, args)])


def partition(tmp_path):
    write_partition(LocalObjectStore(tmp_path), bad_lines=False)
    return tmp_path / "sessions" / f"date={DAY}"


def test_prints_the_file_at_a_version_a_moment_and_its_end(tmp_path):
    folder = partition(tmp_path)
    at_v1 = replay(folder, "--repl", "r-turtle", "--file", "shapes.py", "--version", 1)
    assert at_v1.exit_code == 0, at_v1.output
    assert at_v1.stdout == "def square(t):\n    pass\n"
    moment = replay(folder, "--repl", "r-turtle", "--file", "main.py", "--at", T0 + 2300)
    assert moment.stdout == "import turtle\nfrom shapes import square\n\nscreen = turtle.screen\n"
    iso = replay(folder, "--repl", "r-turtle", "--file", "main.py", "--at", "2026-01-05T00:00:02.300")
    assert iso.stdout == moment.stdout
    last = replay(folder / "shard-001.jsonl.gz", "--repl", "r-unicode", "--file", "app.py")
    assert last.exit_code == 0 and last.stdout == "print('héllo 👋 中文!')\n"


def test_missing_files_and_states_exit_1(tmp_path):
    folder = partition(tmp_path)
    assert replay(folder, "--repl", "r-turtle", "--file", "nope.py").exit_code == 1
    early = replay(folder, "--repl", "r-turtle", "--file", "main.py", "--at", T0)
    assert early.exit_code == 1 and "did not exist yet" in early.stderr
    beyond = replay(folder, "--repl", "r-turtle", "--file", "main.py", "--version", 9)
    assert beyond.exit_code == 1 and "version 9 never logged" in beyond.stderr


def test_an_invalid_packet_exits_2_naming_line_packet_and_reason(tmp_path):
    folder = partition(tmp_path)
    shard = folder / "shard-000.jsonl"
    lines = shard.read_text(encoding="utf-8").splitlines()
    target = next(i for i, raw in enumerate(lines) if '"file": "main.py"' in raw and '"version": 2' in raw)
    event = json.loads(lines[target])
    event["ops"] = [{"skip": 10_000}]
    lines[target] = json.dumps(event)
    shard.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = replay(folder, "--repl", "r-turtle", "--file", "main.py")
    assert result.exit_code == 2
    assert f"shard-000.jsonl:{target + 1}: packet version 2: skip 10000 past the end" in result.stderr
    # A state before the bad packet is still trustworthy: printed, with a warning.
    before = replay(folder, "--repl", "r-turtle", "--file", "main.py", "--version", 1)
    assert before.exit_code == 0 and before.stdout == "import turtle\n"
    assert "warning: later in the log" in before.stderr


def test_reads_a_partition_from_a_bucket(gcs_bucket):
    write_partition(GCSObjectStore(gcs_bucket.client, gcs_bucket.name), bad_lines=False)
    day = f"gs://{gcs_bucket.name}/sessions/date={DAY}"
    folder = replay(day, "--repl", "r-turtle", "--file", "shapes.py", "--version", 1)
    assert folder.exit_code == 0, folder.output
    assert folder.stdout == "def square(t):\n    pass\n"
    shard = replay(f"{day}/shard-001.jsonl.gz", "--repl", "r-unicode", "--file", "app.py")
    assert shard.stdout == "print('héllo 👋 中文!')\n"


def test_a_log_that_is_not_there_is_a_usage_error(tmp_path):
    result = replay(tmp_path / "nothing.jsonl", "--repl", "r", "--file", "a.py")
    assert result.exit_code == 2 and "does not exist" in result.output
