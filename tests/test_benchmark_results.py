"""What benchmarks write beside their figures about the machine is measured, never typed in."""

from __future__ import annotations

import os
import re
from pathlib import Path

from benchmarks.results import EARLIER, earlier_runs, load_words, write_run

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_a_machine_idle_at_the_start_is_called_idle_whatever_the_benchmark_itself_adds():
    cores = os.cpu_count() or 1
    words = load_words(0.3, cores + 3.0)
    assert words.startswith("otherwise idle (") and f"on {cores} cores" in words


def test_a_machine_loaded_at_the_start_is_called_shared_and_the_reader_told_what_compares():
    cores = os.cpu_count() or 1
    words = load_words(cores + 1.0, 0.5)
    assert words.startswith("shared with other work (") and "compare the rows of one run" in words


def test_no_benchmark_types_in_who_else_was_using_the_machine():
    # These scripts used to say "shared with seven other engineers' jobs" and "The machine was LOADED"
    # whatever the load was when they ran; such words now come from `load_words`.
    typed = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(BENCHMARKS.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"other (engineers|agents|jobs)|\bLOADED\b|sandbox shared|shared with (six|seven|\d)", line)
    ]
    assert typed == []


def test_a_niced_run_says_so(monkeypatch):
    import benchmarks.results

    monkeypatch.setattr(benchmarks.results.os, "nice", lambda increment: 10)
    assert "under `nice -n 10`" in load_words(0.2, 0.4)


def test_a_run_is_written_above_the_runs_it_replaces_and_the_oldest_drop_out(tmp_path):
    results, section = tmp_path / "RESULTS.md", "## Pretrained base"
    results.write_text("# Results\n\n## Other\n\nkeep me\n")
    for run in ("run 1", "run 2", "run 3", "run 4"):
        write_run(section, f"{section}\n\n{run}", kept=2, path=results)
    text = results.read_text()
    # The newest, then the two runs it replaced.
    assert earlier_runs(section, 3, results) == ["run 4", "run 3", "run 2"]
    assert text.count(EARLIER) == 2 and "run 1" not in text
    assert text.count(section) == 1 and "## Other\n\nkeep me" in text
