"""The benchmark-leak check finds what the dedup misses: a benchmark function copied into a
training file with comments added (so the dedup's MinHash no longer sees a near duplicate), and
passes clean data."""

from __future__ import annotations

from evals.sources import PROBLEMS_DIR, named_benchmark_sources, split_problem
from repair import dataset as ds
from repair.leaks import find_benchmark_leaks, function_hashes, index_repairs
from repair.linediff import make_diff, render_diff


def planted_leak(repl: str = "planted-project") -> dict:
    """A verified repair in a file holding `word_pattern` from evals/problems, every line commented."""
    solution, _ = split_problem((PROBLEMS_DIR / "word_pattern.py").read_text(), "word_pattern.py")
    commented = "\n".join(f"{line}  # step {n}" if line.strip() and not line.startswith('"""') else line
                          for n, line in enumerate(solution.split("\n")))  # fmt: skip
    fixed = "import re\n\n\n" + commented
    lines = fixed.split("\n")
    index = next(i for i, line in enumerate(lines) if "used.add(word)" in line)
    broken = "\n".join([*lines[:index], lines[index].replace("used.add", "usd.add"), *lines[index + 1 :]])
    return {"diagnostic_id": "planted-leak", "repl": repl, "file": "patterns.py", "source": "ruff", "code": "F821",
            "severity": "error", "message": "Undefined name `usd`", "start_line": index, "start_character": 12,
            "end_line": index, "end_character": 15, "content": broken, "fixed_content": fixed,
            "diff": render_diff(make_diff(broken, fixed)), "teacher": "synthetic", "verdict": "accepted"}  # fmt: skip


def train_repl() -> str:
    return next(f"planted-{n}" for n in range(1000) if ds.split_of(f"planted-{n}") == "train")


def test_comments_do_not_hide_a_copied_function():
    solution, _ = split_problem((PROBLEMS_DIR / "word_pattern.py").read_text(), "word_pattern.py")
    assert function_hashes(solution).keys() == function_hashes(planted_leak()["fixed_content"]).keys()


def test_a_planted_leak_survives_dedup_and_is_found(repair_rows):
    sources = named_benchmark_sources()
    rows = [*repair_rows[:40], planted_leak(train_repl())]
    built = ds.build_dataset(rows, list(sources.values()))
    kept = {e["diagnostic_id"]: e for e in built.examples}
    assert kept["planted-leak"]["split"] == "train"  # the dedup let it through
    assert ds.find_leaks(built.examples, list(sources.values())) == []  # and its own rescan agrees
    leaks = find_benchmark_leaks(built.examples, index_repairs(rows), sources, window=ds.DEFAULT_WINDOW)
    assert leaks == [{"kind": "function_in_benchmark", "item": "planted-leak", "near": "problem:word_pattern:word_pattern"}]


def test_clean_data_has_no_benchmark_leak(repair_rows):
    sources = named_benchmark_sources()
    built = ds.build_dataset(repair_rows, list(sources.values()))
    assert find_benchmark_leaks(built.examples, index_repairs(repair_rows), sources, window=ds.DEFAULT_WINDOW) == []


def test_function_hashes_match_the_stdlib_segments_and_stay_linear_in_file_size():
    import ast
    import textwrap
    import time

    from repair.leaks import _digest, normalized_tokens

    body = "".join(
        f"def f{n}(a, b):\r\n    '''é{n}'''\r\n    return [a + b * {n} for _ in range(a)] + [b]\r\n\r\n"
        for n in range(40)
    )
    source = body + "class C:\n    def m(self): return (self, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)\n"
    expected = {
        _digest(tokens): node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and len(tokens := normalized_tokens(textwrap.dedent(ast.get_source_segment(source, node) or ""))) >= 5
    }
    assert function_hashes(source, min_tokens=5) == expected and len(expected) == 41
    # A file of 3,000 functions: the per-function re-split of the whole file made this minutes.
    big = "".join(f"def g{n}(x):\n    return x + {n}\n\n" for n in range(3000))
    started = time.process_time()
    assert len(function_hashes(big, min_tokens=1)) == 3000
    assert time.process_time() - started < 10
