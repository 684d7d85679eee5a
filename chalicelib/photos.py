"""QC photos of items: presigned uploads, ingestion results, and short-lived URLs for owners.

Flow: warehouse staff ask for an upload (`request_upload`): the server picks the key
`qc/<item_id>/<photo_id>.<ext>`, records a pending Photo and returns an S3 presigned POST pinned to that
key, the declared content type and 1 byte..10 MB. The browser uploads straight to S3; S3 notifies the
photo queue; `chalicelib.events.photos.ingest` checks the bytes and records the photo on the item under
`Item.photos[<photo_id>]`. Customers and staff read photos through presigned GET URLs that live
15 minutes (`photo_list`); the bucket itself is never public.

Pillow is imported only inside the functions that decode images (cold starts of the API stay cheap).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

from chalicelib import aws, clock, config, ids, lifecycle, observability
from chalicelib.errors import Conflict, NotFound
from chalicelib.logs import get_logger
from chalicelib.models.photos import PENDING, Photo

log = get_logger("photos")

MAX_BYTES = 10 * 1024 * 1024  # the largest accepted upload (presigned POST policy and ingestion)
UPLOAD_EXPIRES_SECONDS = 300  # how long a presigned POST may be used
URL_EXPIRES_SECONDS = 900  # how long a photo URL given to a customer works
PENDING_RECORD_DAYS = 7  # a pending record nobody uploaded to is deleted by DynamoDB TTL after this
MAX_PHOTOS_PER_ITEM = 30  # keeps the item (one DynamoDB item, 400 KB at most) small
# PNG/WebP decode at full size: above PHOTO_MAX_PIXELS (config, 16 MP: ~190 MB peak) they are refused
# from the header, before decoding (a 190 KB PNG of 49 MP RGBA peaked at 564 MB in a 512 MB function)
MAX_JPEG_PIXELS = 120_000_000  # JPEGs decode at 1/8 scale for thumbnails; Pillow refuses > ~179 MP
THUMB_MAX_PX = 320
THUMB_PREFIX = "thumbs/"  # outside qc/: writing a thumbnail triggers no notification
QUARANTINE_PREFIX = "quarantine/"  # infra/template.py expires it after 30 days in AWS

# statuses in which the item is physically in the warehouse, so staff can photograph it
PHOTOGRAPHABLE = lifecycle.CASE_OPEN_FOR  # received or stored, not yet packed
# a package not packed yet: its items are still on our shelf and can be photographed
UNSEALED = lifecycle.PACKAGE.sources("pay", "pack")

CONTENT_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}  # Pillow format -> type
_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs (many cameras and phones) are JPEG files

_KEY = re.compile(
    "^"
    + re.escape(config.PHOTO_UPLOAD_PREFIX)
    + r"(?P<item_id>[A-Za-z0-9_-]{1,64})/(?P<photo_id>pho_[0-9A-Z]{26})\.(?P<ext>jpg|png|webp)$"
)


# --- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoKey:
    item_id: str
    photo_id: str
    ext: str


def extension(content_type: str) -> str:
    """The file extension for an accepted content type; KeyError for any other."""
    return CONTENT_TYPES[content_type]


def upload_key(item_id: str, photo_id: str, content_type: str) -> str:
    return f"{config.PHOTO_UPLOAD_PREFIX}{item_id}/{photo_id}.{extension(content_type)}"


def thumb_key(item_id: str, photo_id: str) -> str:
    return f"{THUMB_PREFIX}{item_id}/{photo_id}.jpg"


def quarantine_key(key: str) -> str:
    return QUARANTINE_PREFIX + key


def parse_key(key: str) -> PhotoKey | None:
    """`qc/<item_id>/<photo_id>.<ext>` as its parts, or None for any other shape."""
    found = _KEY.match(key)
    if found is None:
        return None
    return PhotoKey(found["item_id"], found["photo_id"], found["ext"])


# --- image checks --------------------------------------------------------------------------------


class NotAnImage(Exception):
    """The bytes are not a JPEG, PNG or WebP image we can use; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    format: str  # JPEG | PNG | WEBP
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class CheckedImage:
    info: ImageInfo
    thumbnail: bytes  # JPEG, at most THUMB_MAX_PX on its longer side


def max_pixels() -> int:
    """The most pixels a PNG/WebP photo may have (PHOTO_MAX_PIXELS); JPEGs decode reduced."""
    return config.get_int("PHOTO_MAX_PIXELS")


def sniff(data: bytes) -> ImageInfo:
    """What the bytes really are (never the name or the declared type); NotAnImage unless they are a
    JPEG, PNG or WebP within max_pixels() (JPEG: MAX_JPEG_PIXELS) whose structure Pillow's verify()
    accepts."""
    from PIL import Image

    if not data:
        raise NotAnImage("empty")
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
            fmt = _ALIASES.get(img.format, img.format)
            info = ImageInfo(fmt, FORMATS[fmt], int(img.width), int(img.height))
            if info.width < 1 or info.height < 1:
                raise NotAnImage("empty_image")
            if info.width * info.height > (MAX_JPEG_PIXELS if fmt == "JPEG" else max_pixels()):
                raise NotAnImage("too_many_pixels")
            img.verify()
    except NotAnImage:
        raise
    except Image.UnidentifiedImageError:
        raise NotAnImage("not_an_allowed_image") from None
    except Exception:  # Pillow raises many types for corrupt data (OSError, SyntaxError, ValueError...)
        raise NotAnImage("corrupt_image") from None
    return info


def check_image(data: bytes) -> CheckedImage:
    """sniff(), then decode the whole image (a truncated file fails here) into a JPEG thumbnail."""
    from PIL import Image, ImageOps

    info = sniff(data)
    try:
        # verify() leaves the image unusable: reopen to decode
        with Image.open(io.BytesIO(data), formats=[info.format]) as img:
            if info.format == "JPEG":
                img.draft("RGB", (THUMB_MAX_PX, THUMB_MAX_PX))  # decode at 1/2..1/8 scale: cheap
            img.load()
            picture = ImageOps.exif_transpose(img)
            picture.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX))
            if picture.mode in ("RGBA", "LA", "PA") or (
                picture.mode == "P" and "transparency" in picture.info
            ):
                rgba = picture.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                picture = flat
            elif picture.mode != "RGB":
                picture = picture.convert("RGB")
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=82, optimize=True)
    except Exception:
        raise NotAnImage("undecodable_image") from None
    return CheckedImage(info, out.getvalue())


# --- uploads -------------------------------------------------------------------------------------


def _item(item_id: str):
    from chalicelib.models.commerce import Item

    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None


def package_status(package_id: str | None) -> str | None:
    from chalicelib.models.packages import Package

    try:
        return Package.get(package_id, consistent_read=True).status if package_id else None
    except Package.DoesNotExist:
        return None


def in_unsealed_package(item) -> bool:
    """Packaged but not packed yet: still on our shelf, so paid extra photos can be delivered."""
    return item.status == lifecycle.ItemStatus.IN_PACKAGE and package_status(item.package_id) in UNSEALED


def request_upload(item_id: str, staff_id: str, content_type: str) -> dict:
    """A presigned POST for one photo of an item that is physically in the warehouse (stored, or in a
    package being packed)."""
    item = _item(item_id)
    if item.status not in PHOTOGRAPHABLE and not in_unsealed_package(item):
        raise Conflict(
            f"The item is {item.status}: photos are taken while it is in the warehouse "
            f"({', '.join(PHOTOGRAPHABLE)}, or in a package not packed yet)."
        )
    if len(_map(item.photos)) >= MAX_PHOTOS_PER_ITEM:
        raise Conflict(f"The item already has {MAX_PHOTOS_PER_ITEM} photos.")
    now = clock.now()
    photo_id = ids.new_id("pho")
    key = upload_key(item_id, photo_id, content_type)
    photo = Photo(
        photo_id,
        item_id=item_id,
        user_id=item.user_id,
        key=key,
        content_type=content_type,
        created_at=clock.iso(now),
        created_by=staff_id,
        upload_expires_at=clock.iso(now + timedelta(seconds=UPLOAD_EXPIRES_SECONDS)),
        expires_at=now + timedelta(days=PENDING_RECORD_DAYS),
    )
    lifecycle.PHOTO.start(photo, PENDING, now=clock.iso(now))
    photo.save(condition=Photo.photo_id.does_not_exist())
    upload = aws.client("s3").generate_presigned_post(
        Bucket=config.get("PHOTO_BUCKET"),
        Key=key,
        Fields={"Content-Type": content_type, **observability.upload_metadata()},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, MAX_BYTES],
            *observability.upload_conditions(),
        ],
        ExpiresIn=UPLOAD_EXPIRES_SECONDS,
    )
    log.info("photo upload requested", extra={"photo_id": photo_id, "item_id": item_id, "by": staff_id})
    return {
        "photo_id": photo_id,
        "upload": {"url": upload["url"], "fields": upload["fields"]},
        "expires_in": UPLOAD_EXPIRES_SECONDS,
        "max_bytes": MAX_BYTES,
    }


def photo_status(photo_id: str) -> dict:
    """Where one requested upload stands (for the staff console): pending, ready or rejected."""
    try:
        photo = Photo.get(photo_id, consistent_read=True)
    except Photo.DoesNotExist:
        raise NotFound("No such photo.") from None
    return {
        "photo_id": photo.photo_id,
        "item_id": photo.item_id,
        "status": photo.status,
        "content_type": photo.content_type,
        "created_at": photo.created_at,
        "ready_at": photo.ready_at,
        "rejected_at": photo.rejected_at,
        "reject_reason": photo.reject_reason,
    }


# --- reading -------------------------------------------------------------------------------------


def _map(value) -> dict:
    """A raw MapAttribute value (an attribute instance, a dict, or None) as a plain dict."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def attached(item) -> dict[str, dict]:
    """The item's ingested photos as plain dicts, keyed by photo id."""
    raw = _map(item.photos)
    return {
        photo_id: {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in entry.items()}
        for photo_id, entry in raw.items()
        if isinstance(entry, dict) and entry.get("key") and entry.get("thumb_key")
    }


def presigned_get(key: str, content_type: str | None = None, expires_in: int = URL_EXPIRES_SECONDS) -> str:
    params = {"Bucket": config.get("PHOTO_BUCKET"), "Key": key}
    if content_type:
        params["ResponseContentType"] = content_type
    return aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)


def photo_list(item) -> list[dict]:
    """The item's ingested photos, oldest first, as [{"photo_id", "url", "thumbnail_url", ...}] whose URLs
    are presigned GETs valid for URL_EXPIRES_SECONDS (the bucket is private)."""
    entries = sorted(attached(item).items(), key=lambda pair: (str(pair[1].get("uploaded_at", "")), pair[0]))
    return [
        {
            "photo_id": photo_id,
            "url": presigned_get(entry["key"], entry.get("content_type")),
            "thumbnail_url": presigned_get(entry["thumb_key"], "image/jpeg"),
            "content_type": entry.get("content_type"),
            "uploaded_at": entry.get("uploaded_at"),
            "width": entry.get("width"),
            "height": entry.get("height"),
            "size": entry.get("size"),
        }
        for photo_id, entry in entries
    ]


def item_photos(item_id: str, caller) -> list[dict]:
    """GET /items/{item_id}/photos: the owner, or staff (warehouse, reviewer, admin); 404 for anyone else."""
    item = _item(item_id)
    if not caller.in_group("warehouse", "reviewer") and item.user_id != caller.user_id:
        raise NotFound("No such item.")
    return photo_list(item)
