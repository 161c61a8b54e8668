"""`repair_benchmark`'s blocking check: an item whose diagnostic or project the dataset trains on is
a leak; the test split is not."""

from __future__ import annotations

import polars as pl

from evals.repair_benchmark import training_leaks

DATASET = pl.DataFrame({
    "diagnostic_id": ["d-train", "d-val", "d-test"],
    "repl": ["p-train", "p-val", "p-test"],
    "split": ["train", "validation", "test"],
})


def test_items_from_training_rows_or_projects_are_leaks():
    items = pl.DataFrame({"item_id": ["d-train", "d-other"], "origin": ["p-new", "p-val"]})
    assert training_leaks(items, DATASET) == (["d-train"], ["p-val"])


def test_test_split_items_are_not_leaks():
    items = pl.DataFrame({"item_id": ["d-test"], "origin": ["p-test"]})
    assert training_leaks(items, DATASET) == ([], [])
    assert training_leaks(items.clear(), DATASET) == ([], [])
