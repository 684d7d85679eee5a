"""chalicelib.typed: request bodies validated as pydantic would, answers rendered as pydantic would, and
neither needing pydantic on the request path."""

from __future__ import annotations

import enum
import importlib
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import pytest

from chalicelib import routing, typed, web
from chalicelib.typed import BaseModel, ConfigDict, Field, ValidationError, model_validator, twin

ROOT = Path(__file__).resolve().parents[2]

# values every field of every body is tried with: each JSON type, both sides of the bounds bodies use,
# strings around their lengths and patterns (a final newline, which Python's `$` would let through)
PALETTE: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    300,
    501,
    100_000_001,
    10**12,
    1.5,
    1.0,
    "",
    "a",
    "ab",
    "GB",
    "A" * 64,
    "A" * 65,
    "x" * 501,
    "AB12\n",
    "SF1234567890",
    "12.50",
    "1.",
    "a@b.example",
    "+86 138 0000 0000",
    "pho_" + "0" * 26,
    "\x07bell",
    " \x1fa\u3000 ",
    "  ",
    "colour",
    "apparel",
    [],
    ["a"],
    [1],
    ["a"] * 60,
    {},
    {"a": "b"},
    {"a": 1},
]


def _body_models() -> list[type]:
    """Every body model a route validates with, nested ones included."""
    for module in routing.BLUEPRINTS:
        importlib.import_module(module)
    found: dict[type, None] = {}

    def walk(model: type) -> None:
        if model in found:
            return
        found[model] = None
        for nested in _nested(typed.hints(model).values()):
            walk(nested)

    for spec in web.ROUTES:
        if spec.body is not None:
            walk(spec.body)
    return list(found)


def _nested(annotations: Any) -> list[type]:
    out = []
    stack = list(annotations)
    while stack:
        t = stack.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            out.append(t)
        stack.extend(getattr(t, "__args__", ()) or ())
    return out


def _outcome(validate, dump, errors_of, data: Any) -> tuple:
    try:
        return ("ok", dump(validate(data)))
    except (ValidationError, pydantic.ValidationError) as exc:
        return ("error", [(e["type"], e["loc"], e["msg"]) for e in errors_of(exc)])


def _both(model: type, data: Any) -> tuple[tuple, tuple]:
    ours = _outcome(model.model_validate, lambda m: m.model_dump(), lambda e: e.errors(), data)
    theirs = _outcome(
        twin(model).model_validate,
        lambda m: m.model_dump(),
        lambda e: e.errors(include_url=False, include_input=False),
        data,
    )
    return ours, theirs


def _example(model: type) -> dict:
    extra = model.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return dict(examples[0]) if examples else {}


BODIES = _body_models()


def test_every_route_body_is_found():
    assert len(BODIES) >= 40


@pytest.mark.parametrize("model", BODIES, ids=lambda m: m.__qualname__)
def test_a_body_validates_as_its_pydantic_twin_for_every_value_of_every_field(model):
    example = _example(model)
    cases: list[Any] = [example, {}, [], None, "x", 5, {**example, "unknown_field": 1}]
    for name in model.__typed_fields__:
        cases.append({k: v for k, v in example.items() if k != name})
        cases += [{**example, name: value} for value in PALETTE]
        own = example.get(name)
        if isinstance(own, list) and own:
            cases += [{**example, name: own * 40}, {**example, name: [own[0], 5]}, {**example, name: [{}]}]
        if isinstance(own, dict):
            cases += [{**example, name: {**own, "zz": 1}}, {**example, name: {k: None for k in own}}]
    differ = []
    for data in cases:
        ours, theirs = _both(model, data)
        if ours != theirs:
            differ.append((json.dumps(data, default=str)[:300], ours, theirs))
    assert differ == []


def test_unsupported_body_types_are_refused_when_first_validated_never_accepted_unchecked():
    class Odd(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        when: Decimal

    with pytest.raises(TypeError, match="unsupported type"):
        Odd.model_validate({"when": "1"})


def test_a_pattern_end_is_the_end_of_the_text_as_in_pydantic_not_before_a_final_newline():
    class Code(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]

    assert Code.model_validate({"code": "GB"}).code == "GB"
    with pytest.raises(ValidationError) as info:
        Code.model_validate({"code": "GB\n"})
    assert info.value.errors()[0]["type"] == "string_pattern_mismatch"
    assert _both(Code, {"code": "GB\n"})[0] == _both(Code, {"code": "GB\n"})[1]


def test_an_after_validator_runs_once_fields_are_valid_and_its_error_is_a_value_error():
    class Pair(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        a: int | None = None
        b: int | None = None

        @model_validator(mode="after")
        def _one(self):
            if (self.a is None) == (self.b is None):
                raise ValueError("send a or b")
            return self

    for data in ({"a": 1}, {"a": 1, "b": 2}, {"a": "x", "b": 2}, {}):
        ours, theirs = _both(Pair, data)
        assert ours == theirs
    assert _both(Pair, {})[0] == ("error", [("value_error", (), "Value error, send a or b")])


class Colour(enum.StrEnum):
    RED = "red"


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)
    weight_g: int
    colour: Colour | None = None


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)
    kind: Literal["a", "b"]
    inner: Inner
    inners: list[Inner] = Field(default_factory=list)
    rate: float | None = None
    note: str | None = Field(default=None)
    extra: dict[str, Any] | None = None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "a", "inner": Inner.model_construct(weight_g=Decimal("450"))},
        {"kind": "b", "inner": {"weight_g": Decimal("2"), "colour": Colour.RED}, "rate": Decimal("7")},
        {"kind": "a", "inner": {"weight_g": 1}, "inners": [{"weight_g": Decimal(3)}], "note": None},
        {
            "kind": "a",
            "inner": {"weight_g": 1},
            "extra": {"at": Decimal("1.50"), "c": Colour.RED, "l": (1, 2)},
        },
    ],
)
def test_an_answer_renders_as_pydantic_dumps_it_after_lax_validation(fields):
    ours = Outer.model_construct(**fields).model_dump(mode="json", exclude_unset=True)
    raw = Outer.model_construct(**fields).model_dump_raw()
    theirs = twin(Outer).model_validate(raw).model_dump(mode="json", exclude_unset=True)
    assert json.dumps(ours) == json.dumps(theirs)


def test_an_undeclared_key_is_refused_when_rendered():
    with pytest.raises(ValidationError, match="Outer"):
        Outer.model_construct(kind="a", inner={"weight_g": 1}, secret=1).model_dump(
            mode="json", exclude_unset=True
        )
    with pytest.raises(ValidationError):
        Outer.model_construct(kind="a", inner={"weight_g": 1, "secret": 1}).model_dump(mode="json")


def test_the_contract_is_generated_from_the_twins_unchanged():
    """`make openapi` regenerates docs/openapi.json from the declarations' twins: the committed document is
    what they generate (so the twins are exactly the models the contract was written from)."""
    from chalicelib import openapi

    assert json.loads((ROOT / "docs/openapi.json").read_text()) == json.loads(json.dumps(openapi.document()))


def test_a_request_in_production_never_imports_pydantic():
    """The three routes the cold-start bench measures, and a body rejected with errors, served in a fresh
    interpreter at the prod stage: pydantic (and its core) stay unloaded."""
    probe = """
import json, sys
from chalicelib import routing, typed, web
for module in routing.BLUEPRINTS:
    __import__(module)
from chalicelib.api.warehouse import InboundBody
from chalicelib.api.orders import OrderBody
try:
    web.validate(InboundBody, {"tracking_no": "x\\n", "weight_g": True, "zz": 1})
except Exception as exc:
    print(type(exc).__name__, exc)
web.validate(OrderBody, {"cart_item_ids": ["c1"], "payment_channel": "balance"})
from chalicelib.responses.items import ItemPage
print(web.serialize_response(ItemPage, {"items": [], "next_cursor": None}, "x"))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core"))))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "STAGE": "prod", "AWS_DEFAULT_REGION": "ap-southeast-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("ValidationError Invalid request"), out.stdout + out.stderr
    assert json.loads(lines[-1]) == []


def test_an_answer_built_with_an_undocumented_key_fails_in_tests_and_is_logged_and_left_out_in_production(
    monkeypatch, caplog
):
    from chalicelib.errors import ApiError
    from chalicelib.responses.base import Out

    class Answer(Out):
        """An answer."""

        order_id: str

    monkeypatch.setenv("STAGE", "test")
    with pytest.raises(ApiError, match="breaks its documented schema"):
        Answer.build(order_id="o1", secret="x")
    monkeypatch.setenv("STAGE", "prod")
    built = Answer.build(order_id="o1", secret="x")
    assert built.model_dump(mode="json", exclude_unset=True) == {"order_id": "o1"}
    assert "response_contract_violation" in caplog.text


def test_a_mutable_default_is_each_instances_own():
    class Tags(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        tags: list[str] = []  # noqa: RUF012 - what is tested

    first, second = Tags.model_validate({}), Tags.model_validate({})
    first.tags.append("x")
    assert second.tags == [] and Tags.model_validate({}).tags == []


class Scalars(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)
    i: int | None = None
    s: str | None = None
    b: bool | None = None
    f: float | None = None
    lit: Literal["a", "b"] | None = None
    e: Colour | None = None
    items: list[int] | None = None
    tags: dict[str, str] | None = None
    inner: Inner | None = None
    either: int | str | None = None


ODD_VALUES: list[Any] = [
    True,
    False,
    0,
    1,
    2,
    -3,
    5.0,
    5.5,
    float("nan"),
    Decimal("5"),
    Decimal("5.5"),
    Decimal("NaN"),
    "5",
    " 7 ",
    "5.5",
    "x",
    "",
    "true",
    "no",
    "red",
    b"5",
    Colour.RED,
    "a",
    "c",
    [1, 2],
    (1, "2"),
    ["x"],
    {"a": "b"},
    {"a": 1},
    {"weight_g": 1},
    {"weight_g": "x"},
    Inner.model_construct(weight_g=2),
    object(),
]


@pytest.mark.parametrize("field", list(Scalars.__typed_fields__))
def test_a_value_renders_as_pydantic_dumps_it_or_is_reported_where_pydantic_refuses_it(field):
    from chalicelib.typed import problems

    wrong = []
    for value in ODD_VALUES:
        try:
            raw = {field: typed._raw(value)}  # what the twin is given (web._dumped_as_twin): models as dicts
            theirs = twin(Scalars).model_validate(raw).model_dump(mode="json", exclude_unset=True)
        except pydantic.ValidationError:
            theirs = None
        with problems() as refused:
            try:
                ours = Scalars.model_validate({field: value}).model_dump(mode="json", exclude_unset=True)
            except ValidationError as exc:  # a dict that names what its model does not declare
                refused.extend(exc.errors())
        if theirs is None and not refused:
            wrong.append(f"{value!r}: pydantic refuses it, nothing reported")
        elif theirs is not None and (refused or json.dumps(ours, default=repr) != json.dumps(theirs)):
            wrong.append(f"{value!r}: {ours} / {refused} != pydantic's {theirs}")
    assert wrong == []


def test_a_wrong_typed_answer_value_fails_in_tests_and_is_logged_and_sent_as_built_in_production(
    monkeypatch, caplog
):
    from chalicelib.errors import ApiError
    from chalicelib.responses.base import Out

    class Weighed(Out):
        """A weight."""

        parcel_id: str
        weight_g: int

    monkeypatch.setenv("STAGE", "test")
    with pytest.raises(ApiError, match="weight_g"):
        web.serialize_response(Weighed, {"parcel_id": "p1", "weight_g": "heavy"}, "GET /x")
    monkeypatch.setenv("STAGE", "prod")
    body = web.serialize_response(Weighed, {"parcel_id": "p1", "weight_g": "heavy"}, "GET /x")
    assert body == {"parcel_id": "p1", "weight_g": "heavy"}
    logged = [r for r in caplog.records if r.getMessage() == "response_contract_violation"]
    assert logged and "weight_g" in str(logged[-1].problems)
