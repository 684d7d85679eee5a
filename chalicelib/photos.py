"""QC photos of items: presigned uploads, ingestion results, and short-lived URLs for owners.

Flow: warehouse staff ask for an upload (`request_upload`): the server picks the key
`qc/<item_id>/<photo_id>.<ext>`, records a pending Photo and returns an S3 presigned POST pinned to that
key, the declared content type and 1 byte..10 MB. The browser uploads straight to S3; S3 notifies the
photo queue; `chalicelib.events.photos.ingest` checks the bytes and records the photo on the item under
`Item.photos[<photo_id>]`. Customers and staff read originals through presigned GET URLs that live
15 minutes (`photo_list`), view copies and thumbnails through chalicelib/photo_urls.py (CloudFront
signed URLs that stay the same for a day in AWS, so browsers cache them); the bucket is never public.

Ingestion also writes a view-size JPEG (`views/<item_id>/<photo_id>.jpg`, at most VIEW_MAX_PX on its
longer side and VIEW_MAX_BYTES): showing a photo costs its bytes in data transfer out, and a phone's
3 MB original costs ~10 times a view (docs/cost.md). Originals stay for disputes until their retention
rule (infra/template.py) deletes them.

Pillow is imported only inside the functions that decode images (cold starts of the API stay cheap).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

from chalicelib import aws, clock, config, ids, lifecycle, observability, photo_urls
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
VIEW_MAX_PX = 1600  # a phone or laptop screen's width: the copy customers and staff look at
VIEW_MAX_BYTES = 400_000  # issue 27's target for a photo view
VIEW_QUALITIES = (85, 78, 70, 62, 54, 46)  # JPEG qualities tried in turn until the view fits
VIEW_PREFIX = "views/"  # outside qc/ too, and outside the originals' retention rule
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


def view_key(item_id: str, photo_id: str) -> str:
    return f"{VIEW_PREFIX}{item_id}/{photo_id}.jpg"


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
    view: bytes = b""  # JPEG, at most VIEW_MAX_PX on its longer side and VIEW_MAX_BYTES


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


def _fit(width: int, height: int, longest: int) -> tuple[int, int]:
    """width x height scaled down (never up) so that its longer side is at most `longest`."""
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _jpeg(picture, quality: int, progressive: bool = False) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, optimize=True, progressive=progressive)
    return out.getvalue()


def _view(picture) -> bytes:
    """The view-size JPEG of an RGB picture: the best quality of VIEW_QUALITIES within VIEW_MAX_BYTES,
    else smaller sizes (noise-like pictures compress badly) until it fits."""
    from PIL import Image

    size = _fit(picture.width, picture.height, VIEW_MAX_PX)
    while True:
        scaled = picture if size == picture.size else picture.resize(size, Image.Resampling.LANCZOS)
        for quality in VIEW_QUALITIES:
            encoded = _jpeg(scaled, quality, progressive=True)  # shows at once, sharpens as it loads
            if len(encoded) <= VIEW_MAX_BYTES:
                return encoded
        size = _fit(size[0], size[1], int(max(size) * 0.8))


def _rgb(picture):
    """The picture on white if it has transparency, else in RGB."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return picture if picture.mode == "RGB" else picture.convert("RGB")


def check_image(data: bytes) -> CheckedImage:
    """sniff(), then decode the whole image (a truncated file fails here) into a view-size JPEG and a
    JPEG thumbnail."""
    from PIL import Image, ImageOps

    info = sniff(data)
    try:
        # verify() leaves the image unusable: reopen to decode
        with Image.open(io.BytesIO(data), formats=[info.format]) as img:
            if info.format == "JPEG":
                # decode at 1/2..1/8 scale, never below the view's size in either dimension: a 120 MP
                # panorama asks for its own proportions, so it too decodes reduced
                img.draft("RGB", _fit(img.width, img.height, VIEW_MAX_PX))
            img.load()
            picture = _rgb(ImageOps.exif_transpose(img))
            view = _view(picture)
            picture.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX))
            thumbnail = _jpeg(picture, 82)
    except Exception:
        raise NotAnImage("undecodable_image") from None
    return CheckedImage(info, thumbnail, view)


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
    return _presigned(item_id, item.user_id, staff_id, content_type)


def _presigned(
    item_id: str, owner_id: str, requested_by: str, content_type: str, subject: str | None = None
) -> dict:
    """Record a pending photo under `qc/<item_id>/<photo_id>.<ext>` and presign its POST (`item_id` is an
    item's, a package's being packed for a rehearsal, or an evidence photo's case or claim)."""
    now = clock.now()
    photo_id = ids.new_id("pho")
    key = upload_key(item_id, photo_id, content_type)
    photo = Photo(
        photo_id,
        item_id=item_id,
        subject=subject,
        user_id=owner_id,
        key=key,
        content_type=content_type,
        created_at=clock.iso(now),
        created_by=requested_by,
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
    log.info("photo upload requested", extra={"photo_id": photo_id, "item_id": item_id, "by": requested_by})
    return {
        "photo_id": photo_id,
        "upload": {"url": upload["url"], "fields": upload["fields"]},
        "expires_in": UPLOAD_EXPIRES_SECONDS,
        "max_bytes": MAX_BYTES,
    }


# --- evidence photos: a customer's own photos for an after-sales case or an insurance claim (issue 22) ---

MAX_EVIDENCE_PHOTOS = 10  # per case or claim
EVIDENCE_SUBJECTS = ("case", "claim")


def subject_model(subject: str | None) -> type:
    """The model a photo attaches to: the item (QC photos), or the case or claim it is evidence for."""
    if subject == "case":
        from chalicelib.models.warehouse import AfterSalesCase

        return AfterSalesCase
    if subject == "claim":
        from chalicelib.models.claims import Claim

        return Claim
    from chalicelib.models.commerce import Item

    return Item


def request_evidence_upload(subject: str, target, user_id: str, content_type: str) -> dict:
    """A presigned POST for one evidence photo of `target` (an open case or claim of `user_id`, checked by
    the caller): the same key shape, bounds and S3-triggered ingestion as QC photos, attached to the
    case or claim instead of an item."""
    subject_id = getattr(target, type(target)._hash_key_attribute().attr_name)
    if len(_map(target.photos)) >= MAX_EVIDENCE_PHOTOS:
        raise Conflict(f"The {subject} already has {MAX_EVIDENCE_PHOTOS} photos.")
    return _presigned(subject_id, user_id, user_id, content_type, subject=subject)


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


def email_links(entries: list[dict]) -> list[str]:
    """Links for an email to these photo entries: the view copy (chalicelib/photo_urls.py: CloudFront signed
    URLs in AWS, which outlive the Lambda's credentials), else the original as a presigned GET."""
    return [
        photo_urls.url(entry["view_key"], email=True)
        if entry.get("view_key")
        else presigned_get(entry["key"], entry.get("content_type"), expires_in=photo_urls.S3_EMAIL_SECONDS)
        for entry in entries
    ]


def photo_list(item) -> list[dict]:
    """The item's ingested photos, oldest first, as [{"photo_id", "url", "thumbnail_url", ...}]: the
    original as a presigned GET valid for URL_EXPIRES_SECONDS (the bucket is private), the thumbnail and
    view copy through chalicelib/photo_urls.py (cacheable CloudFront signed URLs in AWS)."""
    entries = sorted(attached(item).items(), key=lambda pair: (str(pair[1].get("uploaded_at", "")), pair[0]))
    return [
        {
            "photo_id": photo_id,
            "url": presigned_get(entry["key"], entry.get("content_type")),
            "thumbnail_url": photo_urls.url(entry["thumb_key"]),
            # photos ingested before view copies existed have none
            **({"view_url": photo_urls.url(entry["view_key"])} if entry.get("view_key") else {}),
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


# --- photos of a package being packed (issue 24: the rehearsal's parcel) ---------------------------------

PACKAGE_ID_PREFIX = "pkg_"  # a photo key under qc/pkg_.../ is of a package, not an item
# a package is photographed while the warehouse packs it: paid (packing) or rehearsed (shown to the customer)
PACKAGE_PHOTOGRAPHABLE = lifecycle.PACKAGE.sources("rehearse", "confirm_packing")


def is_package_id(subject_id: str) -> bool:
    return subject_id.startswith(PACKAGE_ID_PREFIX)


def _package(package_id: str):
    from chalicelib.models.packages import Package

    try:
        return Package.get(package_id, consistent_read=True)
    except Package.DoesNotExist:
        raise NotFound("No such package.") from None


def request_package_upload(package_id: str, staff_id: str, content_type: str) -> dict:
    """A presigned POST for one photo of a package while the warehouse packs it (the rehearsal's photos)."""
    if not is_package_id(package_id):
        raise NotFound("No such package.")
    package = _package(package_id)
    if package.status not in PACKAGE_PHOTOGRAPHABLE:
        raise Conflict(
            f"The package is {package.status}: it is photographed while being packed "
            f"({', '.join(PACKAGE_PHOTOGRAPHABLE)})."
        )
    if len(_map(package.photos)) >= MAX_PHOTOS_PER_ITEM:
        raise Conflict(f"The package already has {MAX_PHOTOS_PER_ITEM} photos.")
    return _presigned(package_id, package.user_id, staff_id, content_type)


def package_photos(package_id: str, caller) -> list[dict]:
    """GET /packages/{package_id}/photos: the owner, or staff; 404 for anyone else."""
    if not is_package_id(package_id):
        raise NotFound("No such package.")
    package = _package(package_id)
    if not caller.in_group("warehouse", "reviewer") and package.user_id != caller.user_id:
        raise NotFound("No such package.")
    return photo_list(package)
