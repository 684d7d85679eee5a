"""RS256 checked without a crypto library (chalicelib/auth.py, issue 27): RFC 8017's RSASSA-PKCS1-V1_5-VERIFY
with SHA-256, the expected encoding rebuilt and compared. Tokens are signed here with `cryptography`, and
its own verify is the oracle the check must agree with; the forgeries are raw RSA (m^d mod n) of encoded
messages a lenient parser would accept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib import auth, clock
from chalicelib.errors import Unauthorized
from tests.conftest import ROOT

POOL = "ap-southeast-1_TestPool1"
CLIENT = "testclient0123456789abcdef"
KID = "key-1"
NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017 9.2, note 1
SHA1_PREFIX = bytes.fromhex("3021300906052b0e03021a05000414")  # the same note, SHA-1


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(public: rsa.RSAPublicKey, kid: str = KID, **extra) -> dict:
    numbers = public.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64(n), "e": b64(e), **extra}


def claims(**changes) -> dict:
    now = int(NOW.timestamp())
    base = {
        "sub": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "email": "alice@example.com",
        "aud": CLIENT,
        "iss": f"https://cognito-idp.ap-southeast-1.amazonaws.com/{POOL}",
        "token_use": "id",
        "iat": now - 60,
        "exp": now + 3600,
    }
    return {**base, **changes}


def signing_input(header: dict, payload: dict) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def sign(private: rsa.RSAPrivateKey, payload: dict | None = None, header: dict | None = None) -> str:
    """A JWT as Cognito makes it: RS256 (PKCS #1 v1.5, SHA-256) over `<header>.<payload>`."""
    text = signing_input({"kid": KID, "alg": "RS256", **(header or {})}, payload or claims())
    signature = private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{text}.{b64(signature)}"


def raw_sign(private: rsa.RSAPrivateKey, encoded: bytes) -> bytes:
    """RSASP1 of an arbitrary encoded message: what a forger's own encoding would be signed into."""
    numbers = private.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    assert len(encoded) == k
    return pow(int.from_bytes(encoded, "big"), numbers.d, n).to_bytes(k, "big")


def emsa(private: rsa.RSAPrivateKey, t: bytes, ps: int | None = None, tail: bytes = b"") -> bytes:
    """0x00 0x01 PS 0x00 T tail, PS `ps` octets of 0xFF (by default as many as fill k octets)."""
    k = (private.key_size + 7) // 8
    if ps is None:
        ps = k - len(t) - len(tail) - 3
    return b"\x00\x01" + b"\xff" * ps + b"\x00" + t + tail


def oracle(public: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def ours(public: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
    numbers = public.public_numbers()
    return auth._rs256_valid((numbers.n, numbers.e), message, signature)


@pytest.fixture
def pool(monkeypatch, key):
    """The stage's pool and client, its JWKS served by a stub of `_fetch` (what it returns is settable)."""
    served = {"keys": [jwk(key.public_key())]}
    fetches = []
    monkeypatch.setenv("USER_POOL_ID", POOL)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", CLIENT)
    monkeypatch.setenv("COGNITO_JWKS_URL", "https://jwks.test/keys.json")
    monkeypatch.setattr(auth, "_fetch", lambda url: fetches.append(url) or served)
    auth.jwks.clear()
    clock.set_now(NOW)
    yield served, fetches
    auth.jwks.clear()
    clock.set_now(None)


def authenticate(token: str) -> auth.Caller:
    return auth.authenticate(f"Bearer {token}")


def refused(token: str) -> str:
    with pytest.raises(Unauthorized) as raised:
        authenticate(token)
    assert raised.value.status == 401
    return raised.value.message


# --- the happy path and the token around the signature ----------------------------------------------


def test_a_token_signed_by_the_pools_key_is_accepted(pool, key):
    caller = authenticate(sign(key, claims(**{"cognito:groups": ["warehouse"]})))
    assert caller == auth.Caller("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "alice@example.com", ("warehouse",))
    assert pool[1] == ["https://jwks.test/keys.json"]


def test_a_flipped_bit_in_the_signature_header_or_payload_is_refused(pool, key):
    token = sign(key, header={"typ": "JWT"})
    authenticate(token)
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    for bit in (0, 7, 8, 1000, 2040, 2047):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert "signature does not verify" in refused(f"{header}.{payload}.{b64(bytes(flipped))}")
    # the header and the payload as JSON that still parses, each one bit away from what was signed:
    # "JWT" -> "JWU", "alice" -> "Alice", kid "key-1" -> "key-0"
    header_json = base64.urlsafe_b64decode(header + "==")
    payload_json = base64.urlsafe_b64decode(payload + "==")
    other_typ = b64(header_json.replace(b'"JWT"', b'"JWU"'))
    other_kid = b64(header_json.replace(b'"key-1"', b'"key-0"'))
    other_payload = b64(payload_json.replace(b'"alice@', b'"Alice@'))
    assert len({header, other_typ, other_kid}) == 3 and other_payload != payload
    assert "signature does not verify" in refused(f"{other_typ}.{payload}.{signature}")
    assert "signature does not verify" in refused(f"{header}.{other_payload}.{signature}")
    # a kid one bit away names no key of the pool: refused before any signature is checked
    assert "not signed by this user pool" in refused(f"{other_kid}.{payload}.{signature}")


def test_a_signature_of_the_wrong_length_is_refused(pool, key):
    header, payload, signature = sign(key).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    for wrong in (b"\x00" + raw, raw[1:], raw + b"\x00", b"", raw[:128]):
        assert "signature does not verify" in refused(f"{header}.{payload}.{b64(wrong)}")


def test_a_signature_representative_not_below_the_modulus_is_refused(key):
    """s + n raises to the same m as s: only the range check of RSAVP1 tells them apart."""
    public = key.public_key()
    n, e = public.public_numbers().n, public.public_numbers().e
    k = (n.bit_length() + 7) // 8
    for i in range(200):
        message = f"message {i}".encode()
        s = int.from_bytes(key.sign(message, padding.PKCS1v15(), hashes.SHA256()), "big")
        if (s + n).bit_length() <= 8 * k:
            break
    else:
        pytest.skip("no signature below 2^(8k) - n in 200 tries")
    bigger = (s + n).to_bytes(k, "big")
    assert pow(s + n, e, n) == pow(s, e, n)
    assert ours(public, message, s.to_bytes(k, "big"))
    assert not ours(public, message, bigger)
    assert not oracle(public, message, bigger)
    assert not ours(public, message, n.to_bytes(k, "big"))
    assert not ours(public, message, b"\xff" * k)


def test_keys_under_2048_bits_or_with_another_exponent_are_not_taken(pool, key):
    served, _ = pool
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    cube = rsa.generate_private_key(public_exponent=3, key_size=2048)
    served["keys"] = [jwk(small.public_key(), "small"), jwk(cube.public_key(), "cube")]
    assert auth._public_keys(served) == {}
    assert "not signed by this user pool" in refused(sign(small, header={"kid": "small"}))
    assert "not signed by this user pool" in refused(sign(cube, header={"kid": "cube"}))
    # the same parser takes the 2048-bit, e = 65537 key, as an int pair
    numbers = key.public_key().public_numbers()
    assert auth._public_keys({"keys": [jwk(key.public_key())]}) == {KID: (numbers.n, numbers.e)}


def test_malformed_and_foreign_jwks_entries_are_left_out(key):
    good = jwk(key.public_key())
    entries = [
        {**good, "kty": "EC"},
        {**good, "alg": "RS512"},
        {**good, "alg": "PS256"},
        {**good, "use": "enc"},
        {**good, "kid": 7},
        {**good, "n": 12345},
        {**good, "e": None},
        {k: v for k, v in good.items() if k != "n"},
        {**good, "e": b64((65537 + 2).to_bytes(3, "big"))},
        "not a key",
    ]
    assert auth._public_keys({"keys": entries}) == {}
    assert auth._public_keys({"keys": [*entries, good]}).keys() == {KID}
    assert auth._public_keys([good]) == {}


def test_alg_none_and_hs256_keyed_by_the_public_key_are_refused(pool, key):
    payload = claims()
    unsigned = signing_input({"kid": KID, "alg": "none"}, payload)
    assert "must be RS256" in refused(f"{unsigned}.")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (public_pem, public_pem.strip()):
        text = signing_input({"kid": KID, "alg": "HS256"}, payload)
        mac = hmac.new(secret, text.encode(), hashlib.sha256).digest()
        assert "must be RS256" in refused(f"{text}.{b64(mac)}")
        # and the same MAC under an RS256 header is no signature either
        rs_text = signing_input({"kid": KID, "alg": "RS256"}, payload)
        rs_mac = hmac.new(secret, rs_text.encode(), hashlib.sha256).digest()
        assert "signature does not verify" in refused(f"{rs_text}.{b64(rs_mac)}")


def test_a_pss_signature_is_refused(pool, key):
    text = signing_input({"kid": KID, "alg": "RS256"}, claims())
    pss = key.sign(
        text.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    assert "signature does not verify" in refused(f"{text}.{b64(pss)}")
    ps_header = signing_input({"kid": KID, "alg": "PS256"}, claims())
    assert "must be RS256" in refused(f"{ps_header}.{b64(pss)}")


@pytest.mark.parametrize(
    "forgery",
    [
        "sha1 digest info",
        "extra byte after the hash",
        "seven bytes of padding and garbage after the hash",
        "a non-ff byte in the padding",
        "block type 2",
        "digest info without the null parameters",
        "digest info with a long-form length",
        "no zero after the padding",
    ],
)
def test_encodings_a_lenient_parser_would_take_are_refused(pool, key, forgery):
    text = signing_input({"kid": KID, "alg": "RS256"}, claims())
    h = hashlib.sha256(text.encode()).digest()
    t = SHA256_PREFIX + h
    k = key.key_size // 8
    encoded = {
        "sha1 digest info": emsa(key, SHA1_PREFIX + hashlib.sha1(text.encode()).digest()),  # noqa: S324
        "extra byte after the hash": emsa(key, t, tail=b"\x00"),
        "seven bytes of padding and garbage after the hash": emsa(
            key, t, ps=7, tail=b"\x5a" * (k - 10 - len(t))
        ),
        "a non-ff byte in the padding": emsa(key, t)[:20] + b"\xfe" + emsa(key, t)[21:],
        "block type 2": b"\x00\x02" + emsa(key, t)[2:],
        "digest info without the null parameters": emsa(
            key, bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20" + h
        ),
        "digest info with a long-form length": emsa(
            key, bytes.fromhex("308131300d060960864801650304020105000420") + h
        ),
        "no zero after the padding": b"\x00\x01" + b"\xff" * (k - len(t) - 2) + t,
    }[forgery]
    assert len(encoded) == k
    signature = raw_sign(key, encoded)
    assert not oracle(key.public_key(), text.encode(), signature)
    assert "signature does not verify" in refused(f"{text}.{b64(signature)}")
    # the control: the right encoding, signed the same raw way, is accepted
    assert authenticate(f"{text}.{b64(raw_sign(key, emsa(key, t)))}").email == "alice@example.com"


def test_the_check_agrees_with_cryptographys_verify_on_random_keys_and_messages():
    rng = random.Random(27)
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=size) for size in (2048, 2048, 3072)]
    cases = 0
    for private in keys:
        public = private.public_key()
        other = keys[(keys.index(private) + 1) % len(keys)]
        for _ in range(12):
            message = rng.randbytes(rng.randrange(0, 300))
            good = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
            flipped = bytearray(good)
            flipped[rng.randrange(len(good))] ^= 1 << rng.randrange(8)
            changed = bytearray(message or b"\x00")
            changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
            candidates = [
                (message, good),
                (message, bytes(flipped)),
                (bytes(changed), good),
                (message, other.sign(message, padding.PKCS1v15(), hashes.SHA256())),
                (message, rng.randbytes(len(good))),
                (message, private.sign(message, padding.PKCS1v15(), hashes.SHA384())),
            ]
            for text, signature in candidates:
                assert ours(public, text, signature) == oracle(public, text, signature), (text, signature)
                cases += 1
            assert ours(public, message, good)
    assert cases >= 200


def test_a_signed_in_check_imports_no_crypto_library():
    """The point of issue 27's change: verifying a token loads neither cryptography nor PyJWT."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign(key)
    probe = (
        "import json, sys\n"
        "from datetime import datetime\n"
        "from chalicelib import auth, clock\n"
        f"clock.set_now(datetime.fromisoformat({NOW.isoformat()!r}))\n"
        f"auth._fetch = lambda url: {json.dumps({'keys': [jwk(key.public_key())]})}\n"
        f"caller = auth.authenticate({'Bearer ' + token!r})\n"
        "print(json.dumps([caller.email, sorted(m.split('.')[0] for m in sys.modules\n"
        "    if m.split('.')[0] in ('cryptography', 'jwt', 'OpenSSL', 'Crypto', 'rsa'))]))\n"
    )
    env = {"USER_POOL_ID": POOL, "USER_POOL_CLIENT_ID": CLIENT, "AWS_REGION": "ap-southeast-1", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["alice@example.com", []]
