"""QC photo keys, content types and image sniffing (pure: real image bytes made with Pillow, no AWS)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from chalicelib import config, photos
from chalicelib.ids import new_id


def image_bytes(fmt: str, size=(640, 480), mode="RGB", **save) -> bytes:
    img = Image.new(mode, size, (200, 40, 90) if mode == "RGB" else None)
    if mode == "RGB":
        for x in range(0, size[0], 16):  # some detail, so the encoded data is not trivially small
            for y in range(0, size[1], 16):
                img.putpixel((x, y), ((x * 7) % 256, (y * 3) % 256, (x + y) % 256))
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


# --- keys ----------------------------------------------------------------------------------------


def test_content_types_map_to_extensions_and_nothing_else():
    assert photos.extension("image/jpeg") == "jpg"
    assert photos.extension("image/png") == "png"
    assert photos.extension("image/webp") == "webp"
    for other in ("image/gif", "image/svg+xml", "text/plain", "IMAGE/JPEG", "image/jpg", ""):
        with pytest.raises(KeyError):
            photos.extension(other)


def test_upload_keys_are_under_the_notified_prefix_and_parse_back():
    photo_id = new_id("pho")
    key = photos.upload_key("itm_01ABC", photo_id, "image/png")
    assert key == f"qc/itm_01ABC/{photo_id}.png"
    assert key.startswith(config.PHOTO_UPLOAD_PREFIX)
    assert photos.parse_key(key) == photos.PhotoKey("itm_01ABC", photo_id, "png")


def test_thumbnails_and_quarantine_live_outside_the_notified_prefix():
    photo_id = new_id("pho")
    thumb = photos.thumb_key("itm_1", photo_id)
    assert thumb == f"thumbs/itm_1/{photo_id}.jpg"
    assert not thumb.startswith(config.PHOTO_UPLOAD_PREFIX)
    key = photos.upload_key("itm_1", photo_id, "image/jpeg")
    assert photos.quarantine_key(key) == "quarantine/" + key
    assert not photos.quarantine_key(key).startswith(config.PHOTO_UPLOAD_PREFIX)


@pytest.mark.parametrize(
    "key",
    [
        "qc/",
        "qc/itm_1",
        "qc/itm_1/",
        "qc/itm_1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV",  # no extension
        "qc/itm_1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.gif",  # not an accepted extension
        "qc/itm_1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.JPG",
        "qc/itm_1/pho_short.jpg",
        "qc/itm_1/x/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg",  # nested
        "qc/../pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg",
        "qc/itm 1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg",
        "qc/itm_1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg.exe",
        "thumbs/itm_1/pho_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg",
        "catalog/prd_1/0.jpg",
        "qc/itm_1/ord_01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg",  # not a photo id
    ],
)
def test_keys_of_any_other_shape_do_not_parse(key):
    assert photos.parse_key(key) is None


# --- sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_real_images_of_each_allowed_format_are_recognised(fmt, content_type):
    info = photos.sniff(image_bytes(fmt))
    assert info == photos.ImageInfo(fmt, content_type, 640, 480)


def test_the_real_format_counts_not_the_name():
    """A PNG uploaded under a .jpg key is fine: PNG is allowed, and its real type is reported."""
    checked = photos.check_image(image_bytes("PNG"))
    assert checked.info.content_type == "image/png"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a text file pretending to be a photo\n" * 50,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b"\xff\xd8\xff",  # a JPEG start marker and nothing else
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature with garbage
    ],
    ids=["empty", "text", "pdf", "jpeg-marker-only", "png-signature-garbage"],
)
def test_non_images_are_refused(data):
    with pytest.raises(photos.NotAnImage):
        photos.check_image(data)


def test_a_gif_is_a_real_image_but_not_an_allowed_format():
    with pytest.raises(photos.NotAnImage) as refused:
        photos.sniff(image_bytes("GIF"))
    assert refused.value.reason == "not_an_allowed_image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_refused(fmt):
    data = image_bytes(fmt, size=(800, 600), **({"quality": 95} if fmt != "PNG" else {}))
    with pytest.raises(photos.NotAnImage):
        photos.check_image(data[: len(data) // 2])


def test_multi_picture_jpegs_from_cameras_are_jpegs():
    out = io.BytesIO()
    first, second = Image.new("RGB", (640, 480), (1, 2, 3)), Image.new("RGB", (640, 480), (4, 5, 6))
    first.save(out, "MPO", save_all=True, append_images=[second])
    checked = photos.check_image(out.getvalue())
    assert checked.info == photos.ImageInfo("JPEG", "image/jpeg", 640, 480)


def test_images_with_too_many_pixels_are_refused_before_decoding():
    # a tiny PNG file declaring a huge canvas (a decompression bomb's shape)
    data = image_bytes("PNG", size=(8000, 7000), mode="1")
    assert len(data) < 1_000_000
    with pytest.raises(photos.NotAnImage) as refused:
        photos.sniff(data)
    assert refused.value.reason == "too_many_pixels"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_thumbnails_are_jpegs_at_most_320_px(fmt):
    checked = photos.check_image(image_bytes(fmt, size=(1600, 900)))
    assert (checked.info.width, checked.info.height) == (1600, 900)
    with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= photos.THUMB_MAX_PX
        assert thumb.size[0] >= 300  # scaled, not collapsed to a sliver


def test_transparent_and_greyscale_images_get_thumbnails():
    for data in (
        image_bytes("PNG", size=(500, 500), mode="RGBA"),
        image_bytes("PNG", size=(500, 500), mode="LA"),
        image_bytes("PNG", size=(500, 500), mode="L"),
        image_bytes("PNG", size=(500, 500), mode="I;16"),
        image_bytes("WEBP", size=(500, 500), mode="RGBA"),
    ):
        checked = photos.check_image(data)
        with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
            assert thumb.mode == "RGB" and max(thumb.size) == 320


def test_exif_orientation_is_applied_to_the_thumbnail():
    img = Image.new("RGB", (600, 300), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    checked = photos.check_image(out.getvalue())
    with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
        assert thumb.size[1] > thumb.size[0]
