"""Object storage files stream as they are read: no download of the whole object first.

Runs against moto's in-process S3, so it needs no server; `reviews/tests/test_object_storage.py`
and the other tests marked `storage` run the portal itself against a moto server in CI.
"""

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.http import FileResponse
from moto import mock_aws

from portal.storage import READ_BUFFER, S3MediaStorage

CONTENT = bytes(range(256)) * (3 * READ_BUFFER // 256 + 7)  # a little over three buffers


@pytest.fixture
def bucket():
    with mock_aws():
        storage = S3MediaStorage(bucket_name="portal-test", region_name="us-east-1", location="media")
        storage.connection.meta.client.create_bucket(Bucket="portal-test")
        gets: list[str] = []

        def count(params, **kwargs):
            gets.append(params.get("Range", ""))

        storage.connection.meta.client.meta.events.register("provide-client-params.s3.GetObject", count)
        storage.save("evidence/sample", ContentFile(CONTENT))
        yield storage, gets


def test_a_whole_read_is_one_get(bucket):
    storage, gets = bucket
    with storage.open("evidence/sample") as handle:
        assert handle.size == len(CONTENT)
        assert handle.read() == CONTENT
    assert gets == ["bytes=0-"]


def test_reading_in_blocks_streams_and_seeking_costs_nothing_until_the_next_read(bucket):
    storage, gets = bucket
    with storage.open("evidence/sample") as handle:
        handle.seek(0, io.SEEK_END)
        assert handle.tell() == len(CONTENT)
        handle.seek(0)
        assert gets == [], "finding the size asks nothing of the bucket"
        assert b"".join(iter(lambda: handle.read(4096), b"")) == CONTENT
        assert gets == ["bytes=0-"], "one stream, read block by block"
        handle.seek(1000)
        assert handle.read(10) == CONTENT[1000:1010]
    assert gets == ["bytes=0-", "bytes=1000-"]


def test_chunks_and_a_hash_read_the_same_bytes(bucket):
    from evidence.uploads import sha256_of

    storage, _ = bucket
    with storage.open("evidence/sample") as handle:
        assert b"".join(handle.chunks(chunk_size=100_000)) == CONTENT
        assert sha256_of(handle) == hashlib.sha256(CONTENT).hexdigest()


def test_a_download_response_knows_its_length_and_streams_the_bytes(bucket, db):
    # `db`: closing a response ends the request, which tidies up database connections.
    storage, gets = bucket
    response = FileResponse(storage.open("evidence/sample"), as_attachment=True, filename="sample.bin")
    assert int(response["Content-Length"]) == len(CONTENT)
    assert b"".join(response.streaming_content) == CONTENT
    response.close()
    assert gets == ["bytes=0-"]


def test_a_missing_file_is_not_found_on_opening(bucket):
    storage, gets = bucket
    with pytest.raises(FileNotFoundError):
        storage.open("evidence/never-stored")
    assert gets == []


def test_writing_is_django_storages_own(bucket):
    storage, _ = bucket
    with storage.open("exports/1/out.pdf", "wb") as handle:
        handle.write(b"%PDF-1.7 written in parts")
    with storage.open("exports/1/out.pdf") as handle:
        assert handle.read() == b"%PDF-1.7 written in parts"
