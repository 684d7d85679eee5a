"""Identity: verify a Cognito ID token ourselves and turn its claims into a Caller.

API Gateway's Cognito authorizer is not run by `chalice local` or `chalice.test.Client` (and the local
emulation crashes on malformed tokens), so the check lives here and runs identically everywhere:
signature against the pool's JWKS, issuer, audience (app client id), `token_use` and expiry by our clock.

RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 section 3.3), checked here with Python's integers
(`_rs256_valid`) as RFC 8017 (PKCS #1 v2.2, https://www.rfc-editor.org/rfc/rfc8017) specifies it:
RSASSA-PKCS1-V1_5-VERIFY (section 8.2.2) refuses a signature S that is not k octets long (k: the
modulus's length in octets) and a representative s = OS2IP(S) that is not below n (RSAVP1, section
5.2.2), computes m = s^e mod n and EM = I2OSP(m, k), and compares EM with EMSA-PKCS1-V1_5-ENCODE(M, k)
(section 9.2): 0x00 0x01 PS 0x00 T, PS at least 8 octets 0xFF and T the DER DigestInfo of SHA-256,
30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 || H (section 9.2, note 1). The whole expected
encoding is rebuilt and compared (hmac.compare_digest), never parsed: parsing the padding is what let
forged signatures through in other verifiers (leniency in PS, trailing bytes after the hash, DigestInfo
parameters). Only keys like a Cognito user pool's are taken: RSA of at least 2048 bits with the public
exponent 65537. Cognito generates RSA key pairs per user pool and signs with RS256 (Amazon Cognito
Developer Guide, "Verifying a JSON web token"); a pool's published jwks.json holds keys
`"kty": "RSA", "alg": "RS256", "use": "sig", "e": "AQAB"` with 2048-bit moduli, as does moto's copy. A
JWK of another type, algorithm, use, size or exponent is left out of the key set.

Cost: no crypto library is imported for the check. `cryptography` (its 15 MB Rust extension, RSA,
hashes: ~6 ms of imports, measured with a warm page cache) is still in the layer for
photo URL signing (chalicelib/photo_urls.py), but a signed-in request no longer loads it; one
verification is ~0.15 ms of Python integer arithmetic (a 2048-bit pow with e = 65537). The JWKS is
fetched over botocore's HTTP stack (loaded anyway for DynamoDB): PyJWT (x509, its JWKS client) and
`requests` added ~250 ms of imports. It is fetched once per process (and again on an unknown `kid`, at
most every _JWKS_REFRESH_SECONDS); the cache is shared by threads under a lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass

from chalicelib import clock, config
from chalicelib.errors import Forbidden, NotFound, Unauthorized

STAFF_GROUPS = ("reviewer", "warehouse", "admin")
_JWKS_REFRESH_SECONDS = 300
# RFC 8017 section 9.2, note 1: the DER encoding of SHA-256's DigestInfo, up to the hash H
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_MIN_MODULUS_BITS = 2048
_PUBLIC_EXPONENT = 65537


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str
    groups: tuple[str, ...]

    def in_group(self, *groups: str) -> bool:
        """True if the caller is in one of `groups`; admin may do everything staff may."""
        return "admin" in self.groups or any(g in self.groups for g in groups)

    @property
    def is_staff(self) -> bool:
        return any(g in self.groups for g in STAFF_GROUPS)

    def as_json(self) -> dict:
        return {"user_id": self.user_id, "email": self.email, "groups": list(self.groups)}


def require_group(caller: Caller, *groups: str) -> None:
    """403 unless the caller is in one of `groups` (or admin)."""
    if not caller.in_group(*groups):
        raise Forbidden(f"This action needs one of the staff roles: {', '.join(groups)}.")


def require_owner(caller: Caller, owner_id: str | None, what: str = "resource") -> None:
    """404 (never 403) when the object belongs to someone else: its existence stays hidden."""
    if owner_id != caller.user_id:
        raise NotFound(f"No such {what}.")


def require_not_own(staff_id: str, owner_id: str | None, action: str) -> None:
    """403 when a staff member would decide on their own order or case (four eyes on money)."""
    if owner_id is not None and owner_id == staff_id:
        raise Forbidden(f"You cannot {action} your own order; another staff member must do it.")


def issuer() -> str:
    return f"https://cognito-idp.{config.region()}.amazonaws.com/{config.get('USER_POOL_ID')}"


def jwks_url() -> str:
    """The pool's JWKS: moto serves it at `<endpoint>/<pool id>/.well-known/jwks.json`."""
    explicit = config.get("COGNITO_JWKS_URL")
    if explicit:
        return explicit
    endpoint = config.endpoint_url()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{config.get('USER_POOL_ID')}/.well-known/jwks.json"
    return f"{issuer()}/.well-known/jwks.json"


class _JwksCache:
    def __init__(self) -> None:
        self._sets: dict[str, tuple[float, dict]] = {}  # url -> (fetched at, {kid: (n, e)})
        self._lock = threading.Lock()

    def key(self, url: str, kid: str) -> tuple[int, int] | None:
        with self._lock:
            fetched_at, keys = self._sets.get(url, (0.0, None))
            found = keys.get(kid) if keys is not None else None
            stale = time.monotonic() - fetched_at > _JWKS_REFRESH_SECONDS
            # an unknown kid triggers one refetch (key rotation), at most every few minutes
            if keys is None or (found is None and stale):
                keys = _public_keys(_fetch(url))
                self._sets[url] = (time.monotonic(), keys)
                found = keys.get(kid)
        return found

    def clear(self) -> None:
        self._sets.clear()


def _public_keys(jwks: dict) -> dict[str, tuple[int, int]]:
    """{kid: (n, e)} of a JWKS's RS256 signing keys; other, weak and malformed keys are left out."""
    keys = {}
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("alg", "RS256") != "RS256":
            continue
        if jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            n, e = _b64_int(jwk["n"]), _b64_int(jwk["e"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            continue
        if n.bit_length() < _MIN_MODULUS_BITS or e != _PUBLIC_EXPONENT:
            continue
        keys[jwk["kid"]] = (n, e)
    return keys


def _rs256_valid(key: tuple[int, int], message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-V1_5-VERIFY((n, e), message, signature) with SHA-256 (RFC 8017 section 8.2.2)."""
    n, e = key
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:  # RSAVP1: "signature representative out of range"
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    # k >= 256 octets (keys under 2048 bits are refused), so PS is always more than 8 octets
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(encoded, expected)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64_int(segment: str) -> int:
    return int.from_bytes(_b64(segment), "big")


def _fetch(url: str) -> dict:
    """GET the JWKS through botocore's HTTP session: its `before-send` hooks run as for an AWS call
    (moto answers there in tests), then urllib3 with botocore's CA bundle and the environment's proxies."""
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session
    from botocore.utils import get_environ_proxies

    from chalicelib import aws, xray

    request = AWSRequest(method="GET", url=url, headers={"Accept": "application/json"}).prepare()
    emitter = aws.botocore_session().get_component("event_emitter")
    # traced as requests' fetch was: a network call on the cold path
    with xray.subsegment("## cognito jwks"):
        _, response = emitter.emit_until_response("before-send.cognito-idp.JsonWebKeys", request=request)
        if response is None:
            response = URLLib3Session(proxies=get_environ_proxies(url), timeout=5).send(request)
    if response.status_code != 200:
        # our failure, not the caller's: a 500 (and its alarm), never a 401 that signs the user out
        raise RuntimeError(f"the user pool's keys could not be fetched from {url}: {response.status_code}")
    return json.loads(response.content)


jwks = _JwksCache()


def _verified_claims(token: str) -> dict:
    """The claims of an RS256 JWT whose signature one of the pool's keys verifies, else Unauthorized."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("Invalid token: not a JSON Web Token.")
    try:
        header, claims, signature = json.loads(_b64(parts[0])), json.loads(_b64(parts[1])), _b64(parts[2])
    except (ValueError, binascii.Error):
        raise Unauthorized("Invalid token: not a JSON Web Token.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unauthorized("Invalid token: not a JSON Web Token.")
    if header.get("alg") != "RS256":
        raise Unauthorized("Invalid token: the algorithm must be RS256.")
    key = jwks.key(jwks_url(), str(header.get("kid", "")))
    if key is None:
        raise Unauthorized("The token was not signed by this user pool.")
    if not _rs256_valid(key, f"{parts[0]}.{parts[1]}".encode(), signature):
        raise Unauthorized("Invalid token: the signature does not verify.")
    for claim in ("exp", "sub", "token_use"):
        if claim not in claims:
            raise Unauthorized(f'Invalid token: it has no "{claim}" claim.')
    if claims.get("iss") != issuer():
        raise Unauthorized("Invalid token: another issuer.")
    not_before = claims.get("nbf")
    if not_before is not None and (
        not isinstance(not_before, int | float) or not_before > clock.now().timestamp()
    ):
        raise Unauthorized("Invalid token: not valid yet.")
    return claims


def authenticate(authorization: str | None) -> Caller:
    """The Caller for an `Authorization: Bearer <ID token>` header, or 401."""
    if not authorization:
        raise Unauthorized("Sign in: send 'Authorization: Bearer <ID token>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("The Authorization header must be 'Bearer <ID token>'.")
    pool_id, client_id = config.get("USER_POOL_ID"), config.get("USER_POOL_CLIENT_ID")
    if not pool_id or not client_id:
        raise Unauthorized("Sign-in is not configured on this stage.")
    claims = _verified_claims(token)
    # the audience is checked after token_use: an access token has no `aud`, and its sender should hear
    # "send the ID token", not "missing aud claim"
    if claims.get("token_use") != "id":
        raise Unauthorized(
            "This is an access token: send the ID token instead ('Authorization: Bearer <ID token>': the "
            "IdToken of Cognito's InitiateAuth, or the id_token of managed login's token endpoint)."
        )
    if claims.get("aud") != client_id:
        raise Unauthorized("Invalid token: it was issued to another app client.")
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= clock.now().timestamp():
        raise Unauthorized("The token has expired; sign in again.")
    groups = claims.get("cognito:groups") or []
    return Caller(
        user_id=str(claims["sub"]),
        email=str(claims.get("email", "")),
        groups=tuple(sorted(str(g) for g in groups)),
    )
