"""A test run whose pass the candidate cannot forge.

Exit status 0 proves nothing: a candidate file that starts with `raise SystemExit(0)` (or calls
`os._exit(0)`, or prints "5/5 tests passed") would pass. So a pass here means:

- the test runner (`evals.sources`: `FUNCTION_TESTS_RUNNER`, `STDLIB_TESTS_RUNNER`) reports
  `{nonce, ran, passed}` on a channel opened *before* the candidate is imported: two pipes the
  sandbox passes on (`run_python(pass_fds=...)`), one the runner reads the nonce from and closes
  (the nonce never appears in argv, the environment or a file), one it writes the report to;
- the report carries the nonce this run drew (`secrets.token_hex`): text a candidate prints, or a
  report of another run, does not count;
- the number of tests is counted outside the candidate (`expected`, from the tests' source or the
  reference's suite in this process: `evals.sources.expected_tests`); the run passes only when the
  runner ran exactly that many and every one passed. A runner that never reports (early exit,
  crash, timeout) fails.

What remains in-process: the runner and the candidate share one interpreter, so a candidate that
searches the runner's memory for the nonce could still forge; the stdlib runner refuses to run when
`unittest` was patched (`STDLIB_TESTS_RUNNER`), and the function runner keeps its counts in locals.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evals.sandbox import Limits, run_python

CHANNEL_FLAG = "--channel="


@dataclass(frozen=True)
class TestRun:
    ran: int
    passed: int
    expected: int  # counted outside the candidate; 0: unknown (then at least one test must run)
    reason: str  # "passed", or why not
    outcome: str  # the sandbox's outcome (`passed`, `failed (exit 1)`, `timed out`, ...)
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.reason == "passed"


def _read_available(fd: int) -> bytes:
    """What is in the pipe now: never blocks (a child that escaped the kill may still hold it)."""
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def _judge(report: bytes, nonce: str, expected: int) -> tuple[int, int, str]:
    """(ran, passed, reason) from what arrived on the report channel."""
    found = None
    for line in report.decode("utf-8", errors="replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("nonce") == nonce:
            found = message
    if found is None:
        forged = " (a report without this run's nonce)" if report.strip() else ""
        return 0, 0, "no report from the test runner" + forged
    ran, passed = found.get("ran"), found.get("passed")
    if not isinstance(ran, int) or not isinstance(passed, int):
        return 0, 0, "malformed report"
    if expected and ran != expected:
        return ran, passed, f"ran {ran} of {expected} tests"
    if ran == 0:
        return ran, passed, "no test ran"
    if passed != ran:
        return ran, passed, f"{passed} of {ran} tests passed"
    return ran, passed, "passed"


def run_tests(
    files: Mapping[str, str], argv: Sequence[str], expected: int, limits: Limits | None = None
) -> TestRun:
    """Runs the test runner `argv[0]` among `files` in the sandbox with a fresh report channel and
    judges its report (module docstring)."""
    nonce = secrets.token_hex(16)
    nonce_read, nonce_write = os.pipe()
    report_read, report_write = os.pipe()
    try:
        os.write(nonce_write, nonce.encode())
        os.close(nonce_write)
        nonce_write = -1
        run_argv = (argv[0], f"{CHANNEL_FLAG}{nonce_read},{report_write}", *argv[1:])
        try:
            result = run_python(files, run_argv, limits or Limits(), pass_fds=(nonce_read, report_write))
        finally:
            os.close(nonce_read)
            os.close(report_write)
        report = _read_available(report_read)
    finally:
        os.close(report_read)
        if nonce_write >= 0:
            os.close(nonce_write)
    ran, passed, reason = _judge(report, nonce, expected)
    if result.timed_out and reason == "passed":
        reason = "timed out after reporting"
    return TestRun(ran, passed, expected, reason, result.outcome, result.stdout, result.stderr)
