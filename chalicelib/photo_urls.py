"""Where a photo's view copy and thumbnail are fetched from: CloudFront signed URLs in AWS, presigned S3
GETs elsewhere (moto has no CloudFront), chosen by PHOTO_URLS (`cloudfront` | `s3`).

CloudFront (`PHOTO_URLS=cloudfront`, set by infra/template.py): the photo distribution serves the
bucket's `views/` and `thumbs/` through origin access control and accepts only URLs signed with the
private key of its trusted key group (canned policy, RSA-SHA1, `botocore.signers.CloudFrontSigner`).
A URL's expiry is rounded up to a UTC day boundary (`expiry`): every answer that shows a photo on the
same day carries the same URL, so browsers cache the image across answers and pages, and CloudFront
caches it at the edge whatever the signature (its cache key leaves the query string out). A URL works
for 1-2 days in answers, for EMAIL_LINK_DAYS-EMAIL_LINK_DAYS+1 in emails: its signature depends on the
key pair only, not on the Lambda's temporary credentials, whose presigned S3 GETs stop working when the
session that signed them expires (hours), whatever their X-Amz-Expires says.

The private key (PEM) is PHOTO_CDN_PRIVATE_KEY in the environment (tests), else the Secrets Manager
secret PHOTO_CDN_KEY_SECRET names (`<prefix>/photo-signing-key`, its own secret so that ingestion and
the outbox read no payment or marketplace credentials), read once per container and cached; the key
pair id is PHOTO_CDN_KEY_ID and the distribution's domain PHOTO_CDN_DOMAIN. Cost: signing is local
(no AWS request beyond the one secret read per container), ~1 ms of RSA per URL, and each URL is kept
(SIGNED_CACHE_SIZE) so a photo is signed once a day per container.
"""

from __future__ import annotations

import functools
import os
import threading
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote

from chalicelib import aws, clock, config
from chalicelib.logs import get_logger

log = get_logger("photo_urls")

CLOUDFRONT = "cloudfront"
S3 = "s3"
PRIVATE_KEY = "PHOTO_CDN_PRIVATE_KEY"  # the environment's name for the PEM (tests, local runs)
ANSWER_LINK_DAYS = 1  # an answer's URL lives to the end of the next UTC day: 24-48 hours
EMAIL_LINK_DAYS = 7  # what the emails promise ("These links work for 7 days")
S3_ANSWER_SECONDS = 900  # presigned S3 GETs in answers: as before (chalicelib/photos.py)
S3_EMAIL_SECONDS = 7 * 24 * 3600  # SigV4's longest
SIGNED_CACHE_SIZE = 4096  # signed URLs kept per container (~300 bytes each)

_key = None
_lock = threading.Lock()


def mode() -> str:
    return CLOUDFRONT if config.get("PHOTO_URLS") == CLOUDFRONT else S3


def expiry(now: datetime, days: int) -> datetime:
    """The end of the UTC day `days` after `now`'s: the same for every `now` of one day, and at least
    `days` x 24 hours, at most one day more, ahead."""
    day = now.astimezone(UTC).date() + timedelta(days=days + 1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def _private_key():
    """The signing key (cached per container); None when neither the environment nor the secret has it."""
    global _key
    with _lock:
        if _key is None:
            pem = os.environ.get(PRIVATE_KEY, "") or _from_secret()
            if not pem:
                return None
            from cryptography.hazmat.primitives import serialization

            # our own key from our own secret: its validation (~90 ms of a request) proves nothing here
            _key = serialization.load_pem_private_key(
                pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
            )
        return _key


def _from_secret() -> str:
    secret_id = config.get("PHOTO_CDN_KEY_SECRET")
    if not secret_id:
        return ""
    try:
        return str(aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]).strip()
    except Exception as exc:
        log.error("photo signing key unreadable", extra={"error": type(exc).__name__})
        return ""


def reset() -> None:
    """Forget the cached key (tests change it)."""
    global _key
    with _lock:
        _key = None
    _signed.cache_clear()


def _rsa_sha1(message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    # CloudFront's canned-policy signature is RSA-SHA1 (PKCS#1 v1.5) of the policy
    return _private_key().sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def signed_url(key: str, expires: datetime) -> str:
    """The CloudFront URL of the object `key`, signed to work until `expires`."""
    return _signed(config.get("PHOTO_CDN_DOMAIN"), config.get("PHOTO_CDN_KEY_ID"), key, expires)


# an RSA signature costs ~1 ms: a photo list of 30 photos signs 60 URLs once a day per container, then
# answers from here (the URL of a key and an expiry never changes)
@functools.lru_cache(maxsize=SIGNED_CACHE_SIZE)
def _signed(domain: str, key_id: str, key: str, expires: datetime) -> str:
    from botocore.signers import CloudFrontSigner

    return CloudFrontSigner(key_id, _rsa_sha1).generate_presigned_url(
        f"https://{domain}/{quote(key)}", date_less_than=expires
    )


def _presigned(key: str, seconds: int) -> str:
    params = {"Bucket": config.get("PHOTO_BUCKET"), "Key": key, "ResponseContentType": "image/jpeg"}
    return aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)


def url(key: str, *, email: bool = False) -> str:
    """A URL for a view copy or thumbnail (a JPEG under views/ or thumbs/): in an answer, or in an email."""
    if mode() == CLOUDFRONT:
        if _private_key() is not None:
            return signed_url(key, expiry(clock.now(), EMAIL_LINK_DAYS if email else ANSWER_LINK_DAYS))
        log.error("no photo signing key: presigned S3 GETs instead of CloudFront", extra={"key": key})
    return _presigned(key, S3_EMAIL_SECONDS if email else S3_ANSWER_SECONDS)
