"""Uploads and exports in S3-compatible object storage, read as a stream.

django-storages' own S3 file downloads the whole object the first time it is read, into memory
unless AWS_S3_MAX_MEMORY_SIZE is set: a cohort zip of a few gigabytes would sit whole in a web
process before its first byte left, long after the proxy had given up. A file opened here for
reading fetches the object as it is read instead, one ranged GET from wherever the reader stands,
and a new one only after a seek elsewhere. Writing, listing and deleting are django-storages'.

Select it with MEDIA_STORAGE=s3 (portal/settings.py).
"""

from __future__ import annotations

import io

from botocore.exceptions import ClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# Bytes asked of the stream at a time: large enough that a 25 MB file is a hundred reads, small
# enough that a hundred downloads at once hold a few tens of megabytes.
READ_BUFFER = 256 * 1024


def _not_found(error: ClientError) -> bool:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


class ObjectReader(io.RawIOBase):
    """A seekable, read-only view of one stored object that downloads only what is read."""

    def __init__(self, obj, size: int) -> None:
        super().__init__()
        self._obj = obj
        self._size = size
        self._position = 0
        self._body = None  # the open GET's stream, which stands at self._body_at
        self._body_at = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Only remembered: nothing is fetched until the next read, so finding the size by seeking
        # to the end and back (as FileResponse does for Content-Length) costs no request.
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size or not len(buffer):
            return 0
        if self._body is None or self._body_at != self._position:
            self._open_body()
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        self._body_at = self._position
        return len(data)

    def readall(self) -> bytes:
        # The rest in one piece, as one call: read() without a size (a hash, a print copy).
        if self._position >= self._size:
            return b""
        if self._body is None or self._body_at != self._position:
            self._open_body()
        data = self._body.read()
        self._position += len(data)
        self._body_at = self._position
        return data

    def _open_body(self) -> None:
        self._close_body()
        try:
            response = self._obj.get(Range=f"bytes={self._position}-")
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(f"File does not exist: {self._obj.key}") from error
            raise
        self._body = response["Body"]
        self._body_at = self._position

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()  # hands the connection back rather than reading what is left
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


class S3MediaStorage(S3Storage):
    """S3Storage whose files, opened for reading, stream from the bucket instead of downloading whole."""

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            return super()._open(name, mode)
        key = self._normalize_name(clean_name(name))
        obj = self.bucket.Object(key)
        try:
            obj.load()  # a missing file fails here, on opening, as it does on a disk
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(f"File does not exist: {key}") from error
            raise
        stream = File(io.BufferedReader(ObjectReader(obj, obj.content_length), buffer_size=READ_BUFFER), name=name)
        stream.size = obj.content_length
        return stream
