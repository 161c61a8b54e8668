"""One object-store interface, two backends: a local directory (embedded default) and Google Cloud
Storage. Keys are `/`-separated paths relative to the store's root (e.g.
`sessions/date=2026-11-25/shard-000.jsonl.gz`). Pure logic, no Dagster:
`resources.object_store.ObjectStoreResource` wraps it for assets.
"""

from __future__ import annotations

import io
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class ObjectStore(ABC):
    """The operations every stage needs from a bucket."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key under `prefix`, sorted."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """Where a key lives, for people and metadata (`file:///...` or `gs://...`)."""

    @abstractmethod
    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Writes `key` only if no object has that key yet; False (nothing written) when one has.
        Two writers racing for the same key: exactly one gets True (how versions are claimed)."""

    @abstractmethod
    def location(self) -> StoreLocation:
        """Where this store is, as a plain value another process (a Spark executor) opens itself."""

    def open_read(self, key: str) -> BinaryIO:
        """The object as a binary stream, for readers that must not hold it whole in memory."""
        return io.BytesIO(self.read_bytes(key))

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def upload_dir(self, local_dir: str | os.PathLike, prefix: str) -> list[str]:
        """Copies a local folder under `prefix`; returns the keys written."""
        local_dir = Path(local_dir)
        keys = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(local_dir).as_posix()}"
            self.write_bytes(key, path.read_bytes())
            keys.append(key)
        return keys

    def download_dir(self, prefix: str, local_dir: str | os.PathLike) -> Path:
        """Copies every key under `prefix` into a local folder (for tools that need files)."""
        local_dir = Path(local_dir)
        prefix = prefix.rstrip("/") + "/"
        keys = self.list(prefix)
        if not keys:
            raise FileNotFoundError(f"nothing stored under {self.uri(prefix)}")
        # Keys come from a listing (a bucket anyone with write access fills): every one must land
        # inside local_dir before anything is written.
        root = local_dir.resolve()
        for key in keys:
            relative = key[len(prefix) :]
            if (
                not relative
                or relative.startswith("/")
                or "\\" in relative
                or {"", ".", ".."} & set(relative.split("/"))
                or not (root / relative).resolve().is_relative_to(root)
            ):
                raise ValueError(
                    f"refusing to download {self.uri(key)}: its key would land outside {local_dir}"
                )
        for key in keys:
            target = local_dir / key[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_bytes(key))
        return local_dir


def check_key(key: str) -> str:
    """`key`, or `ValueError` when it would leave the store (absolute, or a `..` segment)."""
    if key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"object key must be relative and stay inside the store: {key!r}")
    return key


class LocalObjectStore(ObjectStore):
    """A directory on disk standing in for a bucket."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {self.uri(key)}")
        return path.read_bytes()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {self.uri(key)}")
        return path.open("rb")

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers never see half an object

    def create_exclusive(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return True

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / check_key(prefix) if prefix else self.root
        # A prefix may end inside a name (`sessions/date=2026-11-2`), so walk from its folder.
        walk_from = base if base.is_dir() else base.parent
        if not walk_from.exists():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in walk_from.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith("."))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def uri(self, key: str = "") -> str:
        return (self.root / key).as_uri() if key else self.root.as_uri()

    def location(self) -> StoreLocation:
        return StoreLocation(str(self.root))


class GCSObjectStore(ObjectStore):
    """A Google Cloud Storage bucket, optionally under a key prefix."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket_name = bucket
        self.bucket = client.bucket(bucket)
        self.prefix = prefix.strip("/")

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def read_bytes(self, key: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(self._name(key)).download_as_bytes()
        except NotFound as exc:
            raise FileNotFoundError(f"no object {self.uri(key)}") from exc

    def open_read(self, key: str) -> BinaryIO:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(self._name(key)).open("rb")
        except NotFound as exc:
            raise FileNotFoundError(f"no object {self.uri(key)}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        self.bucket.blob(self._name(key)).upload_from_string(data)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        try:
            # Generation 0 means "no live object": GCS refuses the write if one exists.
            self.bucket.blob(self._name(key)).upload_from_string(data, if_generation_match=0)
        except PreconditionFailed:
            return False
        return True

    def list(self, prefix: str = "") -> list[str]:
        # Under "<prefix>/", never the bare prefix: "team" must not list "team2/...".
        root = f"{self.prefix}/" if self.prefix else ""
        blobs = self.client.list_blobs(self.bucket_name, prefix=root + (check_key(prefix) if prefix else ""))
        # Names ending in "/" are folder placeholders (the console makes them), not objects.
        return sorted(b.name[len(root) :] for b in blobs if not b.name.endswith("/"))

    def exists(self, key: str) -> bool:
        return self.bucket.blob(self._name(key)).exists()

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self.bucket.blob(self._name(key)).delete()
        except NotFound:
            pass

    def uri(self, key: str = "") -> str:
        return f"gs://{self.bucket_name}/{self._name(key) if key else self.prefix}"

    def location(self) -> StoreLocation:
        # Executors use their own credentials (application default); only an emulator is passed on.
        return StoreLocation(
            f"gs://{self.bucket_name}/{self.prefix}", self.client.project, os.environ.get("STORAGE_EMULATOR_HOST")
        )


def gcs_client(project: str | None = None):
    """A storage client; anonymous when `STORAGE_EMULATOR_HOST` points at a local emulator."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project or "local-emulator", credentials=AnonymousCredentials())
    return storage.Client(project=project)  # application default credentials


@dataclass(frozen=True)
class StoreLocation:
    """A store as plain values (picklable, unlike a client): what the Spark driver hands its
    executors so that each opens the store and reads and writes objects itself."""

    uri: str  # a local path or gs://bucket/prefix
    project: str | None = None
    emulator_host: str | None = None  # STORAGE_EMULATOR_HOST of the driver, for a local GCS emulator

    def open(self) -> ObjectStore:
        if self.emulator_host:  # how the storage client finds an emulator (a worker process serves one store)
            os.environ["STORAGE_EMULATOR_HOST"] = self.emulator_host
        if self.uri.startswith("gs://"):
            bucket, _, prefix = self.uri[len("gs://") :].partition("/")
            return GCSObjectStore(gcs_client(self.project), bucket, prefix)
        return open_store(self.uri)


def open_store(uri: str) -> ObjectStore:
    """`gs://bucket/prefix` or a local path / `file://` URI, as the CLI's `--store` takes it."""
    if uri.startswith("gs://"):
        bucket, _, prefix = uri[len("gs://") :].partition("/")
        return GCSObjectStore(gcs_client(), bucket, prefix)
    uri = uri.removeprefix("file://")
    return LocalObjectStore(uri)


DEFAULT_LOCAL_ROOT = ".data/store"
