"""A bucket lists what anyone with write access put there (issue 18 item 4): a shard key that
would leave the store is quarantined with the reason, never read and never a crash; the other
shards are read and every line is accounted for."""

from __future__ import annotations

import json

from repair.ingest.logs import read_partition
from repair.object_store import LocalObjectStore

DAY = "2026-11-20"
EVENT = {"v": 1, "session": "s1", "repl": "r1", "ts": 1, "kind": "shell", "command": "ls"}


class Listing(LocalObjectStore):
    """A store whose listing also names hostile keys (as a GCS bucket may)."""

    def list(self, prefix: str = "") -> list[str]:
        return [*super().list(prefix), f"{prefix}../../escape.jsonl", f"{prefix}a/../../../b.jsonl.gz"]


def test_a_listed_shard_key_that_leaves_the_store_is_quarantined_not_read(tmp_path):
    store = Listing(tmp_path / "store")
    store.write_text(f"sessions/date={DAY}/shard-000.jsonl", json.dumps(EVENT) + "\n")
    (tmp_path / "escape.jsonl").write_text(json.dumps(EVENT) + "\n")  # there to be read, if it were

    partition = read_partition(store, DAY)

    assert partition.events["shard"].to_list() == ["shard-000.jsonl"]
    rows = partition.quarantine.select("shard", "line_no").rows()
    assert rows == [("../../escape.jsonl", 0), ("a/../../../b.jsonl.gz", 0)]
    assert all(r.startswith("unsafe shard key, not read") for r in partition.quarantine["reason"])
    assert partition.lines_read == 3
