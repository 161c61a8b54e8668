import socket
from pathlib import Path

import pytest
from gcp_storage_emulator.server import create_server

from repair.ingest.traces import TRACES_DIR
from resources.object_store import gcs_client


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    return TRACES_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_bucket():
    """A bucket in a real `gcp-storage-emulator` on a free loopback port, stopped afterwards."""
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    host = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", host)
        yield gcs_client("test-project").create_bucket("repair-test")
    server.stop()
