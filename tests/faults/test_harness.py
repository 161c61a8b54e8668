"""The fault harness itself: finding the training ranks to kill must not trip over other children."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from benchmarks.bench_faults import training_workers


def test_finding_the_training_ranks_skips_a_child_that_already_exited_unreaped():
    # An exited child not yet waited for is a zombie: psutil refuses its command line (CI's slow
    # tier failed on psutil.ZombieProcess when an earlier test's child was still unreaped).
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.05)
        assert training_workers() == []
    finally:
        zombie.wait()
