"""Perceptual image hashing (dHash, 64 bits) with Pillow only: no numpy, no imagehash (small Lambda zip).

dHash: shrink the picture to 9x8 grey pixels and record, row by row, whether each pixel is brighter
than its right-hand neighbour. Resizing, recompression and small colour shifts barely move those 64
bits; different pictures differ in about half of them. Similarity is the Hamming distance (0..64).

PIL is imported inside the functions (cold start): only image search and seeding pay for it.
"""

from __future__ import annotations

import base64
import binascii
import io

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 5 MB file claiming more pixels than this is a decompression bomb
HASH_BITS = 64


class NotAnImage(ValueError):
    """The bytes are not an image we can read (or are too large)."""


def decode_base64(text: str) -> bytes:
    """Strict base64 (standard or URL-safe alphabet, padding optional, `data:` URL prefix allowed)."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or ";base64" not in header:
            raise NotAnImage("image_base64 is a data: URL without base64 data.")
    text = "".join(text.split())  # line-wrapped base64 (MIME style) is common
    if len(text) > (MAX_IMAGE_BYTES * 4) // 3 + 4:
        raise NotAnImage("The image is larger than 5 MB.")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NotAnImage("image_base64 is not valid base64.") from None
    if not data:
        raise NotAnImage("image_base64 is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        raise NotAnImage("The image is larger than 5 MB.")
    return data


def dhash(data: bytes) -> int:
    """The 64-bit dHash of an encoded image (JPEG, PNG, GIF, WebP, BMP ...). Raises NotAnImage."""
    if len(data) > MAX_IMAGE_BYTES:
        raise NotAnImage("The image is larger than 5 MB.")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise NotAnImage("The image dimensions are not acceptable.")
            img.draft("RGB", (64, 64))  # JPEG: decode at a reduced scale, fast and small
            img.load()
            grey = _to_grey(img)
            small = grey.resize((9, 8), Image.Resampling.LANCZOS)
            pixels = list(small.getdata())
    except NotAnImage:
        raise
    except Exception:  # PIL raises many types for bad input (OSError, SyntaxError, ValueError, ...)
        raise NotAnImage("The bytes are not an image we can read.") from None
    return hash_from_grid(pixels)


def hash_from_grid(pixels: list[int]) -> int:
    """dHash bits from 9x8 grey values (row-major): bit set when a pixel is brighter than its right."""
    value = 0
    for row in range(8):
        for col in range(8):
            left = pixels[row * 9 + col]
            right = pixels[row * 9 + col + 1]
            value = (value << 1) | (1 if left > right else 0)
    return value


def _to_grey(img):
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("L")


def distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit hashes."""
    return (a ^ b).bit_count()


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(text: str) -> int:
    value = int(text, 16)
    if not 0 <= value < 1 << HASH_BITS:
        raise ValueError("not a 64-bit hash")
    return value
