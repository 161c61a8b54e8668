"""An IO manager that keeps asset values in the object store, so that local and production runs
read and write the same layout: `assets/<asset key>/<partition or "all">.<parquet|json>`.

polars DataFrames go to Parquet; dicts and lists to JSON; typed records (`repair.registry`'s
`VersionRecord`, `repair.deployment`'s `DeploymentRecord`) to JSON that loads back as the record. An unpartitioned asset that reads several
partitions of a partitioned one gets them concatenated (a DataFrame) or keyed by partition (JSON).

Partition ranges (a backfill run of several days): an asset that handles a range returns a
`ByPartition` (one value per day of the run) and reads its inputs the same way by declaring
`dg.AssetIn(metadata=BY_PARTITION)`; `PREVIOUS_PARTITION` reads only the earliest mapped partition
(yesterday's value, None when it was never materialized) for an asset that carries state forward.
"""

from __future__ import annotations

import io
import json

import dagster as dg
import polars as pl
from pydantic import Field

from repair.deployment import DeploymentRecord
from repair.registry import VersionRecord
from resources.object_store import ObjectStoreResource


def _asset_prefix(asset_key: dg.AssetKey) -> str:
    return "assets/" + "/".join(asset_key.path)


class ByPartition(dict):
    """One value per partition key: what an asset that handles a partition range returns, and what
    an input declared with `BY_PARTITION` receives (partitions never materialized are absent)."""


# Records stored as JSON with a `record_type` and loaded back as themselves.
RECORD_TYPES = {cls.__name__: cls for cls in (VersionRecord, DeploymentRecord)}
LOAD_MODE = "repair/partitions"
BY_PARTITION = {LOAD_MODE: "by_partition"}
PREVIOUS_PARTITION = {LOAD_MODE: "earliest"}


class ObjectStoreIOManager(dg.ConfigurableIOManager):
    object_store: ObjectStoreResource = Field(
        description="The object store asset values are kept in (assets/<key>/<partition>.parquet|json)."
    )

    def _key(self, asset_key: dg.AssetKey, partition: str | None, ext: str) -> str:
        return f"{_asset_prefix(asset_key)}/{partition or 'all'}.{ext}"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        # An unpartitioned asset in a partitioned run (the dataset in `full_lifecycle`) has no partition
        # of its own: the run's partition key must not leak into where its value is stored.
        if not context.has_asset_partitions:
            self._store(context, obj, None)
            return
        keys = list(context.asset_partition_keys)
        if isinstance(obj, ByPartition):
            if set(obj) != set(keys):
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: returned values for {sorted(obj)} in a run of "
                    f"partitions {keys}"
                )
            for key in keys:
                self._store(context, obj[key], key)
        elif len(keys) == 1:
            self._store(context, obj, keys[0])
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: a run of {len(keys)} partitions ({keys[0]}...{keys[-1]}) "
                "needs one value per partition (return a ByPartition)"
            )

    def _store(self, context: dg.OutputContext, obj, partition: str | None) -> None:
        store = self.object_store.get_store()
        if isinstance(obj, tuple(RECORD_TYPES.values())):
            obj = obj.to_dict()
        if isinstance(obj, pl.DataFrame):
            buf = io.BytesIO()
            obj.write_parquet(buf)
            key = self._key(context.asset_key, partition, "parquet")
            store.write_bytes(key, buf.getvalue())
            if partition is None or len(context.asset_partition_keys) == 1:
                context.add_output_metadata(
                    {"rows": obj.height, "location": dg.MetadataValue.url(store.uri(key))}
                )
        elif isinstance(obj, (dict, list)):
            key = self._key(context.asset_key, partition, "json")
            store.write_text(key, json.dumps(obj, indent=1, sort_keys=True, default=str))
            if partition is None or len(context.asset_partition_keys) == 1:
                context.add_output_metadata({"location": dg.MetadataValue.url(store.uri(key))})
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the object-store IO manager stores polars "
                f"DataFrames, dicts and lists, not {type(obj).__name__}"
            )

    def _load_one(self, asset_key: dg.AssetKey, partition: str | None):
        store = self.object_store.get_store()
        parquet = self._key(asset_key, partition, "parquet")
        if store.exists(parquet):
            return pl.read_parquet(io.BytesIO(store.read_bytes(parquet)))
        as_json = self._key(asset_key, partition, "json")
        if store.exists(as_json):
            value = json.loads(store.read_text(as_json))
            if isinstance(value, dict) and value.get("record_type") in RECORD_TYPES:
                return RECORD_TYPES[value["record_type"]].from_dict(value)
            return value
        where = f"partition {partition}" if partition else "its unpartitioned value"
        raise FileNotFoundError(
            f"{asset_key.to_user_string()} has no stored value for {where} in {store.uri(_asset_prefix(asset_key))};"
            " materialize it first"
        )

    def load_input(self, context: dg.InputContext):
        asset_key = context.asset_key
        if not context.has_asset_partitions:
            return self._load_one(asset_key, None)
        keys = sorted(context.asset_partition_keys)
        mode = (context.definition_metadata or {}).get(LOAD_MODE)
        if mode == "earliest":
            return self._load_existing(asset_key, keys[:1]).get(keys[0]) if keys else None
        if mode == "by_partition":
            return ByPartition(self._load_existing(asset_key, keys))
        if len(keys) == 1 and context.has_partition_key:
            return self._load_one(asset_key, keys[0])
        # A daily-partitioned upstream read whole: days never materialized are skipped, not fatal.
        loaded = self._load_existing(asset_key, keys)
        if not loaded:
            raise FileNotFoundError(
                f"{asset_key.to_user_string()}: none of its {len(keys)} partitions is materialized"
            )
        frames = [v for v in loaded.values() if isinstance(v, pl.DataFrame)]
        if frames and len(frames) == len(loaded):
            return pl.concat(frames, how="diagonal_relaxed")
        return loaded

    def _load_existing(self, asset_key: dg.AssetKey, keys: list[str]) -> dict:
        """The stored value of each of `keys` that was materialized, by key."""
        loaded = {}
        for key in keys:
            try:
                loaded[key] = self._load_one(asset_key, key)
            except FileNotFoundError:
                continue
        return loaded
