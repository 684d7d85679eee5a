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

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # base64-encoded (5.6 MB) it still fits Lambda's 6 MB request payload
FORMATS = ("JPEG", "PNG", "WEBP")  # what a storefront sends (a phone photo, a screenshot)
HASH_BITS = 64
DRAFT_SIZE = (64, 64)  # JPEG decodes at the smallest 1/2..1/8 scale still at least this large


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
        raise NotAnImage(_too_large())
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
        raise NotAnImage(_too_large())
    return data


def _too_large() -> str:
    return f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."


def max_pixels() -> int:
    """The most pixels image search decodes (IMAGE_SEARCH_MAX_PIXELS): a few megapixels."""
    from chalicelib import config

    return config.get_int("IMAGE_SEARCH_MAX_PIXELS")


def dhash(data: bytes, pixel_limit: int | None = None) -> int:
    """The 64-bit dHash of a JPEG, PNG or WebP image. Raises NotAnImage.

    The dimensions come from the header, before anything is decoded: an image that would decode to
    more than `pixel_limit` (default max_pixels()) pixels is refused, so a small file claiming
    millions of pixels (a 170 KB PNG of 6,300 x 6,300 RGBA decodes to 160 MB, composited to 660 MB)
    costs nothing. JPEGs decode at a reduced scale (draft), so large phone photos stay cheap.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise NotAnImage(_too_large())
    from PIL import Image

    limit = pixel_limit if pixel_limit is not None else max_pixels()
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:  # reads the header only
            width, height = img.size
            if width < 1 or height < 1:
                raise NotAnImage("The image dimensions are not acceptable.")
            img.draft("RGB", DRAFT_SIZE)  # JPEG: size becomes the reduced one; other formats: no-op
            if img.size[0] * img.size[1] > limit:
                raise NotAnImage(
                    f"The image is {width} x {height} pixels; image search takes at most {limit:,} "
                    "pixels (send a smaller picture)."
                )
            img.load()
            grey = _to_grey(img)
            small = grey.resize((9, 8), Image.Resampling.LANCZOS)
            pixels = list(small.getdata())
    except NotAnImage:
        raise
    except Image.DecompressionBombError:
        raise NotAnImage("The image has too many pixels.") from None
    except Image.UnidentifiedImageError:
        raise NotAnImage("The image must be a JPEG, PNG or WebP picture.") from None
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
