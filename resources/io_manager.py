"""An IO manager that keeps asset values in the object store, so that local and production runs
read and write the same layout: `assets/<asset key>/<partition or "all">.<parquet|json>`.

polars DataFrames go to Parquet; dicts and lists to JSON; version records (`repair.registry`) to
JSON that loads back as the record. An unpartitioned asset that reads several
partitions of a partitioned one gets them concatenated (a DataFrame) or keyed by partition (JSON).
"""

from __future__ import annotations

import io
import json

import dagster as dg
import polars as pl

from repair.registry import VersionRecord
from resources.object_store import ObjectStoreResource


def _asset_prefix(asset_key: dg.AssetKey) -> str:
    return "assets/" + "/".join(asset_key.path)


class ObjectStoreIOManager(dg.ConfigurableIOManager):
    object_store: ObjectStoreResource

    def _key(self, asset_key: dg.AssetKey, partition: str | None, ext: str) -> str:
        return f"{_asset_prefix(asset_key)}/{partition or 'all'}.{ext}"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        store = self.object_store.get_store()
        if isinstance(obj, VersionRecord):
            obj = obj.to_dict()
        # An unpartitioned asset in a partitioned run (the dataset in `full_lifecycle`) has no partition
        # of its own: the run's partition key must not leak into where its value is stored.
        partition = context.asset_partition_key if context.has_asset_partitions else None
        if isinstance(obj, pl.DataFrame):
            buf = io.BytesIO()
            obj.write_parquet(buf)
            key = self._key(context.asset_key, partition, "parquet")
            store.write_bytes(key, buf.getvalue())
            context.add_output_metadata({"rows": obj.height, "location": dg.MetadataValue.url(store.uri(key))})
        elif isinstance(obj, (dict, list)):
            key = self._key(context.asset_key, partition, "json")
            store.write_text(key, json.dumps(obj, indent=1, sort_keys=True, default=str))
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
            if isinstance(value, dict) and value.get("record_type") == "VersionRecord":
                return VersionRecord.from_dict(value)
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
        keys = list(context.asset_partition_keys)
        if len(keys) == 1 and context.has_partition_key:
            return self._load_one(asset_key, keys[0])
        # A daily-partitioned upstream read whole: days never materialized are skipped, not fatal.
        loaded = {}
        for key in sorted(keys):
            try:
                loaded[key] = self._load_one(asset_key, key)
            except FileNotFoundError:
                context.log.debug(f"{asset_key.to_user_string()}: partition {key} not materialized, skipped")
        if not loaded:
            raise FileNotFoundError(
                f"{asset_key.to_user_string()}: none of its {len(keys)} partitions is materialized"
            )
        frames = [v for v in loaded.values() if isinstance(v, pl.DataFrame)]
        if frames and len(frames) == len(loaded):
            return pl.concat(frames, how="diagonal_relaxed")
        return loaded
