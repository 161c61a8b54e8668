"""Shared inputs: synthetic verified repairs of a few real standard-library files (one injected
error each, fixed by `make_diff`), spread over several projects."""

import random

import pytest

from benchmarks.make_synthetic_repairs import repairs_for_file
from repair.corpus import iter_source_files, stdlib_dir

MODULES_PER_TEST = 24


def synthetic_rows(files: int = MODULES_PER_TEST, per_file: int = 6, seed: int = 0) -> list[dict]:
    root = stdlib_dir()
    rng = random.Random(seed)
    paths = [p for p in iter_source_files(root) if p.stat().st_size > 4000][:files]
    return [row for path in paths for row in repairs_for_file(path, root, per_file, rng)]


@pytest.fixture(scope="session")
def repair_rows() -> list[dict]:
    return synthetic_rows()
