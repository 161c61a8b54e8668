"""How a simulated partition compares with real editing (the realism report).

The real traces (`data/editing-traces/`, VS Code edits to a Rust and a Svelte file) have
one-second timestamps and one transaction per keystroke-level edit. So both sides are compared at the
traces' resolution: per *active second* (a second with at least one edit) the number of edits and
the code points they insert, and the gap between consecutive active seconds. The simulator's own
packet sizes and inter-packet gaps (millisecond resolution) are reported beside them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from repair.ingest.traces import TRACES_DIR
from repair.simulate.mistakes import DETERMINISTIC_FIX_KINDS, NEEDS_UNDERSTANDING_KINDS
from repair.simulate.summary import SimulationSummary

# The traces ship with the repository (`data/editing-traces`); REPAIR_EDITING_TRACES overrides.
DEFAULT_TRACES_DIR = Path(os.environ.get("REPAIR_EDITING_TRACES", TRACES_DIR))
CODE_TRACES = ("rustcode", "sveltecomponent")  # automerge-paper has no timestamps
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
# Rules that are style, not errors: the reproduction stage filters them out.
STYLE_PREFIXES = ("ruff:E5", "ruff:W", "ruff:I", "ruff:N", "ruff:E7")


def quantiles(values: Sequence[float], qs: Iterable[float] = QUANTILES) -> list[float]:
    if not values:
        return [0.0 for _ in qs]
    ordered = sorted(values)
    return [float(ordered[min(len(ordered) - 1, int(q * len(ordered)))]) for q in qs]


def activity(edits: Iterable[tuple[Any, int, int]]) -> dict[str, list[float]]:
    """Per active second: edits and inserted code points; and gaps (s) between active seconds.
    `edits` are (stream, ts in ms, inserted code points), each stream in time order."""
    per_second: dict[tuple[Any, int], list[int]] = {}
    for stream, ts, inserted in edits:
        bucket = per_second.setdefault((stream, ts // 1000), [0, 0])
        bucket[0] += 1
        bucket[1] += inserted
    gaps: list[float] = []
    previous: tuple[Any, int] | None = None
    for key in per_second:  # insertion order is time order within each stream
        if previous is not None and previous[0] == key[0]:
            gaps.append(float(key[1] - previous[1]))
        previous = key
    return {
        "edits_per_active_second": [float(v[0]) for v in per_second.values()],
        "inserted_per_active_second": [float(v[1]) for v in per_second.values()],
        "gap_between_active_seconds_s": gaps,
    }


def trace_activity(traces_dir: Path = DEFAULT_TRACES_DIR) -> dict[str, list[float]] | None:
    """The real traces' activity, or None when the traces are not there (production installs)."""
    from repair.ingest.traces import load_trace

    edits: list[tuple[str, int, int]] = []
    for name in CODE_TRACES:
        path = Path(traces_dir) / f"{name}.json.gz"
        if not path.is_file():
            return None
        for txn in load_trace(path)["txns"][1:]:  # the first holds the starting content
            ts = int(datetime.fromisoformat(txn["time"]).timestamp() * 1000)
            edits.append((name, ts, sum(len(p[2]) for p in txn["patches"])))
    return activity(edits)


def _row(label: str, values: Sequence[float]) -> str:
    return f"| {label} | " + " | ".join(f"{v:g}" for v in quantiles(values)) + " |"


def realism_report(summary: SimulationSummary, traces_dir: Path = DEFAULT_TRACES_DIR) -> tuple[str, dict[str, Any]]:
    """The markdown report and flat metadata for one simulated partition (`SimulationSummary`)."""
    sim = activity((p[0], p[1], p[2]) for p in summary.packets)
    real = trace_activity(traces_dir)
    packet_inserts = [float(p[2]) for p in summary.packets]
    gaps_ms = [float(b[1] - a[1]) for a, b in zip(summary.packets, summary.packets[1:]) if a[0] == b[0]]
    minutes = [s["minutes"] for s in summary.session_stats]
    diags_per_session = [float(s["diagnostics"]) for s in summary.session_stats]
    total_mistakes = sum(summary.mistakes_by_kind.values()) or 1
    rules: Counter[str] = summary.diagnostics_by_rule
    style = sum(n for rule, n in rules.items() if rule.startswith(STYLE_PREFIXES))
    header = "| measure | " + " | ".join(f"p{int(q * 100)}" for q in QUANTILES) + " |"
    rule_line = "|---" * (len(QUANTILES) + 1) + "|"
    lines = [
        f"# Realism report: simulated sessions of {summary.day}",
        "",
        (
            f"{summary.sessions} sessions in {summary.repls} projects; {summary.events} events, of which "
            f"{summary.events_by_kind['ot']} OT packets and {summary.diagnostics} diagnostics "
            f"({summary.lint_states} language-server states linted, {summary.lint_errors} failed)."
        ),
        "",
        "## Typing activity beside the real traces",
        "",
        (
            "Both bucketed to one-second resolution (the traces' timestamps): edits and inserted code points per "
            "active second, and seconds between consecutive active seconds."
        ),
        "",
        header,
        rule_line,
        _row("simulated: packets per active second", sim["edits_per_active_second"]),
        _row("simulated: code points inserted per active second", sim["inserted_per_active_second"]),
        _row("simulated: gap between active seconds (s)", sim["gap_between_active_seconds_s"]),
    ]
    if real is not None:
        lines += [
            _row("real traces: edits per active second", real["edits_per_active_second"]),
            _row("real traces: code points inserted per active second", real["inserted_per_active_second"]),
            _row("real traces: gap between active seconds (s)", real["gap_between_active_seconds_s"]),
        ]
    else:
        lines += ["", f"(real traces not found under {traces_dir}: simulated side only)"]
    lines += [
        "",
        "## Packets and sessions",
        "",
        header,
        rule_line,
        _row("code points inserted per packet", packet_inserts),
        _row("ms between packets (same session)", gaps_ms),
        _row("session length (minutes)", minutes),
        _row("diagnostics per session", diags_per_session),
        "",
        "## Error mix (mistakes typed, by kind)",
        "",
        "| kind | needs understanding | mistakes | share |",
        "|---|---|---|---|",
    ]
    for kind in (*NEEDS_UNDERSTANDING_KINDS, *DETERMINISTIC_FIX_KINDS):
        n = summary.mistakes_by_kind.get(kind, 0)
        lines.append(
            f"| {kind} | {'no' if kind in DETERMINISTIC_FIX_KINDS else 'yes'} | {n} | {n / total_mistakes:.1%} |"
        )
    lines += [
        "",
        "How mistakes ended: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())),
        "",
    ]
    lines += ["## Diagnostics by rule (top 20)", "", "| rule | count |", "|---|---|"]
    lines += [f"| {rule} | {n} |" for rule, n in rules.most_common(20)]
    lines += ["", f"Style rules: {style} of {summary.diagnostics} diagnostics.", ""]
    metadata: dict[str, Any] = {
        "sessions": summary.sessions,
        "repls": summary.repls,
        "events": summary.events,
        "packets": summary.events_by_kind["ot"],
        "diagnostics": summary.diagnostics,
        "style_diagnostics": style,
        "mistakes": sum(summary.mistakes_by_kind.values()),
        "mistake_mix": dict(sorted(summary.mistakes_by_kind.items())),
        "outcomes": dict(sorted(summary.outcomes.items())),
        "session_minutes_p50": quantiles(minutes, [0.5])[0],
        "packet_insert_p50_p99": quantiles(packet_inserts, [0.5, 0.99]),
        "packet_gap_ms_p50_p90": quantiles(gaps_ms, [0.5, 0.9]),
        "sim_edits_per_active_second_p50_p90": quantiles(sim["edits_per_active_second"], [0.5, 0.9]),
        "sim_gap_between_active_seconds_p75_p90": quantiles(sim["gap_between_active_seconds_s"], [0.75, 0.9]),
    }
    if real is not None:
        metadata["real_edits_per_active_second_p50_p90"] = quantiles(
            real["edits_per_active_second"], [0.5, 0.9]
        )
        metadata["real_gap_between_active_seconds_p75_p90"] = quantiles(
            real["gap_between_active_seconds_s"], [0.75, 0.9]
        )
    return "\n".join(lines), metadata
