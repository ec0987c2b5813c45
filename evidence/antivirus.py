"""A client for ClamAV's daemon (clamd): streams a file to it with INSTREAM and reads the verdict.

Our own, not a package's: `clamd` and `pyClamd` on PyPI have had no release for years, and the one
live fork is a young single-maintainer 0.x; the protocol is a few lines, and these are tested
against a real clamd (evidence/tests/test_antivirus.py).

The protocol: `zINSTREAM\\0`, then the file as chunks each preceded by its length (4 bytes,
big-endian), then a zero-length chunk. clamd answers `stream: OK` or `stream: <signature> FOUND`,
or `... ERROR` (e.g. the file is over its StreamMaxLength), ended by a NUL byte.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

# clamd reads a chunk at a time; 64 KB keeps the memory of a scan small whatever the file's size.
CHUNK_SIZE = 64 * 1024
# Long enough for clamd to scan a 25 MB document (it takes well under a second), short enough that
# a clamd that hangs lets the task retry instead of holding a worker.
TIMEOUT_SECONDS = 60
# The longest answer clamd gives is a line with a signature name; anything longer is not clamd.
MAX_REPLY = 4096


class ScannerUnavailable(Exception):
    """clamd could not be reached, or gave no verdict: the file stays pending and the scan is tried again."""


@dataclass(frozen=True)
class Verdict:
    signature: str = ""  # what was found; empty when the file is clean

    @property
    def infected(self) -> bool:
        return bool(self.signature)


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    """`unix:///run/clamav/clamd.ctl` or `tcp://127.0.0.1:3310` as (socket family, socket address)."""
    parts = urlsplit(address)
    if parts.scheme == "unix" and parts.path and not parts.netloc:
        return socket.AF_UNIX, parts.path
    if parts.scheme == "tcp" and parts.hostname and not parts.path.strip("/"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if port:
            return socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET, (parts.hostname, port)
    raise ValueError(f"{address!r} is not unix:///path/to/clamd.socket or tcp://host:port.")


def scan(stream: BinaryIO, *, address: str, timeout: float = TIMEOUT_SECONDS) -> Verdict:
    """Streams `stream` from where it is to its end to clamd at `address`, and returns what clamd found."""
    family, target = parse_address(address)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(target)
            connection.sendall(b"zINSTREAM\0")
            while chunk := stream.read(CHUNK_SIZE):
                connection.sendall(struct.pack(">I", len(chunk)) + chunk)
            connection.sendall(struct.pack(">I", 0))
            reply = _read_reply(connection)
    except OSError as error:  # refused, reset, timed out, no such socket: clamd is not there now
        raise ScannerUnavailable(f"clamd at {address} could not be reached: {error}") from error
    return _verdict(reply)


def _read_reply(connection: socket.socket) -> bytes:
    reply = b""
    while b"\0" not in reply and len(reply) < MAX_REPLY:
        data = connection.recv(MAX_REPLY)
        if not data:
            break
        reply += data
    return reply.split(b"\0", 1)[0].strip()


def _verdict(reply: bytes) -> Verdict:
    text = reply.decode("utf-8", "replace")
    if text == "stream: OK":
        return Verdict()
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        return Verdict(signature=text.removeprefix("stream: ").removesuffix(" FOUND").strip()[:200])
    raise ScannerUnavailable(f"clamd gave no verdict: {text[:200]!r}")
