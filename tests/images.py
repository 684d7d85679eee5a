"""Images for tests: hostile ones built without decoding them (a bomb must not cost the test its
memory), and a realistic phone photo."""

from __future__ import annotations

import functools
import io
import random
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


@functools.cache
def phone_photo(width: int = 4032, height: int = 3024) -> bytes:
    """A 12 MP JPEG that compresses like a phone's photo (~4 MB at quality 92): soft colour areas and
    shapes under sensor-like noise, which is what makes real photos large. Built once per process (~3 s)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(7)
    gradient = Image.linear_gradient("L")
    base = Image.merge(
        "RGB",
        (
            gradient.resize((width, height)),
            gradient.rotate(90).resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(base)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(50, 900), rng.randrange(50, 900)
        draw.ellipse((x, y, x + w, y + h), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    photo = Image.blend(base.filter(ImageFilter.BoxBlur(2)), noise, 0.18)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92)
    return out.getvalue()


def noise_jpeg(width: int = 2400, height: int = 1800) -> bytes:
    """The worst case for JPEG: independent noise in every channel (~5 MB at quality 95)."""
    from PIL import Image

    noise = Image.merge("RGB", [Image.effect_noise((width, height), 100) for _ in range(3)])
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    return out.getvalue()
