"""The Spark engine for error states: the same `replay_group` as the polars engine, run on
executors over the packets, state requests and start-of-day states cogrouped by (repl, file)."""

from __future__ import annotations

from repair.ingest.states import PACKET_COLUMNS, GroupResult, Plan, replay_group

PACKETS_DDL = "repl string, file string, version long, ts long, shard string, line_no long, event string"


def _replay(item, check_crc: bool) -> GroupResult:
    (repl, file), (packets, requests, starts) = item
    start = next(iter(starts), None)
    return replay_group(repl, file, list(packets), list(requests), check_crc, start)


def replay_spark(spark, the_plan: Plan, check_crc: bool = True) -> list[GroupResult]:
    """Packets become a Spark DataFrame (Arrow), keyed and cogrouped with the requests and the files'
    states at the start of the day; each group is replayed on an executor and the per-file results
    come back to the driver."""
    packets = spark.createDataFrame(the_plan.packets.to_arrow(), schema=PACKETS_DDL)
    keyed_packets = packets.rdd.map(lambda r: ((r["repl"], r["file"]), tuple(r[c] for c in PACKET_COLUMNS)))
    context = spark.sparkContext
    keyed_requests = context.parallelize(
        [(key, request) for key, rows in sorted(the_plan.requests.items()) for request in rows]
    )
    keyed_starts = context.parallelize(sorted(the_plan.starts.items()))
    results = (
        keyed_packets.groupWith(keyed_requests, keyed_starts)
        .map(lambda item: _replay(item, check_crc))
        .collect()
    )
    return sorted(results, key=lambda r: (r.repl, r.file))
