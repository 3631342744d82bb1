"""Photos for tests: real file formats, built by hand (no imaging library in the way)."""

from __future__ import annotations

import os
import struct
import zlib


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG, built by hand (no imaging library in the test's way)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x4c\xaf\x50" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """Enough of a JPEG to be one by its first bytes (the gateway sniffs, it does not decode)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(64) + b"\xff\xd9"
