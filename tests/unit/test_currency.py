"""The customer's currency: one conversion rule (decimal, half-up at the currency's minor units), the
margin in the customer's disfavour, converted bodies, and the ECB file's parsing (chalicelib/currency.py,
chalicelib/rate_sources.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib import currency, rate_sources
from chalicelib.currency import Display, applied_rate, convert_body, to_minor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rates"


def usd(rate="0.1445282444") -> Display:
    return Display(
        "USD",
        Decimal(rate),
        Decimal("0.1410031653"),
        Decimal("2.5"),
        "2026-11-27T12:10:00Z",
        "2026-11-27",
        "ecb",
    )


class TestOneRoundingRule:
    def test_cents_round_half_up_once(self):
        assert to_minor(1, "0.5", 2) == 1  # 0.5 cent -> 1
        assert to_minor(3, "0.5", 2) == 2  # 1.5 cents -> 2
        assert to_minor(2, "0.7", 2) == 1  # 1.4 cents -> 1
        assert to_minor(10000, "0.1445282444", 2) == 1445  # ¥100.00 -> $14.45

    def test_negative_amounts_round_symmetrically_away_from_zero(self):
        assert to_minor(-1, "0.5", 2) == -1
        assert to_minor(-3, "0.5", 2) == -2
        assert to_minor(-10000, "0.1445282444", 2) == -1445

    def test_yen_and_won_have_no_minor_units(self):
        assert currency.minor_units("JPY") == 0 and currency.minor_units("KRW") == 0
        assert to_minor(150, "1", 0) == 2  # ¥1.50 at 1 yen per CNY: 1.5 yen -> 2
        assert to_minor(149, "1", 0) == 1
        assert to_minor(25, "190", 0) == 48  # ¥0.25 * 190 = 47.5 won -> 48
        assert to_minor(100, "196.4", 0) == 196

    def test_rounding_happens_once_on_the_exact_product(self):
        # 0.333... cents each time, but converting 3 fen at once is 1 cent, not 0 + 0 + 0
        assert to_minor(3, "0.3333333333", 2) == 1
        assert sum(to_minor(1, "0.3333333333", 2) for _ in range(3)) == 0

    def test_amounts_must_be_integer_fen(self):
        with pytest.raises(TypeError):
            to_minor(1.5, "1", 2)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            to_minor(True, "1", 2)


class TestMargin:
    def test_the_margin_makes_every_cny_amount_cost_more_in_the_customers_currency(self):
        assert applied_rate(Decimal("0.14"), Decimal("2.5")) == Decimal("0.1435")
        assert applied_rate(Decimal("0.14"), Decimal("0")) == Decimal("0.14")
        assert to_minor(10000, applied_rate(Decimal("0.14"), Decimal("2.5")), 2) > to_minor(10000, "0.14", 2)

    def test_display_currency_rates_are_decimal_strings(self):
        shown = usd().as_json()
        assert shown == {
            "code": "USD",
            "minor_units": 2,
            "rate": "0.1445282444",
            "cny_per_unit": "6.919063",
            "rate_at": "2026-11-27T12:10:00Z",
            "source": "ecb",
            "margin_percent": "2.5",
        }

    def test_unsupported_codes_are_a_400_naming_the_supported_ones(self):
        from chalicelib.errors import ValidationError

        assert currency.check_code(" usd ") == "USD"
        for bad in ("XYZ", "", "CNY", "US", "USD1"):
            with pytest.raises(ValidationError, match="USD, EUR, GBP, AUD, CAD, JPY, KRW, SGD"):
                currency.check_code(bad)


class TestConvertedBodies:
    def test_every_fen_field_gets_a_minor_sibling_at_any_depth(self):
        body = {
            "total_fen": 10000,
            "items": [{"unit_price_fen": 2500, "quantity": 2}],
            "charges": {"bank_fee_fen": 0, "flag_fen": True, "note_fen": "x"},
            "next_cursor": None,
        }
        converted = convert_body(body, usd())
        assert converted["total_fen"] == 10000 and converted["total_minor"] == 1445
        assert converted["items"][0]["unit_price_minor"] == 361  # 361.32 cents
        assert converted["charges"]["bank_fee_minor"] == 0
        assert "flag_minor" not in converted["charges"] and "note_minor" not in converted["charges"]
        assert converted["display_currency"]["code"] == "USD"
        assert body == {  # the serialized body itself is left alone
            "total_fen": 10000,
            "items": [{"unit_price_fen": 2500, "quantity": 2}],
            "charges": {"bank_fee_fen": 0, "flag_fen": True, "note_fen": "x"},
            "next_cursor": None,
        }

    def test_snapshots_keep_their_own_rate(self):
        snap = currency.snapshot_json(usd("0.2").snapshot(), amount_fen=1000)
        converted = convert_body({"amount_fen": 1000, "fx_snapshot": snap}, usd())
        assert converted["fx_snapshot"]["amount_minor"] == 200  # at the snapshotted 0.2, not today's
        assert converted["amount_minor"] == 145


class TestEcbFile:
    def test_cny_cross_rates_are_derived_from_the_eur_based_file(self):
        published = rate_sources.parse_ecb((FIXTURES / "eurofxref-daily-2026-11-27.xml").read_bytes())
        assert published.source == "ecb" and published.rate_date == "2026-11-27"
        assert published.rate_at == "2026-11-27T12:10:00Z"
        assert published.missing == []
        assert published.rates["USD"] == Decimal("1.1582") / Decimal("8.2140")
        assert published.rates["EUR"] == 1 / Decimal("8.2140")
        assert published.rates["KRW"] == Decimal("1702.35") / Decimal("8.2140")
        assert set(published.rates) == set(currency.CURRENCIES)

    def test_a_currency_the_file_lacks_is_reported_missing(self):
        published = rate_sources.parse_ecb((FIXTURES / "eurofxref-daily-missing-krw.xml").read_bytes())
        assert published.missing == ["KRW"] and "KRW" not in published.rates and "USD" in published.rates

    @pytest.mark.parametrize(
        ("fixture", "problem"),
        [
            ("eurofxref-daily-missing-cny.xml", "no CNY rate"),
            ("eurofxref-daily-truncated.xml", "not XML"),
            ("ecb-maintenance.html", "DTD"),
        ],
    )
    def test_an_unusable_file_is_a_source_error(self, fixture, problem):
        with pytest.raises(rate_sources.SourceError, match=problem):
            rate_sources.parse_ecb((FIXTURES / fixture).read_bytes())

    def test_entities_are_refused_before_parsing(self):
        bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
        with pytest.raises(rate_sources.SourceError, match="DTD"):
            rate_sources.parse_ecb(bomb)

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
    def test_a_body_in_another_encoding_than_utf8_is_refused_even_without_a_visible_doctype(self, encoding):
        # the UTF-16 bytes of "<!DOCTYPE" are not b"<!DOCTYPE": an entity would reach the parser unseen
        text = (FIXTURES / "eurofxref-daily-2026-11-27.xml").read_text().replace("UTF-8", encoding.upper())
        text = text.replace("<gesmes:Envelope", '<!DOCTYPE e [<!ENTITY usd "1.1582">]><gesmes:Envelope', 1)
        text = text.replace("rate='1.1582'", "rate='&usd;'")
        with pytest.raises(rate_sources.SourceError, match="UTF-8"):
            rate_sources.parse_ecb(text.encode(encoding))

    def test_the_parser_refuses_a_utf16_entity_on_its_own(self, monkeypatch):
        # the second guard: with the encoding check out of the way, defusedxml still refuses the DTD
        monkeypatch.setattr(rate_sources, "_utf8_only", lambda body: None)
        bomb = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY usd "1.1">]><x>&usd;</x>'
        with pytest.raises(rate_sources.SourceError, match="DTD"):
            rate_sources.parse_ecb(bomb.encode("utf-16"))

    def test_another_declared_encoding_is_refused(self):
        body = (FIXTURES / "eurofxref-daily-2026-11-27.xml").read_bytes().replace(b"UTF-8", b"ISO-8859-1")
        with pytest.raises(rate_sources.SourceError, match="not UTF-8"):
            rate_sources.parse_ecb(body)

    def test_entities_are_refused_by_the_parser_however_the_markup_is_spelled(self):
        # whitespace and a parameter entity: no fixed byte pattern, the parser itself refuses DTDs
        for bomb in (
            b'<?xml version="1.0"?>\n<!DOCTYPE\tx [<!ENTITY % p "x">]><x/>',
            b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><!DOCTYPE x SYSTEM "http://e.x/d"><x/>',
        ):
            with pytest.raises(rate_sources.SourceError, match="DTD"):
                rate_sources.parse_ecb(bomb)

    def test_the_utf8_file_with_a_bom_is_read(self):
        published = rate_sources.parse_ecb(
            b"\xef\xbb\xbf" + (FIXTURES / "eurofxref-daily-2026-11-27.xml").read_bytes()
        )
        assert published.rates["USD"] == Decimal("1.1582") / Decimal("8.2140")

    def test_a_file_without_one_dated_cube_is_not_the_daily_file(self):
        with pytest.raises(rate_sources.SourceError, match="single dated"):
            rate_sources.parse_ecb(b"<root><Cube/></root>")
