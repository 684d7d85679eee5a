"""The view-size copy made at ingestion (issue 27): at most 1600 px and 400 KB, whatever the photo."""

from __future__ import annotations

import io

from PIL import Image

from chalicelib import photos
from tests.images import noise_jpeg, phone_photo


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return img.size


def test_a_phone_photo_s_view_is_1600_px_on_its_longer_side_and_under_400_kb():
    checked = photos.check_image(phone_photo())
    assert _size(checked.view) == (1600, 1200)
    assert len(checked.view) <= photos.VIEW_MAX_BYTES
    assert _size(checked.thumbnail) == (320, 240)


def test_a_photo_that_compresses_badly_still_gets_a_view_within_400_kb():
    data = noise_jpeg()
    assert len(data) > 4 * 1024 * 1024
    checked = photos.check_image(data)
    assert len(checked.view) <= photos.VIEW_MAX_BYTES
    assert max(_size(checked.view)) <= photos.VIEW_MAX_PX


def test_a_small_photo_is_never_enlarged_and_a_portrait_keeps_its_orientation():
    out = io.BytesIO()
    Image.new("RGB", (600, 900), (200, 30, 40)).save(out, "PNG")
    assert _size(photos.check_image(out.getvalue()).view) == (600, 900)
    assert photos.view_key("itm_1", "pho_X") == "views/itm_1/pho_X.jpg"
