"""A fleet of two REAL Triton servers on one deploy repository, under continuous client load: a
version swap drops no request and ends with both replicas on the new version; a planted bad version
leaves both on the old one. The workload is the benchmark's (`benchmarks/bench_fleet.py`)."""

from __future__ import annotations

import pytest

from benchmarks.bench_fleet import run_fleet_swap
from repair.serving.repository import ServingConfig

pytestmark = pytest.mark.slow


def test_two_replicas_swap_under_load_and_a_bad_version_leaves_both_on_the_old(tmp_path, tiny_checkpoint):
    # Short answers: this test is about dropped requests and versions, not latency.
    report = run_fleet_swap(
        tmp_path,
        tiny_checkpoint,
        clients_per_replica=1,
        serving=ServingConfig(max_new_tokens=16),
        settle_s=15,
    )
    assert report.promoted, report.swap_reason
    assert report.dropped == 0, report.errors
    assert report.phases[1].sent > 0 and set(report.phases[1].versions) <= {"1", "2"}
    # Every request sent once the swap returned (through the bad version's refusal) was answered by 2.
    after_swap = [p for p in report.phases[2:] if p.sent]
    assert after_swap and all(set(p.versions) == {"2"} for p in after_swap), report.to_dict()
    assert all(versions == [2] for versions in report.final_versions.values()), report.final_versions
    assert "could not load 'code_repair_staging'" in report.bad_reason, report.bad_reason
    assert all(versions == [2] for versions in report.after_bad_versions.values()), report.after_bad_versions
