"""A GCS emulator that honours `ifGenerationMatch=0` on uploads, as GCS does.

`gcp-storage-emulator` (the real server the other GCS tests use) ignores preconditions, so a create
that must fail when the object exists would pass there by accident. This wraps its multipart-upload
handler with GCS's rule (412 Precondition Failed when `ifGenerationMatch=0` and the object exists);
the precondition itself still has to come from our client code, or the test sees two winners."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

from tests.ingest.conftest import gcs_bucket  # noqa: F401 - the emulator fixture, shared


@pytest.fixture
def gcs_with_preconditions(gcs_bucket, monkeypatch):  # noqa: F811
    upload = objects._multipart_upload

    def multipart_upload(request, response, storage):
        if request.query.get("ifGenerationMatch") == ["0"]:
            name = request.query.get("name", [request.data["meta"].get("name")])[0]
            try:
                storage.get_file_obj(request.params["bucket_name"], name)
            except NotFound:
                pass
            else:
                response.status = HTTPStatus.PRECONDITION_FAILED
                return None
        return upload(request, response, storage)

    monkeypatch.setattr(objects, "_multipart_upload", multipart_upload)
    return gcs_bucket
