"""The object store as a Dagster resource; the store itself is `repair.object_store` (pure logic)."""

from __future__ import annotations

from enum import StrEnum

import dagster as dg
from pydantic import Field

from repair.object_store import (  # noqa: F401 - re-exported for the Dagster side and older imports
    DEFAULT_LOCAL_ROOT,
    GCSObjectStore,
    LocalObjectStore,
    ObjectStore,
    gcs_client,
    open_store,
)


class StoreBackend(StrEnum):
    # Dagster's config names enum members, so the names are the values operators type.
    local = "local"  # a folder standing in for a bucket
    gcs = "gcs"  # a Google Cloud Storage bucket


class ObjectStoreResource(dg.ConfigurableResource):
    """Where session logs, snapshots and every stage's outputs live.

    `backend: local` keeps objects under `root` (default `.data/store` in the project);
    `backend: gcs` uses `bucket` (and optional `prefix`) through dagster-gcp's client.
    """

    backend: StoreBackend = Field(
        default=StoreBackend.local,
        description="Where objects live: local (a folder) or gcs (a Google Cloud Storage bucket).",
    )
    root: str = Field(
        default=DEFAULT_LOCAL_ROOT, description="local backend: the folder that stands in for the bucket."
    )
    bucket: str = Field(default="", description="gcs backend: the bucket name.")
    prefix: str = Field(
        default="",
        description="gcs backend: a folder inside the bucket that every key lives under; empty: the bucket's root.",
    )
    project: str = Field(
        default="",
        description="gcs backend: the Google Cloud project of the client; empty: the environment's default.",
    )

    def get_store(self) -> ObjectStore:
        if self.backend == "local":
            return LocalObjectStore(self.root)
        if self.backend == "gcs":
            if not self.bucket:
                raise dg.DagsterInvalidConfigError("object_store: backend 'gcs' needs a bucket", [], None)
            return GCSObjectStore(gcs_client(self.project or None), self.bucket, self.prefix)
        raise ValueError(f"object_store: unknown backend {self.backend!r} (use 'local' or 'gcs')")
