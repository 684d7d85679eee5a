"""Demo product pictures, drawn with Pillow at seed time (no binary files in the repo).

Each picture is a 9x8 mosaic of tiles around the product's own hue with a translucent category
silhouette and a caption on top. The tiles' brightness comes from a per-picture pseudo-random
sequence, so the pictures' dHashes are far apart (about 32 of 64 bits) while a resized or recompressed
copy stays within a few bits: exactly what the image search needs to tell products apart.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random

WIDTH, HEIGHT = 360, 320
COLS, ROWS = 9, 8


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def _rgb(hue: float, lightness: float, saturation: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return int(r * 255), int(g * 255), int(b * 255)


def render(seed: str, category: str, caption: str) -> bytes:
    """A JPEG picture, deterministic for (seed, category, caption)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = _rng(seed)
    hue = rng.random()
    img = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(img)
    cell_w, cell_h = WIDTH // COLS, HEIGHT // ROWS
    for row in range(ROWS):
        for col in range(COLS):
            colour = _rgb(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.18, 0.86), rng.uniform(0.35, 0.75))
            x, y = col * cell_w, row * cell_h
            draw.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), fill=colour)

    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    shape = ImageDraw.Draw(overlay)
    fill = (*_rgb(hue + 0.5, rng.uniform(0.3, 0.7), 0.6), 110)
    cx, cy = WIDTH // 2 + rng.randint(-30, 30), HEIGHT // 2 + rng.randint(-20, 20)
    if category == "apparel":  # a T-shirt
        shape.polygon(
            [
                (cx - 45, cy - 70),
                (cx - 15, cy - 80),
                (cx, cy - 65),
                (cx + 15, cy - 80),
                (cx + 45, cy - 70),
                (cx + 80, cy - 35),
                (cx + 55, cy - 15),
                (cx + 45, cy - 30),
                (cx + 45, cy + 75),
                (cx - 45, cy + 75),
                (cx - 45, cy - 30),
                (cx - 55, cy - 15),
                (cx - 80, cy - 35),
            ],
            fill=fill,
        )
    elif category == "electronics":  # a device with a button
        shape.rounded_rectangle((cx - 50, cy - 80, cx + 50, cy + 80), radius=18, fill=fill)
        shape.ellipse((cx - 12, cy + 50, cx + 12, cy + 74), fill=(255, 255, 255, 120))
    else:  # general goods: a round object
        shape.ellipse((cx - 75, cy - 75, cx + 75, cy + 75), fill=fill)
    img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")

    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=15)
    except (TypeError, OSError):  # Pillow built without FreeType
        font = ImageFont.load_default()
    draw.rectangle((0, HEIGHT - 24, WIDTH, HEIGHT), fill=(255, 255, 255))
    draw.text((8, HEIGHT - 20), caption[:44], fill=(30, 30, 30), font=font)

    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()
