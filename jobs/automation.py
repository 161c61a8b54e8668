"""Jobs, the nightly schedule and the new-shards sensor: how the lifecycle runs without anyone
touching it, each day's work done once.

- `full_lifecycle`: every asset of the graph for one day's partition (logs to served model), by hand.
- `data_refresh`: one day's partition from logs to the dataset.
- `ingest_day`: one day's ingest only (logs to error states).
- `train_evaluate_deploy`: tokenizer, training, evaluation and deployment on the current dataset.
- `simulate_day`: the embedded default's session logs for one day (group `embedded`).

Who does what: the sensor `new_session_shards` owns the data. Once a UTC day is over it starts
`data_refresh` for that day, once, and again only if the day's shards change later (late or
re-uploaded shards). The schedule `nightly_training` (02:00 UTC) owns the model: it runs
`train_evaluate_deploy` on the dataset as it stands, and never ingests. The sensor keeps a cursor
(the last complete day it has seen and the fingerprints of the days still in its look-back window),
so each tick lists only a few days' folders, never the whole history.

Runs that ingest carry `repair/ingests` and run one at a time, in the order requested, since a day's
`file_states` starts from the day before; runs that train carry `repair/trains` and also run one at a
time (both limits in dagster.yaml). Steps of the data jobs retry with exponential backoff
(`NETWORK_RETRY`): they read the bucket and call the teacher LM.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from repair_assets._partitions import LOG_HISTORY_START, daily_log_partitions
from resources.object_store import ObjectStoreResource

TRAINS_TAG = {"repair/trains": "true"}
INGESTS_TAG = {"repair/ingests": "true"}
LIFECYCLE_GROUPS = ("ingest", "diagnostics", "synthesis", "dataset", "training", "evaluation", "deployment", "feedback")
DATA_GROUPS = ("ingest", "diagnostics", "synthesis", "dataset")
MODEL_GROUPS = ("training", "evaluation", "deployment")
# A failed read of the bucket or call to the LM is usually transient: 3 more tries, 30 s, 60 s, 120 s.
NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# Shards of a day that arrive this late still start a refresh; older days need a backfill.
LOOKBACK_DAYS = 3
# After the sensor was off, it catches up at most this many days (each one listing).
MAX_CATCHUP_DAYS = 31

full_lifecycle = dg.define_asset_job(
    "full_lifecycle",
    # Preference training (and its evaluation) runs when enough feedback has come in, not every night.
    selection=dg.AssetSelection.groups(*LIFECYCLE_GROUPS) - dg.AssetSelection.assets("dpo_candidate").downstream(),
    partitions_def=daily_log_partitions,
    description="Every asset, for one day of session logs: from raw logs to the served model.",
    tags={**TRAINS_TAG, **INGESTS_TAG},
)

data_refresh = dg.define_asset_job(
    "data_refresh",
    selection=dg.AssetSelection.groups(*DATA_GROUPS),
    partitions_def=daily_log_partitions,
    description="One day's partition from session logs to the training dataset.",
    tags=INGESTS_TAG,
    op_retry_policy=NETWORK_RETRY,
)

ingest_day = dg.define_asset_job(
    "ingest_day",
    selection=dg.AssetSelection.groups("ingest"),
    partitions_def=daily_log_partitions,
    description="One day's ingest only, logs to error states: the day before a first full run, so that "
    "files begun on it replay across days.",
    tags=INGESTS_TAG,
    op_retry_policy=NETWORK_RETRY,
)

train_evaluate_deploy = dg.define_asset_job(
    "train_evaluate_deploy",
    selection=dg.AssetSelection.groups(*MODEL_GROUPS),
    description="Train on the current dataset, evaluate against the serving model, deploy if better.",
    tags=TRAINS_TAG,
)

simulate_day = dg.define_asset_job(
    "simulate_day",
    selection=dg.AssetSelection.groups("embedded"),
    partitions_def=daily_log_partitions,
    description="The embedded default: simulate one day of IDE sessions into the object store.",
    op_retry_policy=NETWORK_RETRY,
)

preference_training = dg.define_asset_job(
    "preference_training",
    selection=dg.AssetSelection.assets("dpo_candidate", "dpo_evaluation"),
    partitions_def=daily_log_partitions,
    description="One day's feedback: DPO of the serving model on the day's preference pairs, then that "
    "candidate against the model it started from through the deployment gate.",
    tags=TRAINS_TAG,
)

nightly_training = dg.ScheduleDefinition(
    name="nightly_training",
    job=train_evaluate_deploy,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="At 02:00 UTC: train on the dataset as the day refreshes left it, evaluate, deploy if "
    "better. Ingest is the new_session_shards sensor's work, never this schedule's.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

_SHARD = re.compile(r"^sessions/date=(\d{4}-\d{2}-\d{2})/[^/]+\.jsonl(\.gz)?$")


def shard_fingerprints(keys: list[str]) -> dict[str, str]:
    """Per day, a fingerprint of the set of shard keys present (a new or re-uploaded shard changes it)."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        match = _SHARD.match(key)
        if match:
            by_day[match.group(1)].append(key)
    return {day: hashlib.sha256("\n".join(sorted(k)).encode()).hexdigest()[:16] for day, k in by_day.items()}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def days_to_look_at(through: str | None, now: datetime) -> list[str]:
    """The complete days a tick lists: from LOOKBACK_DAYS before the first day not yet seen to
    yesterday, at most MAX_CATCHUP_DAYS of them, none before the start of history."""
    yesterday = (now - timedelta(days=1)).date()
    first = yesterday - timedelta(days=LOOKBACK_DAYS - 1)
    if through is not None:
        first = min(
            first, date.fromisoformat(through) + timedelta(days=1) - timedelta(days=LOOKBACK_DAYS - 1)
        )
    first = max(
        first, yesterday - timedelta(days=MAX_CATCHUP_DAYS - 1), date.fromisoformat(LOG_HISTORY_START)
    )
    return [(first + timedelta(days=n)).isoformat() for n in range((yesterday - first).days + 1)]


@dg.sensor(
    job=data_refresh,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts data_refresh once for each UTC day that is over and has session-log shards, and "
    f"again when a day's shards change (up to {LOOKBACK_DAYS} days late); lists only those days' folders.",
)
def new_session_shards(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen: dict[str, str] = cursor.get("fingerprints", {})
    days = days_to_look_at(cursor.get("through"), _utcnow())
    store = object_store.get_store()
    run_requests = []
    for day in days:
        fingerprint = shard_fingerprints(store.list(f"sessions/date={day}/")).get(day)
        if fingerprint is None or seen.get(day) == fingerprint:
            continue
        run_requests.append(dg.RunRequest(run_key=f"{day}:{fingerprint}", partition_key=day))
        seen[day] = fingerprint
    window = set(days[-LOOKBACK_DAYS:])
    new_cursor = json.dumps(
        {"through": days[-1], "fingerprints": {d: f for d, f in sorted(seen.items()) if d in window}},
        sort_keys=True,
    )
    if not run_requests:
        return dg.SensorResult(
            skip_reason=f"no new or changed shards in {days[0]}..{days[-1]}", cursor=new_cursor
        )
    return dg.SensorResult(run_requests=run_requests, cursor=new_cursor)


JOBS = [full_lifecycle, data_refresh, ingest_day, train_evaluate_deploy, simulate_day, preference_training]
LOCAL_ONLY_JOBS = ("simulate_day",)
SCHEDULES = [nightly_training]
SENSORS = [new_session_shards]
