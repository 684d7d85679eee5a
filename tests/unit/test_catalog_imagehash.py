"""dHash with Pillow: stable under resizing and recompression, far apart for different pictures,
and a clean NotAnImage for anything that is not a readable image of acceptable size."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from chalicelib.catalog import imagehash
from chalicelib.catalog.imagehash import NotAnImage, decode_base64, dhash, distance
from infra.local import demo_pictures as images
from tests.conftest import ROOT


def reencode(data: bytes, *, scale: float = 1.0, fmt: str = "JPEG", quality: int = 70) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        if scale != 1.0:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        img.save(out, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
        return out.getvalue()


@pytest.fixture(scope="module")
def picture() -> bytes:
    return images.render("unit/0", "apparel", "Women's Oversized Cotton T-Shirt")


def test_hash_is_64_bits_and_deterministic(picture):
    value = dhash(picture)
    assert 0 <= value < 1 << 64
    assert dhash(picture) == value
    assert imagehash.from_hex(imagehash.to_hex(value)) == value
    assert len(imagehash.to_hex(value)) == 16


@pytest.mark.parametrize(
    ("scale", "fmt", "quality"),
    [
        (1.0, "JPEG", 40),
        (0.8, "JPEG", 60),
        (0.5, "JPEG", 75),
        (1.5, "JPEG", 90),
        (0.7, "PNG", 0),
        (1.0, "WEBP", 0),
    ],
)
def test_resized_and_recompressed_copies_stay_close(picture, scale, fmt, quality):
    assert distance(dhash(picture), dhash(reencode(picture, scale=scale, fmt=fmt, quality=quality))) <= 6


def test_different_pictures_are_far_apart():
    hashes = [dhash(images.render(f"unit/{n}", "general", f"Thing {n}")) for n in range(20)]
    gaps = [distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(gaps) >= 12
    assert 24 <= sum(gaps) / len(gaps) <= 40


def test_distance():
    assert distance(0, 0) == 0
    assert distance(0, (1 << 64) - 1) == 64
    assert distance(0b1011, 0b0001) == 2


def test_hash_from_grid_orders_left_brighter_than_right():
    assert imagehash.hash_from_grid([9 - c for _ in range(8) for c in range(9)]) == (1 << 64) - 1
    assert imagehash.hash_from_grid([c for _ in range(8) for c in range(9)]) == 0


def test_transparent_and_palette_images_hash(picture):
    rgba = Image.new("RGBA", (50, 40), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 25, 40))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    dhash(out.getvalue())
    out = io.BytesIO()
    Image.open(io.BytesIO(picture)).convert("P").save(out, format="PNG")
    assert distance(dhash(out.getvalue()), dhash(picture)) <= 8


def test_only_the_formats_a_storefront_sends_are_read(picture):
    """JPEG, PNG and WebP are hashed; GIF, BMP, TIFF (real images all the same) are refused."""
    with Image.open(io.BytesIO(picture)) as img:
        for fmt in ("PNG", "WEBP"):
            assert distance(dhash(reencode(picture, fmt=fmt)), dhash(picture)) <= 8, fmt
        for fmt in ("GIF", "BMP", "TIFF"):
            out = io.BytesIO()
            img.save(out, format=fmt)
            with pytest.raises(NotAnImage, match="JPEG, PNG or WebP"):
                dhash(out.getvalue())


def test_tiny_image():
    out = io.BytesIO()
    Image.new("L", (1, 1), 128).save(out, format="PNG")
    assert dhash(out.getvalue()) == 0


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose header claims other dimensions (what a decompression bomb looks like)."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # PNG signature, garbage after it
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # JPEG start, garbage after it
        b"GIF89a",
        b"%PDF-1.4\n1 0 obj\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_non_images_raise(data):
    with pytest.raises(NotAnImage):
        dhash(data)


def test_truncated_jpeg_raises(picture):
    with pytest.raises(NotAnImage):
        dhash(picture[: len(picture) // 2])


def test_decompression_bomb_raises():
    with pytest.raises(NotAnImage):
        dhash(_png_claiming(50_000, 50_000))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    from tests.images import bomb_png

    return bomb_png(6300, 6300)


def test_a_small_png_of_too_many_pixels_is_refused_from_its_header(bomb):
    assert len(bomb) < 200_000
    with pytest.raises(NotAnImage, match="6300 x 6300 pixels; image search takes at most 4,000,000"):
        dhash(bomb)


def test_refusing_the_bomb_costs_a_few_megabytes_not_hundreds(bomb, tmp_path):
    """Measured in a fresh process (ru_maxrss is a high-water mark): the old code peaked ~650 MB higher."""
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    child = (
        "import resource, sys\n"
        "from PIL import Image, PngImagePlugin\n"
        "from chalicelib.catalog import imagehash\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    imagehash.dhash(data)\n"
        "except imagehash.NotAnImage:\n"
        "    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", child, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert int(ran.stdout) < 20 * 1024  # KiB


def test_the_pixel_bound_is_configurable(monkeypatch):
    image = Image.new("RGB", (2100, 2000), (200, 30, 30))  # 4.2 MP
    out = io.BytesIO()
    image.save(out, format="PNG")
    with pytest.raises(NotAnImage, match="at most 4,000,000"):
        dhash(out.getvalue())
    monkeypatch.setenv("IMAGE_SEARCH_MAX_PIXELS", "5000000")
    assert dhash(out.getvalue()) >= 0


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(picture):
    """A 12 MP phone photo decodes at 1/8 scale (0.19 MP): within the bound, and cheap."""
    with Image.open(io.BytesIO(picture)) as img:
        big = img.resize((4000, 3000))
    out = io.BytesIO()
    big.save(out, format="JPEG", quality=80)
    with Image.open(io.BytesIO(out.getvalue())) as img:
        img.draft("RGB", imagehash.DRAFT_SIZE)
        assert img.size == (500, 375)
    assert distance(dhash(out.getvalue()), dhash(picture)) <= 8


def test_pillows_decompression_bomb_error_is_not_an_image(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    image = Image.new("RGB", (100, 100))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    with pytest.raises(NotAnImage, match="too many pixels"):
        dhash(out.getvalue())


def test_oversized_input_raises():
    with pytest.raises(NotAnImage):
        dhash(b"\x00" * (imagehash.MAX_IMAGE_BYTES + 1))


class TestDecodeBase64:
    def test_standard_urlsafe_unpadded_wrapped_and_data_url(self, picture):
        standard = base64.b64encode(picture).decode()
        assert decode_base64(standard) == picture
        assert decode_base64(base64.urlsafe_b64encode(picture).decode().rstrip("=")) == picture
        wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
        assert decode_base64(wrapped) == picture
        assert decode_base64("data:image/jpeg;base64," + standard) == picture

    @pytest.mark.parametrize(
        "text", ["", "====", "not base64!", "abc$", "data:image/png,rawbytes", "data:nothing"]
    )
    def test_bad_base64_raises(self, text):
        with pytest.raises(NotAnImage):
            decode_base64(text)

    def test_more_than_4_mb_raises(self):
        with pytest.raises(NotAnImage, match="4 MB"):
            decode_base64(base64.b64encode(b"\x00" * (imagehash.MAX_IMAGE_BYTES + 1)).decode())
