"""The object store as a Dagster resource; the store itself is `repair.object_store` (pure logic)."""

from __future__ import annotations

import dagster as dg

from repair.object_store import (  # noqa: F401 - re-exported for the Dagster side and older imports
    DEFAULT_LOCAL_ROOT,
    GCSObjectStore,
    LocalObjectStore,
    ObjectStore,
    gcs_client,
    open_store,
)


class ObjectStoreResource(dg.ConfigurableResource):
    """Where session logs, snapshots and every stage's outputs live.

    `backend: local` keeps objects under `root` (default `.data/store` in the project);
    `backend: gcs` uses `bucket` (and optional `prefix`) through dagster-gcp's client.
    """

    backend: str = "local"
    root: str = DEFAULT_LOCAL_ROOT
    bucket: str = ""
    prefix: str = ""
    project: str = ""

    def get_store(self) -> ObjectStore:
        if self.backend == "local":
            return LocalObjectStore(self.root)
        if self.backend == "gcs":
            if not self.bucket:
                raise dg.DagsterInvalidConfigError("object_store: backend 'gcs' needs a bucket", [], None)
            return GCSObjectStore(gcs_client(self.project or None), self.bucket, self.prefix)
        raise ValueError(f"object_store: unknown backend {self.backend!r} (use 'local' or 'gcs')")
