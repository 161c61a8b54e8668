"""The Spark engine for error states: the same `replay_group` as the polars engine, run on
executors over the packets and state requests cogrouped by (repl, file)."""

from __future__ import annotations

from repair.ingest.states import PACKET_COLUMNS, GroupResult, Plan, replay_group

PACKETS_DDL = "repl string, file string, version long, ts long, shard string, line_no long, event string"


def _replay(item, check_crc: bool) -> GroupResult:
    (repl, file), (packets, requests) = item
    return replay_group(repl, file, list(packets), list(requests), check_crc)


def replay_spark(spark, the_plan: Plan, check_crc: bool = True) -> list[GroupResult]:
    """Packets become a Spark DataFrame (Arrow), keyed and cogrouped with the requests; each group is
    replayed on an executor and the per-file results come back to the driver."""
    packets = spark.createDataFrame(the_plan.packets.to_arrow(), schema=PACKETS_DDL)
    keyed_packets = packets.rdd.map(lambda r: ((r["repl"], r["file"]), tuple(r[c] for c in PACKET_COLUMNS)))
    keyed_requests = spark.sparkContext.parallelize(
        [(key, request) for key, rows in sorted(the_plan.requests.items()) for request in rows]
    )
    results = keyed_packets.cogroup(keyed_requests).map(lambda item: _replay(item, check_crc)).collect()
    return sorted(results, key=lambda r: (r.repl, r.file))
