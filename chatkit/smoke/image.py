"""The image the smoke check uploads: a tiny PNG written with the standard library.

A client must not need an imaging library to check that uploads work, so the file is
assembled chunk by chunk (signature, IHDR, IDAT, IEND) as the PNG specification lays out.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def tiny_png(width: int = 4, height: int = 4) -> bytes:
    """An 8-bit RGB PNG of ``width`` x ``height`` pixels, every pixel a different colour."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 60) % 256, (y * 60) % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
