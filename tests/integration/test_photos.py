"""QC photos on in-process moto: presigned uploads, the S3 -> SQS -> ingestion path, replays, quarantine,
and who may see an item's photos."""

from __future__ import annotations

import base64
import io
import json
import logging
import random
from datetime import UTC, datetime

import pytest
import requests
from PIL import Image

from chalicelib import aws, clock, ids, photos
from chalicelib.events import photos as ingestion
from chalicelib.events.s3_records import S3Object
from chalicelib.models.commerce import Item
from chalicelib.models.photos import Photo
from chalicelib.responses.items import Item as ItemOut
from tests.images import phone_photo
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, WAREHOUSE

MB = 1024 * 1024


# --- helpers -------------------------------------------------------------------------------------


def image_bytes(fmt: str = "JPEG", size=(1200, 800), seed: int = 1) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for x in range(0, size[0], 40):
        for y in range(0, size[1], 40):
            img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 20, y + 20))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def make_item(api, owner: str = ALICE, status: str = "in_warehouse") -> str:
    item_id = ids.new_id("itm")
    Item(
        item_id,
        user_id=api.user_id(owner),
        status=status,
        title="Cotton T-shirt",
        props={"color": "black", "size": "M"},
        quantity=1,
        unit_price_fen=2500,
        created_at=clock.now_iso(),
    ).save()
    return item_id


def presign(api, item_id: str, content_type: str = "image/jpeg", user: str = WAREHOUSE) -> dict:
    result = api.post(f"/staff/items/{item_id}/photos", {"content_type": content_type}, user=user)
    assert result.status == 201, result.body
    return result.body


def put(stack, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
    aws.client("s3").put_object(Bucket=stack["bucket"], Key=key, Body=data, ContentType=content_type)


def drain(stack) -> list[dict]:
    """Every S3 notification waiting on the photo queue (the s3:TestEvent left out)."""
    sqs = aws.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=stack["photo_queue_url"], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return found
        found.extend(m for m in batch if '"Records"' in m["Body"])


def sqs_event(bodies: list[str], stack) -> dict:
    return {
        "Records": [
            {
                "messageId": f"msg-{n}",
                "receiptHandle": f"rh-{n}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": stack["photo_queue_arn"],
                "awsRegion": "ap-southeast-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def deliver(app_module, stack, bodies: list[str]) -> None:
    """What Lambda's SQS event source does: batches of 10 (batch_size in app.py) to the handler."""
    for start in range(0, len(bodies), 10):
        result = app_module.photo_events(sqs_event(bodies[start : start + 10], stack), None)
        assert result == {"batchItemFailures": []}


def deliver_queue(app_module, stack) -> list[str]:
    bodies = [m["Body"] for m in drain(stack)]
    deliver(app_module, stack, bodies)
    return bodies


def record(bucket: str, key: str, size: int, etag: str = "") -> str:
    """An S3 notification body as S3 sends it to SQS."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Post",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0A1B"},
                    },
                }
            ]
        }
    )


def exists(stack, key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=stack["bucket"], Key=key)
    except aws.client("s3").exceptions.ClientError:
        return False
    return True


def item_photos(item_id: str) -> dict:
    return photos.attached(Item.get(item_id, consistent_read=True))


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def warnings():
    handler = Captured()
    logger = logging.getLogger("procure.events.photos")
    disabled, logger.disabled = logger.disabled, False  # whatever configured logging before us
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    logger.disabled = disabled


# --- asking for an upload ------------------------------------------------------------------------


class TestPresign:
    def test_a_presigned_post_pinned_to_a_server_chosen_key(self, api):
        item_id = make_item(api)
        before = clock.now()
        body = presign(api, item_id)
        assert set(body) >= {"photo_id", "upload", "expires_in"}
        assert body["expires_in"] == 300
        photo_id = body["photo_id"]
        fields = body["upload"]["fields"]
        assert fields["key"] == f"qc/{item_id}/{photo_id}.jpg"
        assert fields["Content-Type"] == "image/jpeg"
        assert body["upload"]["url"].startswith("https://")
        policy = json.loads(base64.b64decode(fields["policy"]))
        assert {"Content-Type": "image/jpeg"} in policy["conditions"]
        assert ["content-length-range", 1, 10 * MB] in policy["conditions"]
        assert {"key": fields["key"]} in policy["conditions"]
        expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert 295 <= (expires - before).total_seconds() <= 305
        assert "x-amz-signature" in fields  # SigV4

        photo = Photo.get(photo_id)
        assert (photo.item_id, photo.user_id, photo.status) == (item_id, api.user_id(ALICE), "pending")
        assert photo.key == fields["key"] and photo.content_type == "image/jpeg"
        assert photo.created_by == api.user_id(WAREHOUSE)
        status = api.get(f"/staff/photos/{photo_id}", user=WAREHOUSE)
        assert status.status == 200 and status.body["status"] == "pending"

    @pytest.mark.parametrize(("content_type", "ext"), [("image/png", "png"), ("image/webp", "webp")])
    def test_each_allowed_type_gets_its_extension(self, api, content_type, ext):
        body = presign(api, make_item(api), content_type)
        assert body["upload"]["fields"]["key"].endswith(f"/{body['photo_id']}.{ext}")
        assert body["upload"]["fields"]["Content-Type"] == content_type

    def test_admin_may_ask_too(self, api):
        presign(api, make_item(api), user=ADMIN)

    @pytest.mark.parametrize("status", ["received", "in_warehouse", "inspection_issue", "not_transportable"])
    def test_any_item_physically_in_the_warehouse(self, api, status):
        presign(api, make_item(api, status=status))

    @pytest.mark.parametrize(
        "status", ["purchasing", "shipped_domestic", "in_package", "shipped", "cancelled"]
    )
    def test_items_not_in_the_warehouse_are_409(self, api, status):
        result = api.post(
            f"/staff/items/{make_item(api, status=status)}/photos",
            {"content_type": "image/png"},
            user=WAREHOUSE,
        )
        assert result.status == 409 and result.body["error"]["code"] == "conflict"

    def test_unknown_item_is_404(self, api):
        result = api.post("/staff/items/itm_nope/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE)
        assert result.status == 404 and result.body["error"]["code"] == "not_found"

    def test_roles(self, api):
        item_id = make_item(api)
        for user, status in ((ALICE, 403), (BOB, 403), (REVIEWER, 403), (None, 401)):
            result = api.post(f"/staff/items/{item_id}/photos", {"content_type": "image/jpeg"}, user=user)
            assert result.status == status, (user, result.body)
        assert api.get(f"/staff/photos/{ids.new_id('pho')}", user=ALICE).status == 403
        assert api.get(f"/staff/photos/{ids.new_id('pho')}", user=WAREHOUSE).status == 404
        assert list(Photo.scan()) == []

    def test_bad_bodies_are_400_and_store_nothing(self, api):
        item_id = make_item(api)
        bad = [
            {"content_type": "image/gif"},
            {"content_type": "text/html"},
            {"content_type": "image/svg+xml"},
            {"content_type": "IMAGE/JPEG"},
            {"content_type": ""},
            {"content_type": 5},
            {"content_type": ["image/jpeg"]},
            {"content_type": "image/jpeg", "key": "qc/other/evil.jpg"},
            {"content_type": "image/jpeg", "max_bytes": 10**9},
            {},
        ]
        for body in bad:
            result = api.post(f"/staff/items/{item_id}/photos", body, user=WAREHOUSE)
            assert result.status == 400, body
            assert result.body["error"]["code"] == "validation_error"
        for raw in ("not json", "[]", "null", ""):
            result = api.call("POST", f"/staff/items/{item_id}/photos", user=WAREHOUSE, raw=raw)
            assert result.status == 400, raw
        assert list(Photo.scan()) == []
        assert aws.client("s3").list_objects_v2(Bucket=api.stack["bucket"], Prefix="qc/")["KeyCount"] == 0


# --- ingestion -----------------------------------------------------------------------------------


class TestIngestion:
    def test_upload_is_attached_and_visible_to_the_owner_only(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        jpeg = image_bytes()
        put(stack, key, jpeg)
        assert len(deliver_queue(app_module, stack)) == 1

        seen = api.get(f"/items/{item_id}/photos", user=ALICE)
        assert seen.status == 200
        assert seen.body["next_cursor"] is None
        (photo,) = seen.body["items"]
        assert photo["photo_id"] == body["photo_id"]
        assert photo["content_type"] == "image/jpeg"
        assert (photo["width"], photo["height"], photo["size"]) == (1200, 800, len(jpeg))
        assert photo["uploaded_at"].endswith("Z")
        # short-lived presigned GETs, never a public URL
        for url in (photo["url"], photo["thumbnail_url"]):
            assert "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url
        assert requests.get(photo["url"], timeout=10).content == jpeg
        with Image.open(io.BytesIO(requests.get(photo["thumbnail_url"], timeout=10).content)) as thumb:
            assert thumb.format == "JPEG" and thumb.size == (320, 213)

        entry = item_photos(item_id)[body["photo_id"]]
        assert entry["key"] == key and entry["thumb_key"] == f"thumbs/{item_id}/{body['photo_id']}.jpg"
        assert Photo.get(body["photo_id"]).status == "ready"
        assert Photo.get(body["photo_id"]).expires_at is None  # no longer subject to TTL
        assert api.get(f"/staff/photos/{body['photo_id']}", user=WAREHOUSE).body["status"] == "ready"

        # the contract's item shape carries them too (orders, storage)
        shaped = ItemOut.of(Item.get(item_id)).photos
        assert [p.photo_id for p in shaped] == [body["photo_id"]] and shaped[0].url

        # another customer never learns the item exists; staff may look
        for user, status in ((BOB, 404), (WAREHOUSE, 200), (REVIEWER, 200), (ADMIN, 200), (None, 401)):
            assert api.get(f"/items/{item_id}/photos", user=user).status == status, user
        assert api.get("/items/itm_nope/photos", user=ALICE).status == 404
        assert api.get("/items/itm_nope/photos", user=WAREHOUSE).status == 404

    def test_a_phone_photo_gets_a_view_copy_of_at_most_1600_px_and_400_kb_next_to_its_original(
        self, api, app_module, stack
    ):
        """Issue 27: photos were shown as 3-4 MB originals; the answers now offer a view-size copy."""
        item_id = make_item(api)
        body = presign(api, item_id)
        original = phone_photo()
        assert len(original) > 3 * MB  # a phone's photo, not a toy image
        put(stack, body["upload"]["fields"]["key"], original)
        deliver_queue(app_module, stack)

        view_key = f"views/{item_id}/{body['photo_id']}.jpg"
        stored = aws.client("s3").get_object(Bucket=stack["bucket"], Key=view_key)
        view = stored["Body"].read()
        assert stored["ContentType"] == "image/jpeg"
        assert len(view) <= photos.VIEW_MAX_BYTES == 400_000
        with Image.open(io.BytesIO(view)) as img:
            assert img.format == "JPEG" and img.size == (1600, 1200)
        assert item_photos(item_id)[body["photo_id"]]["view_key"] == view_key

        (photo,) = api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]
        assert "X-Amz-Signature=" in photo["view_url"] and "X-Amz-Expires=900" in photo["view_url"]
        assert requests.get(photo["view_url"], timeout=10).content == view
        assert requests.get(photo["url"], timeout=10).content == original  # the original is still offered
        assert f"/{view_key}?" in ItemOut.of(Item.get(item_id)).photos[0].view_url  # orders, storage too

    def test_in_aws_views_and_thumbnails_are_cloudfront_urls_that_stay_the_same_within_a_day(
        self, api, app_module, stack, monkeypatch
    ):
        """Issue 27: presigned GETs changed on every answer, so browsers re-downloaded each photo; with
        PHOTO_URLS=cloudfront (the template's setting) two answers give the same, cacheable URLs."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        from chalicelib import photo_urls

        item_id = make_item(api)
        body = presign(api, item_id)
        put(stack, body["upload"]["fields"]["key"], image_bytes())
        deliver_queue(app_module, stack)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        monkeypatch.setenv("PHOTO_URLS", "cloudfront")
        monkeypatch.setenv("PHOTO_CDN_DOMAIN", "d111111abcdef8.cloudfront.net")
        monkeypatch.setenv("PHOTO_CDN_KEY_ID", "K2JCJMDEHXQW5F")
        monkeypatch.setenv(photo_urls.PRIVATE_KEY, pem.decode())
        photo_urls.reset()
        try:
            clock.set_now(datetime(2026, 12, 6, 9, tzinfo=UTC))
            (first,) = api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]
            clock.set_now(datetime(2026, 12, 6, 21, tzinfo=UTC))
            (again,) = api.get(f"/items/{item_id}/photos", user=WAREHOUSE).body["items"]
        finally:
            photo_urls.reset()
        for name, prefix in (("view_url", "views/"), ("thumbnail_url", "thumbs/")):
            assert first[name] == again[name], name  # the same URL for the owner and staff, all day
            assert first[name].startswith(f"https://d111111abcdef8.cloudfront.net/{prefix}{item_id}/"), name
            assert "Key-Pair-Id=K2JCJMDEHXQW5F" in first[name] and "X-Amz-" not in first[name]
        # the original stays a short presigned GET of the private bucket (disputes, zooming in)
        assert "X-Amz-Expires=900" in first["url"] and "cloudfront" not in first["url"]

    def test_a_photo_ingested_before_view_copies_answers_without_a_view_url(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        put(stack, body["upload"]["fields"]["key"], image_bytes())
        deliver_queue(app_module, stack)
        item = Item.get(item_id, consistent_read=True)
        entry = photos.attached(item)[body["photo_id"]]
        del entry["view_key"], entry["view_size"]
        item.photos = {body["photo_id"]: entry}  # as written before views existed
        item.save()

        (photo,) = api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]
        assert "view_url" not in photo and photo["url"] and photo["thumbnail_url"]

    def test_a_presigned_post_really_works(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id, "image/png")
        png = image_bytes("PNG", size=(400, 400))
        upload = body["upload"]
        sent = requests.post(
            upload["url"], data=upload["fields"], files={"file": ("shelf.png", png, "image/png")}, timeout=10
        )
        assert sent.status_code in (200, 201, 204), sent.text
        head = aws.client("s3").head_object(Bucket=stack["bucket"], Key=upload["fields"]["key"])
        assert head["ContentLength"] == len(png) and head["ContentType"] == "image/png"
        assert len(deliver_queue(app_module, stack)) == 1
        (photo,) = api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]
        assert photo["photo_id"] == body["photo_id"] and photo["content_type"] == "image/png"

    def test_each_notification_three_times_shuffled_gives_the_same_photos(
        self, api, app_module, stack, warnings
    ):
        item_id = make_item(api)
        other_item = make_item(api, owner=BOB, status="received")
        uploads = []
        for n, (content_type, fmt) in enumerate(
            [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP"), ("image/jpeg", "JPEG")]
        ):
            target = other_item if n == 3 else item_id
            body = presign(api, target, content_type)
            put(stack, body["upload"]["fields"]["key"], image_bytes(fmt, seed=n), content_type)
            uploads.append((target, body["photo_id"]))
        bad = presign(api, item_id)  # a non-image among them
        put(stack, bad["upload"]["fields"]["key"], b"<html>not a photo</html>")
        stray = f"qc/{item_id}/{ids.new_id('pho')}.jpg"  # a key nobody asked for
        put(stack, stray, image_bytes(seed=9))

        bodies = [m["Body"] for m in drain(stack)]
        assert len(bodies) == 6
        replay = bodies * 3
        random.Random(4).shuffle(replay)
        deliver(app_module, stack, replay)

        first = item_photos(item_id)
        assert set(first) == {photo_id for target, photo_id in uploads if target == item_id}
        assert set(item_photos(other_item)) == {uploads[3][1]}
        assert Photo.get(bad["photo_id"]).status == "rejected"
        assert not exists(stack, bad["upload"]["fields"]["key"]) and not exists(stack, stray)
        assert exists(stack, "quarantine/" + stray)
        version = Item.get(item_id, consistent_read=True).version
        listed = [p["photo_id"] for p in api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]]
        assert listed == [photo_id for target, photo_id in uploads if target == item_id]  # oldest first

        # and once more, in another order: nothing changes, not even the item's version
        random.Random(5).shuffle(replay)
        deliver(app_module, stack, replay)
        assert item_photos(item_id) == first
        assert Item.get(item_id, consistent_read=True).version == version
        thumbs = aws.client("s3").list_objects_v2(Bucket=stack["bucket"], Prefix="thumbs/")["KeyCount"]
        assert thumbs == 4
        assert [r.getMessage() for r in warnings].count(
            "photo quarantined"
        ) == 2  # once each, not per delivery

    def test_a_non_image_is_quarantined_not_attached_and_does_not_raise(
        self, api, app_module, stack, warnings
    ):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, b"MZ\x90\x00 definitely an executable, not a JPEG" * 100)
        deliver_queue(app_module, stack)  # returns normally: the batch is not poisoned

        assert item_photos(item_id) == {}
        assert api.get(f"/items/{item_id}/photos", user=ALICE).body["items"] == []
        assert not exists(stack, key) and exists(stack, "quarantine/" + key)
        photo = Photo.get(body["photo_id"])
        assert photo.status == "rejected" and photo.reject_reason == "not_an_allowed_image"
        assert api.get(f"/staff/photos/{body['photo_id']}", user=WAREHOUSE).body["reject_reason"]
        (warning,) = [r for r in warnings if r.getMessage() == "photo quarantined"]
        assert warning.levelname == "WARNING"
        assert (warning.key, warning.reason, warning.photo_id) == (
            key,
            "not_an_allowed_image",
            body["photo_id"],
        )

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (image_bytes("GIF"), "not_an_allowed_image"),
            (image_bytes("JPEG")[:3000], "undecodable_image"),  # truncated
            (b"", "empty"),
        ],
        ids=["gif", "truncated-jpeg", "empty"],
    )
    def test_other_bad_bytes_are_quarantined(self, api, stack, data, reason):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, data)
        assert (
            ingestion.ingest(S3Object(stack["bucket"], key, len(data), "", "", "ObjectCreated:Put"))
            == "quarantined"
        )
        assert Photo.get(body["photo_id"]).reject_reason == reason
        assert item_photos(item_id) == {}

    def test_a_small_png_of_too_many_pixels_is_quarantined_before_it_is_decoded(
        self, api, stack, monkeypatch
    ):
        """A 190 KB PNG of 7,000 x 7,000 RGBA peaked at 564 MB in the 512 MB ingestion function (crash,
        redelivery, dead letter); above PHOTO_MAX_PIXELS (16 MP) the header alone now refuses it."""
        from tests.images import bomb_png

        item_id = make_item(api)
        for data, limit in ((bomb_png(7000, 7000), None), (bomb_png(1000, 1000), "999999")):
            if limit:
                monkeypatch.setenv("PHOTO_MAX_PIXELS", limit)
            body = presign(api, item_id, "image/png")
            key = body["upload"]["fields"]["key"]
            put(stack, key, data, "image/png")
            assert (
                ingestion.ingest(S3Object(stack["bucket"], key, len(data), "", "", "ObjectCreated:Put"))
                == "quarantined"
            )
            assert Photo.get(body["photo_id"]).reject_reason == "too_many_pixels"
            assert exists(stack, "quarantine/" + key)
        assert item_photos(item_id) == {}

    def test_a_png_under_a_jpeg_key_is_fine_and_reported_as_png(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id, "image/jpeg")
        put(stack, body["upload"]["fields"]["key"], image_bytes("PNG"), "image/jpeg")
        deliver_queue(app_module, stack)
        (photo,) = api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]
        assert photo["content_type"] == "image/png"
        assert requests.get(photo["url"], timeout=10).headers["Content-Type"] == "image/png"

    @pytest.mark.parametrize(
        "key",
        [
            "qc/notes.txt",
            "qc/itm_x/y/z.jpg",
            "qc/{item}/{unknown_photo}.jpg",  # the right shape, but no upload was asked for
            "qc/{other_item}/{photo}.jpg",  # a real photo id under another item
        ],
    )
    def test_objects_under_unknown_keys_are_quarantined(self, api, app_module, stack, key):
        item_id, other = make_item(api), make_item(api)
        body = presign(api, item_id)
        key = key.format(
            item=item_id, unknown_photo=ids.new_id("pho"), other_item=other, photo=body["photo_id"]
        )
        put(stack, key, image_bytes())
        deliver_queue(app_module, stack)
        assert not exists(stack, key) and exists(stack, "quarantine/" + key)
        assert item_photos(item_id) == {} and item_photos(other) == {}
        # the genuine upload was not spoiled by a stray object naming its photo id
        assert Photo.get(body["photo_id"]).status == "pending"
        put(stack, body["upload"]["fields"]["key"], image_bytes())
        deliver_queue(app_module, stack)
        assert set(item_photos(item_id)) == {body["photo_id"]}

    def test_an_oversize_object_is_quarantined_not_attached(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, image_bytes())
        real = drain(stack)  # S3's own notification, delivered after the oversize one below
        deliver(app_module, stack, [record(stack["bucket"], key, 11 * MB)])
        assert Photo.get(body["photo_id"]).reject_reason == "too_large"
        assert not exists(stack, key) and exists(stack, "quarantine/" + key)
        deliver(app_module, stack, [m["Body"] for m in real])
        assert item_photos(item_id) == {}

    def test_an_object_over_the_limit_is_never_read_whole(self, api, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, image_bytes() + b"\0" * (10 * MB))  # the event may understate; S3 does not
        obj = S3Object(stack["bucket"], key, 1000, "", "", "ObjectCreated:Put")
        assert ingestion.ingest(obj) == "quarantined"
        assert Photo.get(body["photo_id"]).reject_reason == "too_large"

    def test_an_object_already_gone_is_a_duplicate(self, api, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        obj = S3Object(stack["bucket"], key, 1000, "abc", "", "ObjectCreated:Post")
        assert ingestion.ingest(obj) == "duplicate"
        assert (
            ingestion.ingest(S3Object(stack["bucket"], "qc/junk.bin", 5, "", "", "ObjectCreated:Put"))
            == "duplicate"
        )
        assert item_photos(item_id) == {}

    def test_replays_work_where_s3_answers_403_for_missing_keys(self, api, app_module, stack, monkeypatch):
        """In AWS the functions have no s3:ListBucket, so S3 says AccessDenied (not NoSuchKey) for an
        object an earlier delivery moved away: the replays must still be duplicates, not failures."""
        from botocore.exceptions import ClientError

        s3 = aws.client("s3")
        for name in ("get_object", "copy_object", "head_object"):
            real = getattr(s3, name)

            def denied(_real=real, _name=name, **kwargs):
                try:
                    return _real(**kwargs)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                        raise
                    raise ClientError(
                        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, _name
                    ) from None

            monkeypatch.setattr(s3, name, denied)

        item_id = make_item(api)
        good, bad = presign(api, item_id), presign(api, item_id)
        put(stack, good["upload"]["fields"]["key"], image_bytes())
        put(stack, bad["upload"]["fields"]["key"], b"plain text")
        put(stack, "qc/stray.txt", b"plain text")
        replay = [m["Body"] for m in drain(stack)] * 3
        random.Random(1).shuffle(replay)
        deliver(app_module, stack, replay)
        assert set(item_photos(item_id)) == {good["photo_id"]}
        assert Photo.get(bad["photo_id"]).status == "rejected"
        assert exists(stack, "quarantine/qc/stray.txt")

    def test_an_interrupted_quarantine_is_finished_by_the_redelivery(self, api, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, b"not an image")
        # a delivery moved the object, then died before rejecting the photo
        s3 = aws.client("s3")
        s3.copy_object(
            Bucket=stack["bucket"],
            Key="quarantine/" + key,
            CopySource={"Bucket": stack["bucket"], "Key": key},
        )
        s3.delete_object(Bucket=stack["bucket"], Key=key)
        assert (
            ingestion.ingest(S3Object(stack["bucket"], key, 12, "e1", "", "ObjectCreated:Post"))
            == "duplicate"
        )
        photo = Photo.get(body["photo_id"])
        assert (photo.status, photo.reject_reason) == ("rejected", "quarantined")
        assert item_photos(item_id) == {}

    def test_objects_outside_qc_and_other_buckets_are_left_alone(self, api, stack):
        put(stack, "catalog/prd_1/0.jpg", b"not checked here")
        for obj in (
            S3Object(stack["bucket"], "catalog/prd_1/0.jpg", 16, "", "", "ObjectCreated:Put"),
            S3Object("someone-elses-bucket", "qc/a/b.jpg", 16, "", "", "ObjectCreated:Put"),
        ):
            assert ingestion.ingest(obj) == "ignored"
        assert exists(stack, "catalog/prd_1/0.jpg")

    def test_a_transient_error_in_a_batch_of_ten_redelivers_only_that_message(
        self, api, app_module, stack, monkeypatch
    ):
        from botocore.exceptions import ClientError

        item_id = make_item(api)
        uploads = [presign(api, item_id) for _ in range(10)]
        for n, upload in enumerate(uploads):
            put(stack, upload["upload"]["fields"]["key"], image_bytes(seed=n))
        bodies = [m["Body"] for m in drain(stack)]
        assert len(bodies) == 10
        unlucky = uploads[6]["upload"]["fields"]["key"]
        s3 = aws.client("s3")
        real_get_object = s3.get_object

        def slow_down_once(**kwargs):
            if kwargs["Key"] == unlucky:
                raise ClientError(
                    {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                    "GetObject",
                )
            return real_get_object(**kwargs)

        monkeypatch.setattr(s3, "get_object", slow_down_once)
        event = sqs_event(bodies, stack)
        answer = app_module.photo_events(event, None)
        (failed,) = [r for r in event["Records"] if uploads[6]["photo_id"] in r["body"]]
        assert answer == {"batchItemFailures": [{"itemIdentifier": failed["messageId"]}]}
        assert set(item_photos(item_id)) == {u["photo_id"] for u in uploads} - {uploads[6]["photo_id"]}
        assert Photo.get(uploads[6]["photo_id"]).status == "pending"
        monkeypatch.undo()
        deliver(app_module, stack, [failed["body"]])  # SQS redelivers that message alone
        assert set(item_photos(item_id)) == {u["photo_id"] for u in uploads}

    def test_a_bad_object_replacing_an_attached_photo_detaches_it(self, api, app_module, stack):
        """The presigned POST stays usable for 5 minutes: a second upload to the same key is checked too."""
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, image_bytes())
        first = drain(stack)
        deliver(app_module, stack, [m["Body"] for m in first])
        assert set(item_photos(item_id)) == {body["photo_id"]}
        put(stack, key, b"replaced by something else")
        deliver_queue(app_module, stack)
        deliver(app_module, stack, [m["Body"] for m in first])  # the old notification again
        assert item_photos(item_id) == {}
        assert Photo.get(body["photo_id"]).status == "rejected"
        assert not exists(stack, f"thumbs/{item_id}/{body['photo_id']}.jpg")

    def test_a_valid_replacement_refreshes_the_photo(self, api, app_module, stack):
        item_id = make_item(api)
        body = presign(api, item_id)
        key = body["upload"]["fields"]["key"]
        put(stack, key, image_bytes(size=(600, 600)))
        deliver_queue(app_module, stack)
        put(stack, key, image_bytes(size=(800, 400), seed=2))
        deliver_queue(app_module, stack)
        (entry,) = item_photos(item_id).values()
        assert (entry["width"], entry["height"]) == (800, 400)


class TestListing:
    def test_pages_oldest_first(self, api, app_module, stack):
        item_id = make_item(api)
        made = []
        for n in range(3):
            body = presign(api, item_id)
            put(stack, body["upload"]["fields"]["key"], image_bytes(size=(200, 200), seed=n))
            made.append(body["photo_id"])
        deliver_queue(app_module, stack)
        seen, cursor = [], None
        while True:
            path = f"/items/{item_id}/photos?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(path, user=ALICE)
            assert page.status == 200 and len(page.body["items"]) <= 2
            seen.extend(p["photo_id"] for p in page.body["items"])
            cursor = page.body["next_cursor"]
            if cursor is None:
                break
        assert seen == made
        for bad in ("?limit=0", "?limit=101", "?limit=x", "?cursor=nonsense", "?cursor=e30"):
            assert api.get(f"/items/{item_id}/photos{bad}", user=ALICE).status == 400, bad

    def test_an_item_without_photos(self, api):
        item_id = make_item(api, status="purchasing")
        assert api.get(f"/items/{item_id}/photos", user=ALICE).body == {"items": [], "next_cursor": None}
        assert api.get(f"/items/{item_id}/photos", user=BOB).status == 404
