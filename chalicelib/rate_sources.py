"""Where exchange rates come from: a central bank's published reference rates (docs/currencies.md).

`fetch()` asks the source named by CURRENCY_SOURCE (default `ecb`) and returns the rates of the
supported currencies as units per 1 CNY (reference rates, no margin), with the date they were
published for. A source that fails (HTTP error, timeout, a body that is not its format, no CNY rate)
raises `SourceError`; nothing is stored then and the rates in force age towards staleness.

The ECB adapter reads `eurofxref-daily.xml` from ECB_BASE_URL (the real site by default; the tests
replay recorded answers through the HTTP layer). Its rates are EUR-based (units per 1 EUR), so CNY cross
rates are derived: units of X per CNY = (X per EUR) / (CNY per EUR), and EUR per CNY = 1 / (CNY per EUR).
One GET per run, an explicit timeout, a bounded body; a currency the file does not list is reported
missing (its previous rate stays, ageing), the others are still used.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from chalicelib import config, xray
from chalicelib.currency import CURRENCIES

ECB_PATH = "/stats/eurofxref/eurofxref-daily.xml"
ECB_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
# the ECB fixes its rates at the 14:10 CET concertation; stamped 12:10 UTC (14:10 in summer time), so
# in winter a rate looks an hour older than it is: staleness errs on the safe side
ECB_FIXING_TIME_UTC = "12:10:00Z"
MAX_BODY_BYTES = 256 * 1024  # the daily file is about 1.5 KB
# the XML declaration's encoding, if any (the ECB declares UTF-8)
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*\bencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_OTHER_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


class SourceError(Exception):
    """The source could not give usable rates (nothing is stored)."""


@dataclass(frozen=True)
class Published:
    source: str
    rate_date: str  # yyyy-mm-dd
    rate_at: str  # ISO 8601 UTC
    rates: dict[str, Decimal]  # code -> units per 1 CNY, reference (no margin)
    missing: list[str] = field(default_factory=list)  # supported codes the source did not give


def _get(url: str) -> bytes:
    import requests

    timeout = float(config.get("CURRENCY_SOURCE_TIMEOUT_SECONDS"))
    try:
        with (
            xray.http_call("GET", url) as traced,
            requests.get(url, timeout=timeout, stream=True, headers={"Accept": "application/xml"}) as answer,
        ):
            traced.set_status(answer.status_code)
            if answer.status_code != 200:
                raise SourceError(f"{url} answered HTTP {answer.status_code}")
            body = b""
            for chunk in answer.iter_content(16 * 1024):
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise SourceError(f"{url} answered more than {MAX_BODY_BYTES} bytes")
            return body
    except requests.RequestException as exc:
        raise SourceError(f"{url} could not be read: {type(exc).__name__}") from None


def _utf8_only(body: bytes) -> None:
    """SourceError unless `body` is UTF-8 (what the ECB publishes): a byte check of the markup cannot see
    through another encoding, so nothing else reaches the parser."""
    if body.startswith(_OTHER_BOMS) or b"\x00" in body:
        raise SourceError("the ECB answer is not UTF-8 (UTF-16/32); refused")
    declared = _DECLARED_ENCODING.match(body.removeprefix(codecs.BOM_UTF8))
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise SourceError(f"the ECB answer declares encoding {declared.group(1)[:20]!r}, not UTF-8; refused")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("the ECB answer is not UTF-8; refused") from None


def parse_ecb(body: bytes) -> Published:
    """The ECB daily file -> rates per CNY. SourceError when it is not that file or lacks CNY."""
    _utf8_only(body)
    try:
        # defusedxml: a DTD, entity declarations and external references are refused, whatever the bytes
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise SourceError("the ECB answer declares a DTD or entities; refused") from None
    except ET.ParseError as exc:
        raise SourceError(f"the ECB answer is not XML: {exc}") from None
    dated = [c for c in root.iter(f"{ECB_NAMESPACE}Cube") if c.get("time")]
    if len(dated) != 1:
        raise SourceError("the ECB answer has no single dated <Cube time=...> (not eurofxref-daily.xml)")
    day = dated[0].get("time", "")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise SourceError(f"the ECB answer's date {day[:20]!r} is not yyyy-mm-dd") from None
    per_eur: dict[str, Decimal] = {}
    for cube in dated[0].iter(f"{ECB_NAMESPACE}Cube"):
        code, raw = cube.get("currency"), cube.get("rate")
        if not code or raw is None:
            continue
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            continue  # an unreadable rate counts as missing
        if value.is_finite() and value > 0:
            per_eur[code.strip().upper()] = value
    cny = per_eur.get("CNY")
    if cny is None:
        raise SourceError("the ECB answer has no CNY rate: no cross rate can be derived")
    per_eur["EUR"] = Decimal(1)
    rates = {code: per_eur[code] / cny for code in CURRENCIES if code in per_eur}
    return Published(
        source="ecb",
        rate_date=day,
        rate_at=f"{day}T{ECB_FIXING_TIME_UTC}",
        rates=rates,
        missing=[code for code in CURRENCIES if code not in rates],
    )


def ecb() -> Published:
    return parse_ecb(_get(config.get("ECB_BASE_URL").rstrip("/") + ECB_PATH))


SOURCES = {"ecb": ecb}


def fetch() -> Published:
    name = config.get("CURRENCY_SOURCE")
    if name not in SOURCES:
        raise SourceError(f"CURRENCY_SOURCE {name!r} is not one of {', '.join(SOURCES)}")
    return SOURCES[name]()
