"""One contract, two backends: the local directory and Google Cloud Storage, the latter against a
real `gcp-storage-emulator` on loopback (the `gcs_bucket` fixture starts and stops it)."""

from __future__ import annotations

import itertools

import pytest

from resources.object_store import GCSObjectStore, LocalObjectStore, ObjectStoreResource, open_store

_prefixes = itertools.count()


@pytest.fixture(params=["local", "gcs", "gcs-prefixed"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalObjectStore(tmp_path / "store")
    bucket = request.getfixturevalue("gcs_bucket")
    # Each test gets its own prefix in the one bucket, so tests never see each other's objects.
    prefix = f"test-{next(_prefixes)}"
    if request.param == "gcs-prefixed":
        prefix += "/under/a/prefix"
    return GCSObjectStore(bucket.client, bucket.name, prefix)


def test_bytes_and_text_round_trip(store):
    store.write_bytes("a/b.bin", b"\x00\xff\x1f\x8b")
    store.write_text("sessions/date=2026-01-05/shard-000.jsonl", "héllo 👋\n")
    assert store.read_bytes("a/b.bin") == b"\x00\xff\x1f\x8b"
    assert store.read_text("sessions/date=2026-01-05/shard-000.jsonl") == "héllo 👋\n"
    store.write_text("a/b.bin", "overwritten")
    assert store.read_text("a/b.bin") == "overwritten"


def test_missing_objects_raise_file_not_found_naming_the_place(store):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        store.read_bytes("nope.txt")
    assert not store.exists("nope.txt")
    store.delete("nope.txt")  # deleting what is not there is fine


def test_list_is_sorted_and_prefix_aware(store):
    for key in [
        "sessions/date=2026-01-06/b.jsonl",
        "sessions/date=2026-01-05/a.jsonl",
        "snapshots/r/m.py",
        "sessions/date=2026-01-05/sub/c.jsonl.gz",
    ]:
        store.write_text(key, key)
    assert store.list("sessions/date=2026-01-05/") == [
        "sessions/date=2026-01-05/a.jsonl",
        "sessions/date=2026-01-05/sub/c.jsonl.gz",
    ]
    # A prefix may end inside a name.
    assert store.list("sessions/date=2026-01-0") == [
        "sessions/date=2026-01-05/a.jsonl",
        "sessions/date=2026-01-05/sub/c.jsonl.gz",
        "sessions/date=2026-01-06/b.jsonl",
    ]
    assert store.list("sessions/date=2027") == []
    assert store.list() == sorted(store.list())
    assert len(store.list()) == 4


def test_exists_and_delete(store):
    store.write_text("x/y.txt", "1")
    assert store.exists("x/y.txt")
    assert not store.exists("x")  # a folder-like prefix is no object
    store.delete("x/y.txt")
    assert not store.exists("x/y.txt")
    assert store.list("x/") == []


def test_keys_may_not_leave_the_store(store):
    for key in ["/etc/passwd", "a/../../b"]:
        with pytest.raises(ValueError, match="inside the store"):
            store.write_text(key, "no")


def test_upload_and_download_folders(store, tmp_path):
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "main.py").write_text("import pkg\n")
    (source / "pkg" / "__init__.py").write_text("X = '中文'\n", encoding="utf-8")
    keys = store.upload_dir(source, "snapshots/r1/")
    assert keys == ["snapshots/r1/main.py", "snapshots/r1/pkg/__init__.py"]
    target = store.download_dir("snapshots/r1", tmp_path / "dst")
    assert (target / "main.py").read_text() == "import pkg\n"
    assert (target / "pkg" / "__init__.py").read_text(encoding="utf-8") == "X = '中文'\n"
    with pytest.raises(FileNotFoundError):
        store.download_dir("snapshots/none", tmp_path / "empty")


def test_uri_names_the_backend(store):
    uri = store.uri("a/b.txt")
    assert uri.startswith("file://" if isinstance(store, LocalObjectStore) else "gs://repair-test/")
    assert uri.endswith("a/b.txt")


def test_open_store_and_the_resource_reach_the_emulator(gcs_bucket):
    opened = open_store(f"gs://{gcs_bucket.name}/via-uri")
    opened.write_text("k.txt", "v")
    resource = ObjectStoreResource(backend="gcs", bucket=gcs_bucket.name, prefix="via-uri")
    assert resource.get_store().read_text("k.txt") == "v"
    assert gcs_bucket.blob("via-uri/k.txt").download_as_bytes() == b"v"


def test_a_prefixed_store_never_sees_a_sibling_prefix(gcs_bucket):
    client, name = gcs_bucket.client, gcs_bucket.name
    GCSObjectStore(client, name, "team").write_text("a.txt", "mine")
    GCSObjectStore(client, name, "team2").write_text("b.txt", "theirs")
    gcs_bucket.blob("team/folder/").upload_from_string(b"")  # a console "folder"
    assert GCSObjectStore(client, name, "team").list() == ["a.txt"]


@pytest.mark.parametrize("bad", ["../escape.txt", "a/../../escape.txt", "a//b", "/abs"])
def test_download_dir_refuses_a_listed_key_that_would_land_outside(tmp_path, bad):
    class Listing(LocalObjectStore):  # a bucket lists what anyone with write access put there
        def list(self, prefix: str = "") -> list[str]:
            return [f"{prefix}ok.txt", f"{prefix}{bad}"]

    store = Listing(tmp_path / "store")
    store.write_text("models/v1/ok.txt", "fine")
    with pytest.raises(ValueError, match="would land outside"):
        store.download_dir("models/v1", tmp_path / "out" / "here")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()
