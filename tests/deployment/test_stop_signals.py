"""`repair serve` stops on Ctrl-C even when it was started with SIGINT ignored, as POSIX shells start
background jobs (`cmd &` in a script, CI runners): Python then installs no handler of its own."""

from __future__ import annotations

import signal
import subprocess
import sys

STOPS_ON_SIGINT = """
import os, signal, time
from repair.commands.serve import stop_on_signals
with stop_on_signals():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)
        print("ignored")
    except KeyboardInterrupt as stop:
        print("stopped", stop)
"""


def test_sigint_stops_serve_even_when_inherited_as_ignored():
    result = subprocess.run(
        [sys.executable, "-c", STOPS_ON_SIGINT],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.split() == ["stopped", "SIGINT"], result.stdout + result.stderr
