"""bench_dpo's honest verdict and its own section of RESULTS.md (other sections untouched)."""

from __future__ import annotations

from benchmarks.bench_dpo import SECTION, verdict, write_section
from evals.gate import Comparison


def _comparison(low: float, high: float) -> Comparison:
    return Comparison("finetuned:v1", 40, 0.2, 0.2, (low + high) / 2, low, high)


def test_better_or_worse_only_outside_the_interval():
    assert verdict(_comparison(0.01, 0.2)) == "better"
    assert verdict(_comparison(-0.2, -0.01)) == "worse"
    assert verdict(_comparison(-0.05, 0.1)) == "within noise"
    assert verdict(None).startswith("not compared")


def test_writes_only_its_own_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Training\n\nkeep me\n")
    write_section("first", results)
    write_section("second", results)
    text = results.read_text()
    assert text.count(SECTION) == 1 and "second" in text and "first" not in text
    assert "## Training\n\nkeep me\n" in text


def test_comparisons_pair_the_candidate_with_its_base_per_benchmark_and_mode():
    import polars as pl

    from evals.run import paired_comparisons

    rows = [
        {"model": model, "benchmark": "repair", "mode": mode, "item_id": f"i{n}", "ast_or_string": model == "finetuned:v2"}
        for model in ("finetuned:v2", "finetuned:v1", "no_change") for mode in ("pass@1", "verified@k") for n in range(40)
    ]  # fmt: skip
    found = paired_comparisons(pl.DataFrame(rows), "finetuned:v2", "finetuned:v1")
    assert [(b, m) for b, m, _ in found] == [("repair", "pass@1"), ("repair", "verified@k")]
    for _, _, comparison in found:
        assert (comparison.other, comparison.items, comparison.difference) == ("finetuned:v1", 40, 1.0)
        assert verdict(comparison) == "better"
