"""The object store as a Dagster resource; the store itself is `repair.object_store` (pure logic)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

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
from resources.settings import EnvSettings, FromEnv


class StoreBackend(StrEnum):
    # Dagster's config names enum members, so the names are the values operators type.
    local = "local"  # a folder standing in for a bucket
    gcs = "gcs"  # a Google Cloud Storage bucket


class ObjectStoreResource(EnvSettings, dg.ConfigurableResource):
    """Where session logs, snapshots and every stage's outputs live.

    `backend: local` keeps objects under `root` (default `.data/store` in the project);
    `backend: gcs` uses `bucket` (and optional `prefix`) through dagster-gcp's client.
    """

    FROM_ENV: ClassVar[dict[str, FromEnv]] = {
        "root": FromEnv("REPAIR_STORE_ROOT", DEFAULT_LOCAL_ROOT),
        "prefix": FromEnv("REPAIR_GCS_PREFIX", ""),
        "project": FromEnv("REPAIR_GCP_PROJECT", ""),
    }

    backend: StoreBackend = Field(
        default=StoreBackend.local,
        description="Where objects live: local (a folder) or gcs (a Google Cloud Storage bucket).",
    )
    root: str | None = Field(
        default=None,
        description=f"local backend: the folder that stands in for the bucket; empty: $REPAIR_STORE_ROOT when "
        f"the run reads it, else {DEFAULT_LOCAL_ROOT}.",
    )
    bucket: str = Field(default="", description="gcs backend: the bucket name.")
    prefix: str | None = Field(
        default=None,
        description="gcs backend: a folder inside the bucket that every key lives under; empty: $REPAIR_GCS_PREFIX, "
        "else the bucket's root.",
    )
    project: str | None = Field(
        default=None,
        description="gcs backend: the Google Cloud project of the client; empty: $REPAIR_GCP_PROJECT, else the "
        "environment's default.",
    )

    def get_store(self) -> ObjectStore:
        if self.backend == "local":
            return LocalObjectStore(self.setting("root"))
        if self.backend == "gcs":
            if not self.bucket:
                raise dg.DagsterInvalidConfigError("object_store: backend 'gcs' needs a bucket", [], None)
            return GCSObjectStore(gcs_client(self.setting("project") or None), self.bucket, self.setting("prefix"))
        raise ValueError(f"object_store: unknown backend {self.backend!r} (use 'local' or 'gcs')")
