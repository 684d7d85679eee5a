"""The shared building blocks: money, clock, ids, errors, validation, JSON logs, S3 records."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib import clock, ids, money
from chalicelib.errors import ApiError, Conflict, InsufficientFunds, NotFound, ValidationError
from chalicelib.events.s3_records import objects_from_bodies
from chalicelib.logs import JsonFormatter
from chalicelib.typed import BaseModel, ConfigDict
from chalicelib.web import (
    MAX_JSON_DEPTH,
    Req,
    check_body,
    decode_cursor,
    encode_cursor,
    page_limit,
    parse_json,
    validate,
)


class TestMoney:
    def test_percent_rounds_half_up_once(self):
        assert money.percent_of(50, "1") == 1  # 0.5 fen -> 1
        assert money.percent_of(149, "1") == 1  # 1.49 -> 1
        assert money.percent_of(150, "1") == 2  # 1.5 -> 2
        assert money.percent_of(250, "1") == 3  # 2.5 -> 3 (half-up, not banker's)
        assert money.percent_of(10000, "3.5") == 350

    def test_percent_of_decimal_rates(self):
        assert money.percent_of(12345, Decimal("4.4")) == 543  # 543.18
        assert money.percent_of(0, "3") == 0

    def test_fee_adds_the_fixed_part(self):
        assert money.fee(10000, "3", 200) == 500

    def test_money_must_be_integer_fen(self):
        with pytest.raises(TypeError):
            money.percent_of(1.5, "3")  # type: ignore[arg-type]

    def test_format(self):
        assert money.format_cny(123456) == "¥1,234.56"
        assert money.format_cny(-5) == "-¥0.05"


class TestClock:
    def test_set_and_reset(self):
        fixed = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
        clock.set_now(fixed)
        assert clock.now() == fixed
        assert clock.now_iso() == "2026-11-26T08:00:00Z"
        clock.set_now(None)
        assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)

    def test_parse_iso_forms(self):
        assert clock.parse_iso("2026-11-26T16:00:00+08:00") == datetime(2026, 11, 26, 8, tzinfo=UTC)
        assert clock.parse_iso("2026-11-26T08:00:00") == datetime(2026, 11, 26, 8, tzinfo=UTC)


class TestIds:
    def test_unique_prefixed_and_unguessable(self):
        made = {ids.new_id("ord") for _ in range(2000)}
        assert len(made) == 2000
        sample = next(iter(made))
        assert sample.startswith("ord_") and len(sample) == 4 + 26

    def test_time_ordered(self):
        clock.set_now(datetime(2026, 1, 1, tzinfo=UTC))
        first = ids.new_id()
        clock.set_now(datetime(2026, 1, 2, tzinfo=UTC))
        assert ids.new_id() > first


class TestErrors:
    def test_bodies(self):
        assert NotFound("No such order.").body() == {
            "error": {"code": "not_found", "message": "No such order."}
        }
        assert Conflict("x").status == 409
        assert InsufficientFunds("short").body()["error"]["code"] == "insufficient_funds"
        assert InsufficientFunds("short").status == 409


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quantity: int
    remark: str | None = None


class TestValidation:
    def test_bad_json(self):
        with pytest.raises(ValidationError, match="not valid JSON"):
            parse_json(b"{nope")
        with pytest.raises(ValidationError):
            parse_json(b"")

    def test_wrong_type_unknown_field_missing_field(self):
        for data in ({"quantity": "2"}, {"quantity": 1, "status": "paid"}, {}, [], None):
            with pytest.raises(ValidationError) as info:
                validate(Body, data)
            assert info.value.status == 400
            assert info.value.details

    def test_valid(self):
        assert validate(Body, {"quantity": 2}).quantity == 2


class TestPaging:
    def _req(self, **query):
        return Req(caller=None, query=query, headers={}, raw_body=b"")

    def test_limit(self):
        assert page_limit(self._req()) == 20
        assert page_limit(self._req(limit="100")) == 100
        for bad in ("0", "101", "-1", "x", "1.5"):
            with pytest.raises(ValidationError):
                page_limit(self._req(limit=bad))

    def test_cursor_round_trip_and_tampering(self):
        key = {"pk": {"S": "user"}, "sk": {"S": "order#1"}}
        assert decode_cursor(self._req(cursor=encode_cursor(key))) == key
        assert encode_cursor(None) is None
        forged = encode_cursor({"pk": {"S": "someone-else"}}).split(".")[0] + "." + "A" * 22
        for bad in ("!!!", "bm90IGpzb24", "WzFd", forged, encode_cursor(key) + "x"):
            with pytest.raises(ValidationError):
                decode_cursor(self._req(cursor=bad))

    def test_the_cursor_key_is_its_own_secret_not_the_webhooks(self, monkeypatch):
        key = {"pk": "user", "sk": "order#1"}
        cursor = encode_cursor(key)
        monkeypatch.setenv("PAYMENT_WEBHOOK_SECRET", "whsec_rotated_" + "x" * 20)
        assert decode_cursor(self._req(cursor=cursor)) == key
        monkeypatch.setenv("CURSOR_SECRET", "another-cursor-secret-" + "y" * 20)
        with pytest.raises(ValidationError):
            decode_cursor(self._req(cursor=cursor))
        monkeypatch.delenv("CURSOR_SECRET")
        with pytest.raises(ApiError) as info:
            encode_cursor(key)
        assert (info.value.status, info.value.code) == (500, "configuration_error")

    def test_a_cursor_names_its_list_and_caller_in_its_signature_only(self):
        scoped = Req(caller=None, query={"status": "a"}, headers={}, raw_body=b"", route="GET /x")
        cursor = encode_cursor({"after": "1"}, scoped)
        payload = json.loads(base64.urlsafe_b64decode(cursor.split(".")[0] + "=="))
        assert set(payload) == {"k", "iat"}
        assert decode_cursor(Req(None, {"status": "a", "cursor": cursor}, {}, b"", route="GET /x")) == {
            "after": "1"
        }
        for other in ({"status": "b"}, {}):
            with pytest.raises(ValidationError):
                decode_cursor(Req(None, {**other, "cursor": cursor}, {}, b"", route="GET /x"))
        with pytest.raises(ValidationError):
            decode_cursor(Req(None, {"status": "a", "cursor": cursor}, {}, b"", route="GET /y"))


class TestBodyBounds:
    """check_body bounds a JSON body's size and depth without decoding it (issue 11, hole 8)."""

    def test_the_depth_bound_leaves_ordinary_bodies_and_strings_alone(self):
        check_body(b'{"a": [[["x"]]], "s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
        check_body(b'{"s": "\\\\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
        check_body(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
        with pytest.raises(ValidationError):
            check_body(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
        with pytest.raises(ValidationError):
            check_body(b'{"s": "a\\\\"' + b"[" * 40)  # an escaped backslash ends the string

    def test_the_depth_scan_is_linear_in_the_body(self):
        """Even for unterminated strings full of escaped quotes (rescanning from each quote is quadratic)."""
        import time

        for body in (b'"' + b'\\"' * 21_000, b'"' * 65_000, b"[]" * 32_000, b'"' + b"\\" * 32_000):
            started = time.perf_counter()
            check_body(body)
            assert time.perf_counter() - started < 5, body[:10]


def test_json_logs_carry_extra_fields():
    record = logging.LogRecord("procure.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.order_id = "ord_1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world"
    assert line["order_id"] == "ord_1"
    assert line["level"] == "INFO"


def test_s3_records_from_sqs_bodies():
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Post",
                    "s3": {
                        "bucket": {"name": "b"},
                        "object": {"key": "qc/itm_1/ph+1.jpg", "size": 10, "eTag": "e", "sequencer": "01"},
                    },
                },
                {"s3": {"bucket": {}}},
            ]
        }
    )
    test_event = json.dumps({"Event": "s3:TestEvent"})
    found = list(objects_from_bodies([body, "not json", test_event, "[]"]))
    assert len(found) == 1
    assert found[0].key == "qc/itm_1/ph 1.jpg"
    assert found[0].bucket == "b" and found[0].size == 10


def test_ids_ascend_under_a_frozen_clock():
    clock.set_now(datetime(2026, 1, 1, tzinfo=UTC))
    made = [ids.new_id("led") for _ in range(500)]
    assert made == sorted(made) and len(set(made)) == 500


def test_only_a_travelling_clock_leaves_the_wall_clock_behind():
    """`make job NOW=` travels (checkpoints stay at the real time); a test's frozen clock moves both."""
    from datetime import UTC, datetime

    from chalicelib import clock

    future = datetime(2099, 1, 1, tzinfo=UTC)
    try:
        clock.set_now(future)
        assert clock.wall() == future
        clock.set_now(future, travel=True)
        assert clock.now() == future and clock.wall().year < 2099
    finally:
        clock.set_now(None)
    assert clock.wall().year < 2099
