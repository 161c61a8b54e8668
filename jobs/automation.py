"""Jobs, the nightly schedule and the new-shards sensor: how the lifecycle runs without anyone
touching it.

- `full_lifecycle`: every asset of the graph for one day's partition (logs to served model).
- `data_refresh`: one day's partition from logs to the dataset.
- `train_evaluate_deploy`: tokenizer, training, evaluation and deployment on the current dataset.
- `simulate_day`: the embedded default's session logs for one day (group `embedded`).
- `nightly_lifecycle` (02:00 UTC): `full_lifecycle` for the day that just ended.
- `new_session_shards`: starts `data_refresh` for a day whose shards appear or change in the store.

Runs that train carry the `repair/trains` tag; the instance (dagster.yaml) runs at most one of them
at a time, and the `training` pool keeps the training step itself exclusive, so nightly and manual
runs never collide.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, datetime

import dagster as dg

from repair_assets._partitions import daily_log_partitions
from resources.object_store import ObjectStoreResource

TRAINS_TAG = {"repair/trains": "true"}
LIFECYCLE_GROUPS = ("ingest", "diagnostics", "synthesis", "dataset", "training", "evaluation", "deployment")

full_lifecycle = dg.define_asset_job(
    "full_lifecycle",
    selection=dg.AssetSelection.groups(*LIFECYCLE_GROUPS),
    partitions_def=daily_log_partitions,
    description="Every asset, for one day of session logs: from raw logs to the served model.",
    tags=TRAINS_TAG,
)

data_refresh = dg.define_asset_job(
    "data_refresh",
    selection=dg.AssetSelection.groups("ingest", "diagnostics", "synthesis", "dataset"),
    partitions_def=daily_log_partitions,
    description="One day's partition from session logs to the training dataset.",
)

train_evaluate_deploy = dg.define_asset_job(
    "train_evaluate_deploy",
    selection=dg.AssetSelection.groups("training", "evaluation", "deployment"),
    description="Train on the current dataset, evaluate against the serving model, deploy if better.",
    tags=TRAINS_TAG,
)

simulate_day = dg.define_asset_job(
    "simulate_day",
    selection=dg.AssetSelection.groups("embedded"),
    partitions_def=daily_log_partitions,
    description="The embedded default: simulate one day of IDE sessions into the object store.",
)

nightly_lifecycle = dg.build_schedule_from_partitioned_job(
    full_lifecycle,
    name="nightly_lifecycle",
    hour_of_day=2,
    minute_of_hour=0,
    description="At 02:00 UTC: the previous day's logs all the way to a served model.",
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


@dg.sensor(
    job=data_refresh,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts data_refresh for each day whose session-log shards land (or change) in the store.",
)
def new_session_shards(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = shard_fingerprints(object_store.get_store().list("sessions/"))
    valid_days = set(daily_log_partitions.get_partition_keys(current_time=datetime.now(UTC)))
    run_requests, skipped = [], []
    for day, fingerprint in sorted(current.items()):
        if seen.get(day) == fingerprint:
            continue
        if day not in valid_days:
            skipped.append(day)
            continue
        run_requests.append(dg.RunRequest(run_key=f"{day}:{fingerprint}", partition_key=day))
        seen[day] = fingerprint
    if not run_requests:
        reason = "no new or changed shards"
        if skipped:
            reason += f"; days outside the partition range ignored: {', '.join(skipped)}"
        return dg.SkipReason(reason)
    return dg.SensorResult(run_requests=run_requests, cursor=json.dumps(seen, sort_keys=True))


JOBS = [full_lifecycle, data_refresh, train_evaluate_deploy, simulate_day]
LOCAL_ONLY_JOBS = ("simulate_day",)
SCHEDULES = [nightly_lifecycle]
SENSORS = [new_session_shards]
