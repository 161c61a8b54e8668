"""Training targets (issue 20): the settle filter's precision and recall, and every teacher's
agreement with the simulator's ground truth, on one simulated day run through the library
functions the assets call (simulate -> ingest -> reproduce with the settle filter -> search and
user-fix teachers -> verification -> dataset examples).

`uv run python -m benchmarks bench_targets` writes the section "## Training targets" of
benchmarks/RESULTS.md. The day is set up as `repair demo` sets it up: projects begun the day before
continue, their files replayed from that day's end (`file_states`). BENCH_TARGETS_SESSIONS (default
120, the demo's) sets each day's size, BENCH_TARGETS_SEED (default 0) the seed, BENCH_TARGETS_DAY
the day (default 2026-11-30). BENCH_TARGETS_STORE measures on a store that already holds both days'
session logs and ground truth (a copy of the demo's `.data/store`: its very day) instead of
simulating them; BENCH_TARGETS_NO_WRITE=1 only prints; BENCH_TARGETS_EXAMPLES=<file> also writes the
dataset examples (prompt, response, teacher, rule, settled_by, agrees_with_truth) as JSON lines, for
reading them.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from benchmarks import results
from benchmarks.results import load_words
from repair import dataset as ds
from repair.ground_truth import TruthIndex, filter_quality, read_ground_truth, reproduction_quality
from repair.ingest import blobs_key, load_context
from repair.ingest.frames import write_frame
from repair.ingest.logs import read_partition
from repair.ingest.states import build_error_states, end_of_day, starts_from
from repair.ingest.timelines import build_timelines
from repair.lint import WarmLinter
from repair.object_store import LocalObjectStore, ObjectStore
from repair.reproduce import REASONS, ReproduceSettings, reproduce
from repair.settle import DEFAULT_EVIDENCE, EVIDENCE, SettleSettings, settle
from repair.simulate import SimulationConfig, simulate_partition
from repair.teachers import pipeline
from repair.teachers.search import SearchRepairer
from repair.verify import ACCEPTED, Verifier

SECTION = "## Training targets"
DAY = "2026-11-30"


@dataclass
class TargetsRun:
    """What one measured day gives: the figures, and the rows behind them for inspection."""

    day: str
    two_days: bool
    sessions: int
    diagnostics: int
    counts: dict[str, int]
    quality: dict[str, dict[str, Any]]
    teachers: list[dict[str, Any]]
    verified: list[dict[str, Any]]
    states: dict[str, dict[str, Any]]
    examples: list[dict[str, Any]]  # one per diagnostic, as the dataset builds them, with agreement
    index: TruthIndex
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def user_fix_drops(self) -> dict[str, int]:
        notes = [r["note"] or "" for r in self.verified if r["teacher"] == "user_fix"]
        reasons = {"noisy": pipeline.NOISY_DROPPED, **pipeline.NOT_A_FIX}
        return {reason: sum(n.startswith(prefix) for n in notes) for reason, prefix in reasons.items()}

    @property
    def dataset_truth(self) -> tuple[int, int, int]:
        """(examples, examples the ground truth covers, covered examples whose target agrees)."""
        covered = [e for e in self.examples if e["agrees_with_truth"] is not None]
        return len(self.examples), len(covered), sum(bool(e["agrees_with_truth"]) for e in covered)


def every_evidence(records, settle_input, timelines, index: TruthIndex) -> dict[str, Any]:
    """The settle step with every kind of evidence on, per the first that settles each row (in
    `EVIDENCE` order: a row under `pause` had no save, run, cursor move or file switch): what the
    kinds left out of `DEFAULT_EVIDENCE` would add."""
    reached = [records[i] for i in settle_input]
    found = [evidence for evidence, _ in settle(reached, timelines, SettleSettings(evidence=EVIDENCE))]
    return filter_quality(reached, [e is not None for e in found], index, [e or "(unsettled)" for e in found])


def lost_mistakes(records, dropped, kept_ids: set[str], index: TruthIndex) -> Counter[str]:
    """The recorded mistakes with a logged diagnostic that the stage keeps none of, by the furthest
    step any of their diagnostics reached (`repair.reproduce.REASONS` order)."""
    reason = dict(zip(dropped["diagnostic_id"].to_list(), dropped["reason"].to_list(), strict=True))
    reached: dict[int, int] = {}
    held = set()
    for row in records:
        owner = index.mistake_of(row)
        if owner is None:
            continue
        if row["diagnostic_id"] in kept_ids:
            held.add(owner)
        elif row["diagnostic_id"] in reason:
            reached[owner] = max(reached.get(owner, -1), REASONS.index(reason[row["diagnostic_id"]]))
    return Counter(REASONS[step] for owner, step in reached.items() if owner not in held)


def day_before(day: str) -> str:
    return (datetime.fromisoformat(day) - timedelta(days=1)).strftime("%Y-%m-%d")


def measure(
    store: ObjectStore,
    sessions: int,
    seed: int = 0,
    day: str = DAY,
    say: Callable[[str], None] = print,
    *,
    two_days: bool = False,
    simulate: bool = True,
) -> TargetsRun:
    """Measures `day`. `two_days`: as the demo, the day before is simulated too (unless `simulate`
    is False: the store holds both days) and its files carried into `day`."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    days = [day_before(day), day] if two_days else [day]
    if simulate:
        for simulated in days:
            simulate_partition(store, SimulationConfig(day=simulated, sessions=sessions, seed=seed), progress=say)
    seconds["simulate"] = time.perf_counter() - started

    started = time.perf_counter()
    starts = {}
    if two_days:
        before = build_timelines(read_partition(store, days[0]).events)
        starts = starts_from(end_of_day(before, None, days[0]).states)
    timelines = build_timelines(read_partition(store, day).events)
    built = build_error_states(timelines, starts=starts)
    write_frame(store, blobs_key(day), built.blobs)
    contexts = load_context(store, day, built.states)
    outcome = reproduce(built.states, contexts, ReproduceSettings(), timelines=timelines)
    index = TruthIndex(*read_ground_truth(store, day))
    kept_ids = set(outcome.kept["diagnostic_id"].to_list())
    records = built.states.to_dicts()
    quality = reproduction_quality(records, outcome.settle_input, outcome.settled_by, kept_ids, index)
    quality["every_evidence"] = every_evidence(records, outcome.settle_input, timelines, index)
    quality["lost"] = lost_mistakes(records, outcome.dropped, kept_ids, index)
    seconds["ingest and reproduce"] = time.perf_counter() - started
    say(f"reproduced: {outcome.counts}")

    started = time.perf_counter()
    states_frame, _ = pipeline.one_per_diagnostic_id(outcome.kept.sort("diagnostic_id", "source", "message"))
    rows = states_frame.to_dicts()
    row_contexts = load_context(store, day, states_frame) if rows else []
    states = {row["diagnostic_id"]: row for row in rows}
    by_id_context = {row["diagnostic_id"]: c for row, c in zip(rows, row_contexts, strict=True)}

    def report(teacher: str) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                say(f"{teacher}: {done}/{total} ({time.perf_counter() - started:.0f} s)")

        return progress

    with WarmLinter() as warm:
        verifier = Verifier(warm)
        candidates = list(
            pipeline.search_candidates(rows, row_contexts, SearchRepairer(verifier), report("search"))
        )
        packets = pipeline.ot_packets_by_file(timelines)
        candidates += list(
            pipeline.mine_candidates(rows, row_contexts, packets, verifier, progress=report("user_fix"))
        )
        candidate_rows = [
            {**c, **{k: states[c["diagnostic_id"]][k] for k in pipeline.STATE_COLUMNS}} for c in candidates
        ]
        verified = pipeline.verify_rows(candidate_rows, states, by_id_context, verifier, report("verify"))
    seconds["teachers and verification"] = time.perf_counter() - started
    agreement = [pipeline.agrees(row, states[row["diagnostic_id"]], index) for row in verified]
    has_truth = [index.truth_of(states[row["diagnostic_id"]]) is not None for row in verified]
    teachers = pipeline.teacher_table(verified, agreement, has_truth)
    verified = [{**row, "agrees_with_truth": a} for row, a in zip(verified, agreement, strict=True)]
    examples, _, _ = ds.build_examples(verified)
    return TargetsRun(
        day=day,
        two_days=two_days,
        sessions=sessions,
        diagnostics=built.states.height,
        counts=outcome.counts,
        quality=quality,
        teachers=teachers,
        verified=verified,
        states=states,
        examples=examples,
        index=index,
        seconds=seconds,
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _quality_rows(groups: dict[str, dict[str, Any]], label: str) -> list[str]:
    lines = [
        f"| {label} | rows | kept | mistake | as written | unexplained | precision | recall (mistakes kept) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, f in groups.items():
        lines.append(
            f"| {name} | {f['rows']} | {f['kept']} | {f['kept_mistake']} | {f['kept_as_written']} | "
            f"{f['kept_unexplained']} | {_pct(f['precision'])} | {_pct(f['recall'])} ({f['mistakes_kept']}/{f['mistakes']}) |"
        )
    return lines


def render(run: TargetsRun, load: tuple[float, float], wall: float, origin: str) -> str:
    settle, kept = run.quality["settle"]["overall"], run.quality["kept"]["overall"]
    examples, covered, agreeing = run.dataset_truth
    search = next((t for t in run.teachers if t["teacher"] == "search"), {})
    accepted = sum(r["verdict"] == ACCEPTED for r in run.verified)
    lines = [
        SECTION,
        "",
        (
            f"Command: `uv run python -m benchmarks bench_targets` (BENCH_TARGETS_SESSIONS={run.sessions}, seed "
            f"{os.environ.get('BENCH_TARGETS_SEED', '0')}, day {run.day}"
            + (" after the day before, as `repair demo` runs it" if run.two_days else "")
            + f"; {origin}); machine: {platform.machine()} "
            f"{os.cpu_count()}-core CPU, {load_words(*load)}; date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
            f"wall {wall / 60:.1f} min ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in run.seconds.items())
            + "). Written by the script; the library functions are the ones the assets call."
        ),
        "",
        (
            f"**Errors the user saw** (`reproduced_diagnostics`, settle filter). {run.diagnostics} logged diagnostics; "
            f"reproduction kept {run.counts['kept']} and dropped {run.counts['unsettled']} as `unsettled`. "
            "Precision = kept diagnostics that belong to a recorded mistake (the issue's definition); explained "
            "share = those that belong to a mistake or to the code as the user meant it (`ground_truth_as_written`: "
            "real errors the user leaves, with no fix to learn); recall = recorded mistakes with a logged diagnostic "
            "that keep at least one."
        ),
        "",
        "| measured on | kept | precision | explained share | recall |",
        "| --- | --- | --- | --- | --- |",
        (
            f"| the settle step (every republished copy) | {settle['kept']} of {settle['rows']} | {_pct(settle['precision'])} | "
            f"{_pct(settle['explained_share'])} | {_pct(settle['recall'])} ({settle['mistakes_kept']}/{settle['mistakes']}) |"
        ),
        (
            f"| the stage's output (one state per mistake, every filter) | {kept['kept']} | {_pct(kept['precision'])} | "
            f"{_pct(kept['explained_share'])} | {_pct(kept['recall'])} ({kept['mistakes_kept']}/{kept['mistakes']}) |"
        ),
        "",
        (
            f"Settle evidence in use: {', '.join(DEFAULT_EVIDENCE)} (`DEFAULT_EVIDENCE`). Per settle evidence "
            "(the first that settled each row):"
        ),
        "",
        *_quality_rows(run.quality["settle"]["per_group"], "evidence"),
        "",
        (
            "With every kind of evidence on (the first in `EVIDENCE` order, so `moved_on`, `pause` and `dwell` rows "
            "are those no act of the user settled): what the kinds left out would add."
        ),
        "",
        *_quality_rows(run.quality["every_evidence"]["per_group"], "evidence"),
        "",
        (
            "Recorded mistakes the stage keeps no diagnostic of, by the furthest step any of their diagnostics "
            "reached: "
            + (", ".join(f"`{reason}` {n}" for reason, n in run.quality["lost"].most_common()) or "none")
            + ". `style_only` and `deterministic_fix` are by design (no fix to learn that a linter does not "
            "give); `left_unfixed` are mistakes the user never fixed that no name one slip away explains."
        ),
        "",
        (
            "Per rule (the stage's output: the rows it keeps, every filter; rules whose rows it keeps none of and "
            "that hold no mistake left out):"
        ),
        "",
        *_quality_rows(
            {rule: f for rule, f in run.quality["kept_by_rule"]["per_group"].items() if f["kept"] or f["mistakes"]},
            "rule",
        ),
        "",
        "Per rule (the settle step):",
        "",
        *_quality_rows(run.quality["settle_by_rule"]["per_group"], "rule"),
        "",
        (
            f"**Teachers against the truth** (`verified_repairs`, every kept diagnostic: {len(run.states)}; "
            f"{accepted} accepted candidates). truth_diagnostics: diagnostics that belong to a recorded mistake; "
            "truth_covered: of those, the teacher's fix verified; truth_agreement: covered fixes making the "
            "mistake's clean fix; truth_solved_share: agreeing fixes over truth_diagnostics."
        ),
        "",
        pipeline.markdown_table(run.teachers),
        "",
        (
            "User changes that removed the diagnostic but are not taught (`repair.teachers.user_fix`): "
            + ", ".join(f"{reason} {n}" for reason, n in run.user_fix_drops.items())
            + "."
        ),
        "",
        (
            f"**Dataset targets** (one accepted repair per diagnostic, as `repair_dataset` picks them, before "
            f"splitting and near-duplicate removal): {examples} examples, {covered} with ground truth "
            f"({_pct(covered / examples if examples else None)}), of which {agreeing} agree "
            f"({_pct(agreeing / covered if covered else None)})."
        ),
        "",
        (
            f"Targets: precision >= 90 % with recall >= 80 % (the stage's output: measured "
            f"{_pct(kept['precision'])}, {_pct(kept['recall'])}); search agreement >= 90 % on covered rows "
            f"(measured {_pct(search.get('truth_agreement'))}); dataset rows agreeing >= 85 % of those with truth "
            f"(measured {_pct(agreeing / covered if covered else None)})."
        ),
    ]
    return "\n".join(lines)


write_section = partial(results.write_section, SECTION)


def main() -> None:
    sessions = int(os.environ.get("BENCH_TARGETS_SESSIONS", "120"))
    seed = int(os.environ.get("BENCH_TARGETS_SEED", "0"))
    day = os.environ.get("BENCH_TARGETS_DAY", DAY)
    existing = os.environ.get("BENCH_TARGETS_STORE")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    say = partial(print, flush=True)
    if existing:
        run = measure(LocalObjectStore(existing), sessions, seed, day, say, two_days=True, simulate=False)
        origin = "the session logs and ground truth of the demo's store, copied"
    else:
        with tempfile.TemporaryDirectory(prefix="bench-targets-") as root:
            run = measure(LocalObjectStore(root), sessions, seed, day, say, two_days=True)
        origin = "simulated by the script"
    if dump := os.environ.get("BENCH_TARGETS_EXAMPLES"):
        with open(dump, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(example) + "\n" for example in run.examples)
    body = render(run, (load_before, os.getloadavg()[0]), time.perf_counter() - started, origin)
    print(body)
    if os.environ.get("BENCH_TARGETS_NO_WRITE") != "1":
        write_section(body)


if __name__ == "__main__":
    main()
