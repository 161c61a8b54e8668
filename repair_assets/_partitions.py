"""The one daily partitioning every log-derived asset shares: a partition is one UTC day of
session logs (`sessions/date=YYYY-MM-DD/`). The start date is where history begins; backfills of
many days run in bounded chunks (see jobs/definitions.py)."""

import dagster as dg

LOG_HISTORY_START = "2026-01-01"

daily_log_partitions = dg.DailyPartitionsDefinition(start_date=LOG_HISTORY_START, timezone="UTC")
