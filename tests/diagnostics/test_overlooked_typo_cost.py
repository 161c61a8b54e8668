"""The reproduction stage asks, for every copy of a mistake left unfixed, whether the name is one
slip from a name in use (`one_slip_correction`); the copies share their names, so each pair of
names is measured once, however many versions ask."""

from __future__ import annotations

from repair.diagnostic import Diagnostic
from repair.teachers.search import one_slip_correction, typo_distance


def _undefined(line: int) -> Diagnostic:
    return Diagnostic("pyright", "reportUndefinedVariable", "error", '"countr" is not defined', line, 6, line, 12)


def test_later_versions_of_a_mistake_measure_no_pair_of_names_again():
    first = "count = 0\nprint(countr)\n"
    later = "count = 0\ntotal = count + 1\nprint(countr)\n"  # an edit elsewhere: the same names plus one
    assert one_slip_correction(first, _undefined(1)) == "countr -> count"
    measured = typo_distance.cache_info().misses
    assert one_slip_correction(first, _undefined(1)) == "countr -> count"
    assert typo_distance.cache_info().misses == measured
    assert one_slip_correction(later, _undefined(2)) == "countr -> count"
    assert typo_distance.cache_info().misses - measured <= 1  # only `total` is new
