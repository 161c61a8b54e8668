"""What a simulated partition holds: counts, keys written, and the figures the realism report needs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimulationSummary:
    day: str
    sessions: int = 0  # sessions written into the day
    repls: int = 0
    sessions_begun: int = 0  # sessions of the projects begun this day (some may fall on later days)
    continued_sessions: int = 0  # sessions of projects begun on an earlier day
    continued_repls: int = 0
    events_by_kind: Counter[str] = field(default_factory=Counter)
    diagnostics_by_rule: Counter[str] = field(default_factory=Counter)
    mistakes_by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    lint_states: int = 0
    lint_errors: int = 0
    shard_keys: list[str] = field(default_factory=list)
    ground_truth_keys: list[str] = field(default_factory=list)
    snapshot_keys: list[str] = field(default_factory=list)
    session_stats: list[dict[str, Any]] = field(default_factory=list)  # per session: length, packets, ...
    # Every packet as (session number, ts, code points inserted, code points deleted), for the
    # realism report.
    packets: list[tuple[int, int, int, int]] = field(default_factory=list)
    realism: dict[str, Any] = field(default_factory=dict)  # the realism report's figures
    report_key: str = ""
    seconds: float = 0.0
    lint_seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(self.events_by_kind.values())

    @property
    def diagnostics(self) -> int:
        return self.events_by_kind["lsp_diagnostic"]
