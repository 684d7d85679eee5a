"""Photo view copies and thumbnails through CloudFront (issue 27): signed URLs that stay the same for a
day, so browsers cache them; verifiable with the key group's public key; presigned S3 GETs otherwise."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib import clock, photo_urls

DOMAIN = "d111111abcdef8.cloudfront.net"
KEY_ID = "K2JCJMDEHXQW5F"
VIEW = "views/itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A/pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7B.jpg"


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cloudfront(monkeypatch, key_pair):
    pem = key_pair.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    monkeypatch.setenv("PHOTO_URLS", "cloudfront")
    monkeypatch.setenv("PHOTO_CDN_DOMAIN", DOMAIN)
    monkeypatch.setenv("PHOTO_CDN_KEY_ID", KEY_ID)
    monkeypatch.setenv(photo_urls.PRIVATE_KEY, pem)
    photo_urls.reset()
    yield key_pair.public_key()
    photo_urls.reset()
    clock.set_now(None)


def _at(text: str) -> str:
    clock.set_now(datetime.fromisoformat(text))
    return photo_urls.url(VIEW)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_two_answers_on_the_same_day_give_the_same_url_and_the_next_day_another(cloudfront):
    morning, evening = _at("2026-12-06T00:00:01+00:00"), _at("2026-12-06T23:59:59+00:00")
    assert morning == evening  # the browser's cache key: one download a day, whatever the answer
    assert _at("2026-12-07T00:00:00+00:00") != morning
    assert morning.startswith(f"https://{DOMAIN}/{VIEW}?")
    assert _query(morning)["Key-Pair-Id"] == KEY_ID


def test_the_signature_is_the_canned_policy_signed_with_the_key_groups_key(cloudfront):
    """What CloudFront checks (its docs' canned policy and URL-safe base64), not what botocore says."""
    url = _at("2026-12-06T10:00:00+00:00")
    query = _query(url)
    resource = url.split("?", 1)[0]
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Resource": resource,
                    "Condition": {"DateLessThan": {"AWS:EpochTime": int(query["Expires"])}},
                }
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = base64.b64decode(query["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))
    cloudfront.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - CloudFront's
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def test_an_answers_url_works_one_to_two_days_and_an_emails_seven_to_eight(cloudfront):
    for moment in ("2026-12-06T00:00:00+00:00", "2026-12-06T13:30:00+00:00", "2026-12-06T23:59:59+00:00"):
        now = datetime.fromisoformat(moment)
        clock.set_now(now)
        answer = datetime.fromtimestamp(int(_query(photo_urls.url(VIEW))["Expires"]), UTC)
        email = datetime.fromtimestamp(int(_query(photo_urls.url(VIEW, email=True))["Expires"]), UTC)
        assert answer == datetime(2026, 12, 8, tzinfo=UTC)  # the end of the next day
        assert timedelta(days=1) <= answer - now <= timedelta(days=2)
        assert timedelta(days=7) <= email - now <= timedelta(days=8)  # the emails promise 7 days
    assert photo_urls.expiry(datetime(2026, 12, 31, 18, tzinfo=UTC), 1) == datetime(2027, 1, 2, tzinfo=UTC)


def test_without_cloudfront_the_urls_are_presigned_s3_gets(monkeypatch):
    monkeypatch.delenv("PHOTO_URLS", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert photo_urls.mode() == photo_urls.S3
    url = photo_urls.url(VIEW)
    assert f"/{VIEW}?" in url and "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url
    assert "X-Amz-Expires=604800" in photo_urls.url(VIEW, email=True)
    monkeypatch.setenv("PHOTO_URLS", "cloudfront")
    assert photo_urls.mode() == photo_urls.CLOUDFRONT


def test_cloudfront_without_a_signing_key_falls_back_to_presigned_gets(monkeypatch):
    monkeypatch.setenv("PHOTO_URLS", "cloudfront")
    monkeypatch.delenv(photo_urls.PRIVATE_KEY, raising=False)
    monkeypatch.delenv("PHOTO_CDN_KEY_SECRET", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    photo_urls.reset()
    assert "X-Amz-Signature=" in photo_urls.url(VIEW)  # the photo still shows, uncached


def test_a_photo_is_signed_once_a_day_per_container(cloudfront, monkeypatch):
    """An RSA signature costs ~1 ms: a list of 30 photos would sign 60 URLs on every answer."""
    signatures = []
    sign = photo_urls._rsa_sha1
    monkeypatch.setattr(photo_urls, "_rsa_sha1", lambda message: signatures.append(message) or sign(message))
    first = [_at("2026-12-06T08:00:00+00:00"), photo_urls.url(VIEW.replace("views/", "thumbs/"))]
    again = [_at("2026-12-06T20:00:00+00:00"), photo_urls.url(VIEW.replace("views/", "thumbs/"))]
    assert first == again and len(signatures) == 2
    _at("2026-12-07T00:00:01+00:00")  # a new day: a new expiry, signed once more
    assert len(signatures) == 3
