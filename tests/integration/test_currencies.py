"""The customer's currency end to end: the ECB adapter through its HTTP layer (recorded answers replayed),
the exchange_rates job, GET /currencies, ?currency= and the saved preference on every converted route,
stale rates, and refunds at the snapshotted rate (docs/currencies.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib import clock, currency, rate_sources
from chalicelib.currency import to_minor
from chalicelib.jobs import exchange_rates
from chalicelib.models.currency import CURRENT, ExchangeRate
from infra.local.job import scheduled_event
from infra.local.seed import DEMO_RATES
from tests.integration.conftest import ALICE, BOB, REVIEWER, send_webhook, top_up
from tests.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rates"
FRIDAY = FIXTURES / "eurofxref-daily-2026-11-27.xml"
MONDAY = FIXTURES / "eurofxref-daily-2026-11-30.xml"
XML = "text/xml"
SATURDAY_MORNING = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
# Friday's file: USD 1.1582 and CNY 8.2140 per EUR -> 0.1410031653 USD per CNY, x 1.025 margin
FRIDAY_USD = Decimal("0.1445282444")
TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}


@pytest.fixture
def ecb(monkeypatch):
    """A replay server standing in for www.ecb.europa.eu (ECB_BASE_URL points at it)."""
    with ReplayServer() as server:
        monkeypatch.setenv("ECB_BASE_URL", server.url)
        server.add("GET", rate_sources.ECB_PATH, 200, FRIDAY.read_bytes(), content_type=XML)
        yield server


def answer(server: ReplayServer, fixture: str | Path, status: int = 200, **kw) -> None:
    path = fixture if isinstance(fixture, Path) else FIXTURES / fixture
    server.add("GET", rate_sources.ECB_PATH, status, path.read_bytes(), content_type=XML, **kw)


def rows(code: str) -> list[ExchangeRate]:
    return list(ExchangeRate.query(code))


def fresh_rates(day_offset: int = 0, **rates: str) -> None:
    """Rates in force stamped now (like the local stack's seed), with `rates` overriding the demo ones;
    `day_offset` dates them later (a newer publication replaces the rates in force)."""
    now = clock.now()
    wanted = {**DEMO_RATES, **rates}
    currency.store(
        {code: Decimal(value) for code, value in wanted.items()},
        source="demo",
        rate_date=(now.date() + timedelta(days=day_offset)).isoformat(),
        rate_at=clock.iso(now),
    )


def applied(code: str) -> Decimal:
    return currency.rate_in_force(code).rate


# --- the ECB adapter, through the HTTP layer --------------------------------------------------------


class TestEcbAdapter:
    def test_reads_the_daily_file_and_derives_cny_cross_rates(self, ecb):
        published = rate_sources.fetch()
        assert [(r.method, r.path) for r in ecb.requests] == [("GET", "/stats/eurofxref/eurofxref-daily.xml")]
        assert published.rate_date == "2026-11-27" and published.missing == []
        assert published.rates["USD"] == Decimal("1.1582") / Decimal("8.2140")
        assert published.rates["JPY"] == Decimal("181.42") / Decimal("8.2140")

    def test_an_http_error_is_a_source_error(self, ecb):
        answer(ecb, "ecb-maintenance.html", status=503)
        with pytest.raises(rate_sources.SourceError, match="HTTP 503"):
            rate_sources.fetch()

    def test_a_malformed_answer_is_a_source_error(self, ecb):
        answer(ecb, "eurofxref-daily-truncated.xml")
        with pytest.raises(rate_sources.SourceError, match="not XML"):
            rate_sources.fetch()

    def test_a_missing_currency_is_reported_and_the_others_kept(self, ecb):
        answer(ecb, "eurofxref-daily-missing-krw.xml")
        published = rate_sources.fetch()
        assert published.missing == ["KRW"] and len(published.rates) == 7

    def test_a_source_that_hangs_fails_within_the_timeout(self, ecb, monkeypatch):
        monkeypatch.setenv("CURRENCY_SOURCE_TIMEOUT_SECONDS", "0.3")
        answer(ecb, FRIDAY, delay=3)
        started = time.monotonic()
        with pytest.raises(rate_sources.SourceError, match="could not be read"):
            rate_sources.fetch()
        assert time.monotonic() - started < 2

    def test_an_unknown_source_is_refused(self, monkeypatch):
        monkeypatch.setenv("CURRENCY_SOURCE", "fed")
        with pytest.raises(rate_sources.SourceError, match="CURRENCY_SOURCE"):
            rate_sources.fetch()


# --- the job ---------------------------------------------------------------------------------------


class TestExchangeRatesJob:
    def test_stores_current_rates_and_a_days_history(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        result = exchange_rates.run()
        assert result["finished"] and result["rate_date"] == "2026-11-27"
        assert sorted(result["updated"]) == sorted(currency.CURRENCIES) and result["stale"] == []
        usd = ExchangeRate.get("USD", CURRENT)
        assert usd.reference_rate == "0.1410031653" and usd.source == "ecb"
        assert usd.rate_at == "2026-11-27T12:10:00Z"
        assert [r.day for r in rows("USD")] == ["2026-11-27", CURRENT]
        assert applied("USD") == FRIDAY_USD

    def test_running_again_the_same_day_changes_nothing(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        before = {code: [r.attribute_values for r in rows(code)] for code in currency.CURRENCIES}
        clock.set_now(SATURDAY_MORNING + timedelta(hours=1))
        again = exchange_rates.run()
        assert again["updated"] == [] and sorted(again["unchanged"]) == sorted(currency.CURRENCIES)
        assert {code: [r.attribute_values for r in rows(code)] for code in currency.CURRENCIES} == before

    def test_a_newer_date_replaces_the_rate_in_force_and_keeps_the_history(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        answer(ecb, MONDAY)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        result = exchange_rates.run()
        assert result["rate_date"] == "2026-11-30" and len(result["updated"]) == 8
        assert [r.day for r in rows("USD")] == ["2026-11-27", "2026-11-30", CURRENT]
        assert ExchangeRate.get("USD", CURRENT).reference_rate == "0.1290479669"  # 1.06 / 8.214

    def test_an_older_file_never_replaces_a_newer_rate(self, stack, ecb):
        answer(ecb, MONDAY)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        exchange_rates.run()
        answer(ecb, FRIDAY)  # a cache serving yesterday's file
        result = exchange_rates.run()
        assert result["updated"] == [] and ExchangeRate.get("USD", CURRENT).rate_date == "2026-11-30"

    def test_a_currency_missing_from_the_source_keeps_its_rate_and_ages(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        answer(ecb, "eurofxref-daily-missing-krw.xml")
        ecb_monday = MONDAY.read_bytes().replace(b"<Cube currency='KRW' rate='1702.35'/>", b"")
        ecb.add("GET", rate_sources.ECB_PATH, 200, ecb_monday, content_type=XML)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        result = exchange_rates.run()
        assert result["missing"] == ["KRW"] and "KRW" not in result["updated"]
        assert ExchangeRate.get("KRW", CURRENT).rate_date == "2026-11-27"
        clock.set_now(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # 116.8 h after Friday's fixing: not yet
        assert "KRW" not in exchange_rates.stale_codes()
        clock.set_now(datetime(2026, 12, 2, 21, 0, tzinfo=UTC))  # 128.8 h
        assert exchange_rates.stale_codes() == ["KRW"]

    def test_a_failing_source_stores_nothing_and_reports_what_is_stale(self, stack, ecb):
        answer(ecb, "ecb-maintenance.html", status=503)
        clock.set_now(SATURDAY_MORNING)
        result = exchange_rates.run()
        assert result["finished"] is False and "HTTP 503" in result["error"]
        assert result["stale"] == list(currency.CURRENCIES)  # nothing in force at all
        assert rows("USD") == []

    def test_rates_go_stale_after_the_configured_age_over_a_long_weekend(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        answer(ecb, "ecb-maintenance.html", status=503)
        # Friday 12:10 UTC + 128 h = Wednesday 20:10 UTC: Monday and Tuesday outages are covered
        clock.set_now(datetime(2026, 12, 2, 20, 10, tzinfo=UTC))
        assert exchange_rates.run()["stale"] == []
        clock.set_now(datetime(2026, 12, 2, 20, 11, tzinfo=UTC))
        assert exchange_rates.run()["stale"] == list(currency.CURRENCIES)

    def test_the_scheduled_handler_runs_it(self, stack, ecb, app_module):
        clock.set_now(SATURDAY_MORNING)
        result = app_module.exchange_rates(scheduled_event(clock.now_iso()), None)
        assert result["job"] == "exchange_rates" and result["finished"] is True


class TestImplausibleRates:
    """A published file or rate that cannot be right is held back and alarmed, never used, never a 500."""

    FUTURE = FRIDAY.read_bytes().replace(b"time='2026-11-27'", b"time='2062-11-27'")

    def test_a_file_dated_in_the_future_is_refused_and_a_later_real_file_wins(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        ecb.add("GET", rate_sources.ECB_PATH, 200, self.FUTURE, content_type=XML)
        result = exchange_rates.run()
        assert result["updated"] == [] and set(result["refused"].values()) == {"future_date"}
        assert result["finished"] is False and rows("USD") == []
        answer(ecb, MONDAY)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        assert len(exchange_rates.run()["updated"]) == 8
        assert ExchangeRate.get("USD", CURRENT).rate_date == "2026-11-30"

    def test_a_future_row_stored_before_the_check_goes_stale_and_is_replaced(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        fields = {"reference_rate": "0.2", "source": "ecb", "fetched_at": clock.now_iso()}
        ExchangeRate("USD", CURRENT, rate_date="2062-11-27", rate_at="2062-11-27T12:10:00Z", **fields).save()
        assert "USD" in exchange_rates.stale_codes()  # a future stamp never counts as fresh
        with pytest.raises(currency.RateUnavailable):
            currency.rate_in_force("USD")
        exchange_rates.run()
        assert ExchangeRate.get("USD", CURRENT).rate_date == "2026-11-27"

    @pytest.mark.parametrize("krw", [b"0.00000001", b"99999999999"])
    def test_an_absurd_rate_is_held_back_and_counted(self, stack, ecb, krw):
        clock.set_now(SATURDAY_MORNING)
        body = FRIDAY.read_bytes().replace(b"rate='1702.35'", b"rate='" + krw + b"'")
        ecb.add("GET", rate_sources.ECB_PATH, 200, body, content_type=XML)
        from chalicelib import metrics

        metrics.discard()
        result = exchange_rates.run()
        assert result["refused"] == {"KRW": "out_of_bounds"} and "KRW" not in result["updated"]
        assert rows("KRW") == [] and len(result["updated"]) == 7
        refused = metrics.pending()[(("reason", "out_of_bounds"),)]["ExchangeRatesRefused"]
        metrics.discard()
        assert refused == ("Count", [1])

    def test_a_day_over_day_jump_past_the_limit_is_held_back_and_the_old_rate_ages(self, stack, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        jumped = MONDAY.read_bytes().replace(b"rate='1702.35'", b"rate='2100.00'")  # KRW +23 %
        ecb.add("GET", rate_sources.ECB_PATH, 200, jumped, content_type=XML)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        result = exchange_rates.run()
        assert result["refused"] == {"KRW": "jump"} and len(result["updated"]) == 7
        assert ExchangeRate.get("KRW", CURRENT).rate_date == "2026-11-27"

    def test_the_jump_limit_is_the_businesss_setting(self, stack, ecb, monkeypatch):
        monkeypatch.setenv("CURRENCY_MAX_DAILY_CHANGE_PERCENT", "30")
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        jumped = MONDAY.read_bytes().replace(b"rate='1702.35'", b"rate='2100.00'")
        ecb.add("GET", rate_sources.ECB_PATH, 200, jumped, content_type=XML)
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        assert exchange_rates.run()["refused"] == {}
        assert ExchangeRate.get("KRW", CURRENT).rate_date == "2026-11-30"

    @pytest.mark.usefixtures("shop")
    def test_a_stored_rate_that_rounds_to_zero_is_a_503_and_listed_as_none_never_a_500(self, api):
        fresh_rates()
        row = ExchangeRate.get("KRW", CURRENT)
        row.reference_rate = "0"  # what a store without bounds kept of 1e-11 at 10 decimal places
        row.save()
        listed = api.get("/currencies")
        assert listed.status == 200
        krw = next(c for c in listed.body["items"] if c["currency"] == "KRW")
        assert krw["rate"] is None and krw["stale"] is True
        answered = api.get("/products/prd_tee?currency=KRW")
        assert answered.status == 503 and answered.body["error"]["code"] == "rate_unavailable"
        assert api.get("/products/prd_tee?currency=USD").status == 200


# --- GET /currencies --------------------------------------------------------------------------------


class TestCurrencyList:
    def test_lists_every_supported_currency_even_before_any_rate(self, api):
        listed = api.get("/currencies")
        assert listed.status == 200
        codes = [c["currency"] for c in listed.body["items"]]
        assert codes == ["USD", "EUR", "GBP", "AUD", "CAD", "JPY", "KRW", "SGD"]
        assert all(c["rate"] is None and c["stale"] is True for c in listed.body["items"])

    def test_rates_in_force_with_margin_source_time_and_minor_units(self, api, ecb):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        listed = {c["currency"]: c for c in api.get("/currencies").body["items"]}
        assert listed["USD"] == {
            "currency": "USD",
            "name": "US dollar",
            "minor_units": 2,
            "rate": "0.1445282444",
            "units_per_cny": "0.1445282444",
            "cny_per_unit": "6.919063",
            "reference_rate": "0.1410031653",
            "margin_percent": "2.5",
            "source": "ecb",
            "as_of": "2026-11-27T12:10:00Z",
            "rate_date": "2026-11-27",
            "stale": False,
        }
        assert listed["JPY"]["minor_units"] == 0 and listed["KRW"]["minor_units"] == 0
        assert all(isinstance(c["rate"], str) for c in listed.values())

    def test_the_margin_is_configurable(self, api, ecb, monkeypatch):
        clock.set_now(SATURDAY_MORNING)
        exchange_rates.run()
        monkeypatch.setenv("CURRENCY_MARGIN_PERCENT", "3")
        usd = api.get("/currencies").body["items"][0]
        assert usd["margin_percent"] == "3" and usd["rate"] == "0.1452332603"  # 0.1410031653 x 1.03


# --- converted routes --------------------------------------------------------------------------------


@pytest.mark.usefixtures("shop")
class TestConvertedRoutes:
    def test_product_search_and_detail(self, api):
        fresh_rates(USD="0.14")
        rate = applied("USD")
        product = api.get("/products/prd_tee?currency=usd")
        assert product.status == 200, product.body
        sku = product.body["skus"][0]
        assert sku["price_fen"] == 2500 and sku["price_minor"] == to_minor(2500, rate, 2) == 359
        assert product.body["domestic_shipping_minor"] == to_minor(800, rate, 2)
        assert product.body["display_currency"]["code"] == "USD"
        assert product.body["display_currency"]["rate"] == "0.1435"

    def test_yen_has_no_decimals(self, api):
        fresh_rates(JPY="21.37")
        product = api.get("/products/prd_tee?currency=JPY").body
        assert product["skus"][0]["price_minor"] == 548  # ¥25 x 21.37 x 1.025 = 547.6
        assert product["display_currency"]["minor_units"] == 0

    def test_cart_quote_order_wallet_and_payment(self, api):
        fresh_rates(EUR="0.12")
        rate = applied("EUR")
        top_up(api, ALICE, 100_000)
        cart_item = api.post("/cart/items?currency=EUR", TEE, user=ALICE)
        assert cart_item.status == 201 and cart_item.body["unit_price_minor"] == to_minor(2500, rate, 2)
        cart = api.get("/cart?currency=EUR", user=ALICE).body
        assert cart["subtotal_minor"] == to_minor(5000, rate, 2)
        body = {"cart_item_ids": [cart_item.body["cart_item_id"]], "payment_channel": "balance"}
        quote = api.post("/orders/quote?currency=EUR", body, user=ALICE).body
        assert quote["charges"]["total_minor"] == to_minor(quote["charges"]["total_fen"], rate, 2)
        created = api.post("/orders?currency=EUR", body, user=ALICE)
        assert created.status == 201
        assert created.body["charges"]["total_minor"] == quote["charges"]["total_minor"]
        assert created.body["items"][0]["unit_price_minor"] == to_minor(2500, rate, 2)
        order_id = created.body["order_id"]
        detail = api.get(f"/orders/{order_id}?currency=EUR", user=ALICE).body
        assert detail["display_currency"]["code"] == "EUR" and "total_minor" in detail["charges"]
        listed = api.get("/orders?currency=EUR", user=ALICE).body
        assert listed["items"][0]["charges"]["total_minor"] == detail["charges"]["total_minor"]
        paid = api.post(f"/orders/{order_id}/pay?currency=EUR", user=ALICE)
        assert paid.status == 200 and paid.body["paid_minor"] == to_minor(5800, rate, 2)
        wallet = api.get("/wallet?currency=EUR", user=ALICE).body
        assert wallet["balance_minor"] == to_minor(wallet["balance_fen"], rate, 2)
        assert wallet["entries"][0]["amount_minor"] == to_minor(-5800, rate, 2)
        started = api.post(
            "/wallet/top-ups?currency=EUR", {"amount_fen": 10000, "channel": "alipay"}, user=ALICE
        )
        assert started.status == 201, started.body
        # a provider's payment states what it charges (the API contract), the fee included, in its own
        # currency: Alipay is charged in CNY here, whatever currency the customer reads
        assert (started.body["currency"], started.body["amount_minor"]) == ("CNY", started.body["charge_fen"])
        assert started.body["charge_minor"] == to_minor(started.body["charge_fen"], rate, 2)
        payment = api.get(f"/payments/{started.body['payment_id']}?currency=EUR", user=ALICE).body
        assert payment["charge_minor"] == to_minor(payment["charge_fen"], rate, 2)

    def test_packages_quote_submit_pay_and_cancel(self, api):
        from tests.integration.test_packages import ADDRESS, SERVICES, stored

        fresh_rates(GBP="0.1061")
        rate = applied("GBP")
        item_ids = stored(api)
        top_up(api, ALICE, 100_000)
        quote = api.post("/packages/quote?currency=GBP", {"item_ids": item_ids, "country": "US"}, user=ALICE)
        assert quote.status == 200, quote.body
        assert quote.body["display_currency"]["code"] == "GBP"
        body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": SERVICES}
        package = api.post("/packages?currency=GBP", body, user=ALICE)
        assert package.status == 201 and package.body["total_minor"] == to_minor(
            package.body["total_fen"], rate, 2
        )
        package_id = package.body["package_id"]
        paid = api.post(f"/packages/{package_id}/pay?currency=GBP", user=ALICE).body
        snap = paid["fx_snapshot"]
        assert snap["code"] == "GBP" and snap["paid_minor"] == to_minor(paid["paid_fen"], rate, 2)
        fresh_rates(day_offset=1, GBP="0.2")  # the next publication: the pound weakens a lot
        listed = api.get("/packages?currency=GBP", user=ALICE).body["items"][0]
        assert listed["fx_snapshot"] == snap
        cancelled = api.post(f"/packages/{package_id}/cancel", user=ALICE).body
        refund = api.get("/wallet", user=ALICE).body["entries"][0]
        assert refund["kind"] == "package_refund" and refund["amount_fen"] == paid["paid_fen"]
        assert refund["fx_snapshot"]["amount_minor"] == to_minor(paid["paid_fen"], rate, 2)
        assert cancelled["fx_snapshot"]["refunded_minor"] == snap["paid_minor"]

    def test_no_currency_no_conversion(self, api):
        fresh_rates()
        product = api.get("/products/prd_tee").body
        assert "display_currency" not in product and "price_minor" not in product["skus"][0]

    def test_an_unknown_currency_is_a_400_and_changes_nothing(self, api):
        fresh_rates()
        for path in ("/products/prd_tee?currency=XYZ", "/products/search?q=shirt&currency=cny"):
            refused = api.get(path)
            assert refused.status == 400 and refused.body["error"]["code"] == "validation_error"
            assert "USD, EUR" in refused.body["error"]["message"]
        top_up(api, ALICE, 100_000)
        body = {"items": [TEE], "payment_channel": "balance"}
        assert api.post("/orders?currency=BTC", body, user=ALICE).status == 400
        assert api.get("/orders", user=ALICE).body["items"] == []

    def test_ledger_and_stored_amounts_stay_fen(self, api):
        fresh_rates(USD="0.14")
        top_up(api, ALICE, 100_000)
        created = api.post("/orders?currency=USD", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
        from chalicelib.models.commerce import Order

        stored_order = Order.get(created.body["order_id"])
        assert (
            int(stored_order.total_fen) == 5800 and stored_order.attribute_values.get("total_minor") is None
        )
        assert currency.stored(stored_order.fx)["code"] == "USD"


class TestStaleRates:
    @pytest.mark.usefixtures("shop")
    def test_a_stale_rate_stops_conversions_with_a_503_and_nothing_is_written(self, api):
        clock.set_now(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
        fresh_rates()
        top_up(api, ALICE, 100_000)
        clock.set_now(datetime(2026, 11, 27, 8, 0, tzinfo=UTC) + timedelta(hours=129))
        stale = api.get("/products/prd_tee?currency=USD")
        assert stale.status == 503 and stale.body["error"]["code"] == "rate_unavailable"
        assert "older than 128 hours" in stale.body["error"]["message"]
        assert api.get("/wallet?currency=USD", user=ALICE).status == 503  # an explicit ?currency= on a read
        body = {"items": [TEE], "payment_channel": "balance"}
        created = api.post("/orders?currency=USD", body, user=ALICE)  # a write: in CNY, nothing snapshotted
        assert created.status == 201, created.body
        assert created.body["display_currency_unavailable"]["code"] == "USD"
        assert "display_currency" not in created.body and created.body["fx_snapshot"] is None
        assert "total_minor" not in created.body["charges"]
        assert api.get("/products/prd_tee").status == 200  # CNY keeps working
        assert api.get("/currencies").body["items"][0]["stale"] is True

    def test_no_rate_at_all_is_a_503_too(self, api):
        missing = api.get("/products/search?currency=SGD")
        assert missing.status == 503 and missing.body["error"]["code"] == "rate_unavailable"


@pytest.mark.usefixtures("shop")
class TestADisplayCurrencyNeverStopsTheLedger:
    """Issue 21, item 4: with a saved preference and stale rates, money routes and reads answer in CNY
    with the conversion marked unavailable; only an explicit ?currency= on a read may refuse."""

    def _stale_with_a_preference(self, api) -> dict:
        start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        clock.set_now(start)
        fresh_rates()
        assert api.call("PUT", "/me/preferences", body={"currency": "USD"}, user=ALICE).status == 200
        top_up(api, ALICE, 100_000)
        body = {"items": [TEE], "payment_channel": "balance"}
        orders = [api.post("/orders", body, user=ALICE).body["order_id"] for _ in range(2)]
        clock.set_now(start + timedelta(hours=129))  # the job has failed for days: the USD rate is stale
        return {"orders": orders}

    @staticmethod
    def _in_cny(answer) -> None:
        assert answer.status in (200, 201), answer.body
        assert answer.body["display_currency_unavailable"]["code"] == "USD"
        assert "display_currency" not in answer.body
        # a provider's payment states what it charges (`currency`, `amount_minor`): not a display conversion
        charged = {"amount_minor"} if "currency" in answer.body else set()
        assert not any(key.endswith("_minor") for key in answer.body.keys() - charged)

    def test_pay_cancel_top_up_and_the_wallet_answer_in_cny_with_the_conversion_marked_unavailable(self, api):
        made = self._stale_with_a_preference(api)
        balance = api.get("/wallet", user=ALICE)
        self._in_cny(balance)
        before = balance.body["balance_fen"]
        paid = api.post(f"/orders/{made['orders'][0]}/pay", user=ALICE, headers={"Idempotency-Key": "p1"})
        self._in_cny(paid)
        assert paid.body["status"] == "pending_review"
        paid_again = api.post(f"/orders/{made['orders'][1]}/pay", user=ALICE)
        self._in_cny(paid_again)
        cancelled = api.post(f"/orders/{made['orders'][0]}/cancel", user=ALICE)  # the refund
        self._in_cny(cancelled)
        assert cancelled.body["status"] == "cancelled"
        topped = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE)
        self._in_cny(topped)
        assert topped.body["fx_snapshot"] is None  # no stale rate is snapshotted
        assert (topped.body["currency"], topped.body["amount_minor"]) == ("CNY", topped.body["charge_fen"])
        after = api.get("/wallet", user=ALICE).body["balance_fen"]
        assert after == before - 5800  # one order paid and kept, the other paid and refunded

    def test_a_message_never_asks_to_drop_a_currency_parameter_that_was_not_sent(self, api):
        self._stale_with_a_preference(api)
        answer = api.get("/orders", user=ALICE)
        assert answer.status == 200
        assert "?currency" not in answer.body["display_currency_unavailable"]["message"]

    def test_only_an_explicit_currency_on_a_read_is_refused(self, api):
        made = self._stale_with_a_preference(api)
        refused = api.get("/wallet?currency=USD", user=ALICE)
        assert refused.status == 503 and refused.body["error"]["code"] == "rate_unavailable"
        assert "without ?currency" in refused.body["error"]["message"]
        paid = api.post(f"/orders/{made['orders'][0]}/pay?currency=USD", user=ALICE)
        self._in_cny(paid)


@pytest.mark.usefixtures("shop")
class TestPreference:
    def test_saved_on_me_and_used_without_a_query(self, api):
        fresh_rates(JPY="21.37")
        assert api.get("/me", user=ALICE).body["currency"] is None
        saved = api.call("PUT", "/me/preferences", body={"currency": "jpy"}, user=ALICE)
        assert saved.status == 200 and saved.body == {"currency": "JPY"}
        assert api.get("/me", user=ALICE).body["currency"] == "JPY"
        api.post("/cart/items", TEE, user=ALICE)
        cart = api.get("/cart", user=ALICE).body
        assert cart["display_currency"]["code"] == "JPY" and cart["subtotal_minor"] == to_minor(
            5000, applied("JPY"), 0
        )
        assert (
            api.get("/cart?currency=USD", user=ALICE).body["display_currency"]["code"] == "USD"
        )  # query wins
        assert "display_currency" not in api.get("/cart", user=BOB).body  # others unaffected
        cleared = api.call("PUT", "/me/preferences", body={"currency": None}, user=ALICE)
        assert (
            cleared.body == {"currency": None} and "display_currency" not in api.get("/cart", user=ALICE).body
        )

    def test_saving_the_same_preference_again_is_idempotent(self, api):
        for _ in range(2):
            saved = api.call("PUT", "/me/preferences", body={"currency": "EUR"}, user=ALICE)
            assert saved.status == 200 and saved.body == {"currency": "EUR"}

    def test_bad_preferences_are_refused(self, api):
        assert api.call("PUT", "/me/preferences", body={"currency": "XYZ"}, user=ALICE).status == 400
        assert api.call("PUT", "/me/preferences", body={"currency": 840}, user=ALICE).status == 400
        assert api.call("PUT", "/me/preferences", body={"currency": "USD", "x": 1}, user=ALICE).status == 400
        assert api.call("PUT", "/me/preferences", body={"currency": "USD"}).status == 401
        assert api.get("/me", user=ALICE).body["currency"] is None


# --- snapshots: what the customer paid, and refunds at that rate ---------------------------------------


@pytest.mark.usefixtures("shop")
class TestSnapshots:
    def test_a_usd_order_cancelled_after_rates_move_is_refunded_at_the_snapshotted_rate(self, api, ecb):
        clock.set_now(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
        exchange_rates.run()  # Friday's rates: USD 0.1445282444 per CNY with the margin
        top_up(api, ALICE, 100_000)
        created = api.post("/orders?currency=USD", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
        order_id = created.body["order_id"]
        assert created.body["fx_snapshot"]["rate"] == "0.1445282444"
        assert created.body["fx_snapshot"]["total_minor"] == to_minor(5800, FRIDAY_USD, 2) == 838
        paid = api.post(f"/orders/{order_id}/pay", user=ALICE)
        assert paid.status == 200
        answer(ecb, MONDAY)  # the dollar strengthens: fewer cents per CNY
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        exchange_rates.run()
        monday = applied("USD")
        assert monday != FRIDAY_USD
        cancelled = api.post(f"/orders/{order_id}/cancel?currency=USD", user=ALICE)
        assert cancelled.status == 200, cancelled.body
        assert cancelled.body["fx_snapshot"]["refunded_minor"] == 838
        assert cancelled.body["refunded_minor"] == to_minor(5800, monday, 2) != 838  # today's, for reference
        entries = api.get("/wallet?currency=USD", user=ALICE).body["entries"]
        refund, payment = entries[0], entries[1]
        assert refund["kind"] == "order_refund" and refund["amount_fen"] == 5800
        assert refund["fx_snapshot"]["amount_minor"] == to_minor(5800, FRIDAY_USD, 2) == 838
        assert refund["fx_snapshot"]["rate"] == "0.1445282444"
        assert payment["kind"] == "order_payment" and payment["fx_snapshot"]["amount_minor"] == -838

    def test_an_item_refund_goes_back_at_the_orders_snapshotted_rate(self, api, ecb):
        clock.set_now(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
        exchange_rates.run()  # Friday's rates
        top_up(api, ALICE, 100_000)
        order = api.post(
            "/orders?currency=USD", {"items": [TEE], "payment_channel": "balance"}, user=ALICE
        ).body
        assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
        assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
        answer(ecb, MONDAY)  # the rates move before staff buy the item
        clock.set_now(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
        exchange_rates.run()
        item = order["items"][0]
        cheaper = item["unit_price_fen"] - 100  # the merchant charged 1 yuan less per unit: refunded
        bought = api.post(
            f"/staff/items/{item['item_id']}/purchase",
            {"merchant_order_no": "M-1", "actual_unit_price_fen": cheaper},
            user=REVIEWER,
        )
        assert bought.status == 200, bought.body
        refund = api.get("/wallet", user=ALICE).body["entries"][0]
        assert refund["kind"] == "price_difference_refund" and refund["amount_fen"] == 200
        assert refund["fx_snapshot"]["rate"] == "0.1445282444"  # the order's rate, not Monday's
        assert refund["fx_snapshot"]["amount_minor"] == to_minor(200, FRIDAY_USD, 2)

    def test_a_top_up_in_a_currency_keeps_its_rate_on_the_ledger(self, api):
        fresh_rates(AUD="0.2145")
        rate = applied("AUD")
        started = api.post(
            "/wallet/top-ups?currency=AUD", {"amount_fen": 50_000, "channel": "alipay"}, user=ALICE
        )
        snap = started.body["fx_snapshot"]
        assert snap["code"] == "AUD" and snap["amount_minor"] == to_minor(50_000, rate, 2)
        assert snap["charge_minor"] == to_minor(started.body["charge_fen"], rate, 2)
        assert send_webhook(api, started.body["payment_id"], started.body["charge_fen"]).status == 200
        entry = api.get("/wallet", user=ALICE).body["entries"][0]
        assert entry["kind"] == "top_up" and entry["fx_snapshot"]["amount_minor"] == snap["amount_minor"]

    def test_without_a_currency_nothing_is_snapshotted(self, api):
        fresh_rates()
        top_up(api, ALICE, 100_000)
        created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
        assert created.body["fx_snapshot"] is None
        assert api.get("/wallet", user=ALICE).body["entries"][0]["fx_snapshot"] is None


def test_the_local_stack_seed_converts_out_of_the_box(api):
    from infra.local import seed

    seed.seed(api.stack)
    usd = api.get("/currencies").body["items"][0]
    assert usd["source"] == "demo" and usd["stale"] is False and usd["rate"] == "0.1440125"
    assert api.get("/products/search?currency=USD").status == 200
    # staff routes take no currency: the parameter is ignored there
    staff = api.get("/staff/orders?status=pending_review&currency=XYZ", user=REVIEWER)
    assert staff.status == 200 and "display_currency" not in staff.body


# --- the OpenAPI document -------------------------------------------------------------------------


def test_the_openapi_document_describes_the_currency_parameter_and_converted_fields():
    from chalicelib import openapi
    from chalicelib.web import ROUTES

    document = openapi.document()
    flagged = [spec for spec in ROUTES if spec.currency]
    assert len(flagged) == 23
    for spec in ROUTES:
        operation = document["paths"][spec.path][spec.method.lower()]
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        assert ("currency" in names) == spec.currency, (spec.method, spec.path)
        if spec.currency and spec.method == "GET":  # only a read refuses a currency (503)
            assert operation["responses"]["503"] == {"$ref": "#/components/responses/ServiceUnavailable"}
        if spec.currency:
            assert "400" in operation["responses"]
    schemas = document["components"]["schemas"]
    answer = document["paths"]["/wallet"]["get"]["responses"]["200"]
    wallet_ref = answer["content"]["application/json"]["schema"]
    wallet = schemas[wallet_ref["$ref"].removeprefix("#/components/schemas/")]
    assert wallet["properties"]["balance_minor"]["type"] == "integer"
    assert wallet["properties"]["display_currency"] == {"$ref": "#/components/schemas/DisplayCurrency"}
    assert schemas["WalletEntry"]["properties"]["amount_minor"]["type"] == "integer"
    page = schemas["OrderPage"]
    assert page["properties"]["display_currency"] == {"$ref": "#/components/schemas/DisplayCurrency"}
    assert "code" in document["components"]["schemas"]["DisplayCurrency"]["required"]


def test_minor_siblings_reach_every_schema_a_converted_response_refers_to():
    from chalicelib.openapi import add_currency
    from chalicelib.web import RouteSpec

    spec = RouteSpec("GET", "/x", "x", True, (), None, 200, "x", currency=True)
    document = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Outer"}}
                            }
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Outer": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "total_fen": {"type": "integer"},
                        "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    },
                },
                "Line": {"type": "object", "properties": {"price_fen": {"type": "integer"}, "qty": {}}},
            },
            "responses": {},
        },
    }
    schemas = add_currency(document, [spec])["components"]["schemas"]
    assert schemas["Outer"]["properties"]["total_minor"]["type"] == "integer"
    assert "display_currency" in schemas["Outer"]["properties"]
    assert set(schemas["Line"]["properties"]) == {"price_fen", "price_minor", "qty"}
    assert "display_currency" not in schemas["Line"]["properties"]  # only on the body itself
