"""Hostile images for tests, built without decoding them (a bomb must not cost the test its memory)."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 6300, height: int = 6300) -> bytes:
    """A valid RGBA PNG of `width` x `height` transparent pixels: 6,300 x 6,300 is about 155 KB on
    disk and 159 MB decoded (issue 11, hole 5)."""
    row = b"\x00" * (1 + 4 * width)  # filter byte "none", then 4 zero bytes per pixel
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
