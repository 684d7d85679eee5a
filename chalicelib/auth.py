"""Identity: verify a Cognito ID token ourselves and turn its claims into a Caller.

API Gateway's Cognito authorizer is not run by `chalice local` or `chalice.test.Client` (and the local
emulation crashes on malformed tokens), so the check lives here and runs identically everywhere:
signature against the pool's JWKS, issuer, audience (app client id), `token_use` and expiry by our clock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from chalicelib import clock, config
from chalicelib.errors import Forbidden, NotFound, Unauthorized

STAFF_GROUPS = ("reviewer", "warehouse", "admin")
_JWKS_REFRESH_SECONDS = 300


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
        self._sets: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def key(self, url: str, kid: str):
        import jwt

        with self._lock:
            fetched_at, keyset = self._sets.get(url, (0.0, None))
            found = _find(keyset, kid)
            stale = time.monotonic() - fetched_at > _JWKS_REFRESH_SECONDS
            # an unknown kid triggers one refetch (key rotation), at most every few minutes
            if keyset is None or (found is None and stale):
                keyset = jwt.PyJWKSet.from_dict(_fetch(url))
                self._sets[url] = (time.monotonic(), keyset)
                found = _find(keyset, kid)
        return found

    def clear(self) -> None:
        self._sets.clear()


def _find(keyset, kid: str):
    if keyset is None:
        return None
    for key in keyset.keys:
        if key.key_id == kid:
            return key
    return None


def _fetch(url: str) -> dict:
    import requests

    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return response.json()


jwks = _JwksCache()


def authenticate(authorization: str | None) -> Caller:
    """The Caller for an `Authorization: Bearer <ID token>` header, or 401."""
    import jwt

    if not authorization:
        raise Unauthorized("Sign in: send 'Authorization: Bearer <ID token>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("The Authorization header must be 'Bearer <ID token>'.")
    pool_id, client_id = config.get("USER_POOL_ID"), config.get("USER_POOL_CLIENT_ID")
    if not pool_id or not client_id:
        raise Unauthorized("Sign-in is not configured on this stage.")
    try:
        header = jwt.get_unverified_header(token)
        key = jwks.key(jwks_url(), header.get("kid", ""))
        if key is None:
            raise Unauthorized("The token was not signed by this user pool.")
        # the audience is checked after token_use: an access token has no `aud`, and its sender should hear
        # "send the ID token", not PyJWT's "missing aud claim"
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=issuer(),
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_aud": False,
                "require": ["exp", "sub", "token_use"],
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"Invalid token: {exc}.") from None
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
