"""Request and response models declared in pydantic's syntax, run without importing pydantic.

Why: importing pydantic and building its model classes was most of what a route's first request cost
above a minimal app (about 45 ms of imports and 10-30 ms of class building, against a ~200 ms baseline;
docs/benchmarks.md). This module gives the request path the part of pydantic it uses:

- `BaseModel`, `Field`, `ConfigDict`, `model_validator`: models are declared exactly as for pydantic
  (annotations, `Annotated[..., Field(ge=1)]`, `Literal`, nested models, `X | None`, a model's
  config, after-validators). Declaring a class does no work beyond recording its fields.
- Request bodies (`strict=True`, `extra="forbid"`: chalicelib.schemas.Body) are validated by
  `model_validate` with pydantic's rules and error entries (type, loc, msg) for the types bodies use:
  str, int, float, bool, Literal, list, dict, nested models, unions with None, and the constraints
  ge/gt/le/lt, min_length/max_length and pattern. A type outside that set is refused when the model is
  first validated (TypeError), never accepted unchecked.
- Responses (chalicelib.responses.base.Out) are built without validation and dumped by their declared
  types (`model_dump`): Decimal to int, enums to their values, nested models and dicts in field order,
  only the keys that were set.

pydantic stays the contract's engine: `twin(cls)` is the pydantic model of a declaration, built on first
use, from which the OpenAPI document is generated; in local and test stages every body validation and
every response is checked against its twin as well (`chalicelib.web`), so the whole test suite is a
parity test of this module against pydantic.
"""

from __future__ import annotations

import decimal
import enum
import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

# the constraints a body's field may carry (Field(...) keywords checked by validation); every other
# keyword (description, examples, json_schema_extra, discriminator) only describes the contract
_CHECKED = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern", "strict")


def ConfigDict(**config: Any) -> dict[str, Any]:
    """A model's configuration (pydantic's keys: extra, strict, use_enum_values, json_schema_extra...)."""
    return dict(config)


class FieldInfo:
    """What `Field(...)` declares: a default (or a factory) and pydantic's keywords, kept verbatim for the
    twin; the checked constraints among them are enforced on bodies."""

    __slots__ = ("default", "default_factory", "kwargs")

    def __init__(
        self, default: Any, default_factory: Callable[[], Any] | None, kwargs: dict[str, Any]
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Field({self.default!r}, {self.kwargs!r})"


def Field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
    """pydantic.Field: the default (positional) or `default_factory`, and the field's keywords."""
    return FieldInfo(default, default_factory, kwargs)


def model_validator(*, mode: str) -> Callable[[Callable], Callable]:
    """pydantic.model_validator; only mode="after" (a method of the validated model) is used here."""
    if mode != "after":
        raise TypeError("only model_validator(mode='after') is supported")

    def mark(fn: Callable) -> Callable:
        fn.__typed_validator__ = mode  # type: ignore[attr-defined]
        return fn

    return mark


class ValidationError(ValueError):
    """Validation failed; `errors()` lists pydantic's entries (type, loc, msg, and ctx where pydantic
    gives one)."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation error(s) for {title}")
        self.title = title
        self._errors = errors

    def errors(
        self, include_url: bool = True, include_input: bool = True, include_context: bool = True
    ) -> list:
        return [
            dict(e) if include_context else {k: v for k, v in e.items() if k != "ctx"} for e in self._errors
        ]


class _Fail(Exception):
    """One value's errors, raised by a checker to the model that holds it."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def _error(kind: str, msg: str, loc: tuple = (), **ctx: Any) -> _Fail:
    entry: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    if ctx:
        entry["ctx"] = ctx
    return _Fail([entry])


def _at(errors: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    return [{**e, "loc": (key, *e["loc"])} for e in errors]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- the model --------------------------------------------------------------------------------------


class _Meta(type):
    def __new__(mcs, name: str, bases: tuple, ns: dict[str, Any], **kwargs: Any) -> type:
        own = ns.get("__annotations__", {})
        defaults: dict[str, Any] = {}
        for field in own:
            if field.startswith("_") or field == "model_config":
                continue
            if field in ns:
                defaults[field] = ns.pop(field)
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        fields: dict[str, Any] = {}
        config: dict[str, Any] = {}
        validators: list[Callable] = []
        for base in reversed(cls.__mro__[1:]):
            if isinstance(base, _Meta):
                fields.update(base.__dict__.get("__typed_fields__", {}))
                config.update(base.__dict__.get("model_config", {}))
                validators.extend(
                    v for v in base.__dict__.get("__typed_validators__", ()) if v not in validators
                )
        for field, annotation in own.items():
            if field.startswith("_") or field == "model_config" or _is_classvar(annotation):
                continue
            fields[field] = defaults.get(field, _MISSING)
        config.update(ns.get("model_config", {}))
        validators.extend(v for v in ns.values() if getattr(v, "__typed_validator__", None))
        cls.__typed_fields__ = fields
        cls.model_config = config
        cls.__typed_validators__ = tuple(validators)
        cls.__typed_plan__ = None
        return cls


def _is_classvar(annotation: Any) -> bool:
    return (
        annotation is ClassVar
        or get_origin(annotation) is ClassVar
        or (isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")))
    )


class BaseModel(metaclass=_Meta):
    """pydantic.BaseModel's subset: fields as attributes, `model_validate`, `model_construct`,
    `model_dump`, `model_fields_set`, `model_config`."""

    model_config: ClassVar[dict[str, Any]] = {}
    __typed_fields__: ClassVar[dict[str, Any]]
    __typed_validators__: ClassVar[tuple]
    __typed_plan__: ClassVar[Any]
    __slots__ = ("__dict__", "_fields_set")

    def __init__(self, **data: Any) -> None:
        checked = type(self).model_validate(data)
        self.__dict__.update(checked.__dict__)
        self._fields_set = checked._fields_set

    @classmethod
    def model_construct(cls, **values: Any) -> Any:
        """An instance of `values` as given, without validation (the keys given are the ones set)."""
        instance = object.__new__(cls)
        instance._fields_set = set(values)
        for field, default in cls.__typed_fields__.items():
            if field not in values:
                values[field] = _default_of(default)
        instance.__dict__.update(values)
        return instance

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        """Bodies (strict config): checked, with pydantic's errors (ValidationError). Other models
        (responses): built as given, for `model_dump` to render by their types; a dict given for a field
        declared as a model becomes that model (as pydantic's would), so views read nested answers'
        attributes. A key the model does not declare, where it forbids extra keys, is refused
        (ValidationError), as pydantic refuses it; the values' types are not checked."""
        plan = _plan(cls)
        if not plan.strict:
            if isinstance(data, cls):
                return data
            if isinstance(data, BaseModel):
                data = data.model_dump_raw()
            if not isinstance(data, dict):
                raise ValidationError(cls.__name__, _error(*_model_type(cls)).errors)
            plan.documented(data.keys())
            return cls.model_construct(
                **{k: plan.wrappers[k](v) if k in plan.wrappers else v for k, v in data.items()}
            )
        try:
            return plan.check(data)
        except _Fail as failed:
            raise ValidationError(cls.__name__, failed.errors) from None

    @property
    def model_fields_set(self) -> set[str]:
        return set(self._fields_set)

    def model_dump(self, *, mode: str = "python", exclude_unset: bool = False) -> dict[str, Any]:
        """The fields (only those set with `exclude_unset`) rendered by their declared types: nested
        models as dicts, Decimal as int, enums as values (responses), in declaration order."""
        return _plan(type(self)).dump(self, exclude_unset)

    def model_dump_raw(self) -> dict[str, Any]:
        """The keys set, as given (nested models as their own raw dicts), undocumented ones too: what a
        twin validates."""
        return {k: _raw(v) for k, v in self.__dict__.items() if k in self._fields_set}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__  # type: ignore[union-attr]

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={self.__dict__.get(k)!r}" for k in type(self).__typed_fields__)
        return f"{type(self).__name__}({shown})"


def _raw(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump_raw()
    if isinstance(value, list | tuple):
        return [_raw(v) for v in value]
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    return value


def _default_of(default: Any) -> Any:
    """A field's default for one instance: a mutable one copied, as pydantic copies it."""
    if isinstance(default, FieldInfo):
        if default.default_factory is not None:
            return default.default_factory()
        default = default.default
    if default is _MISSING:
        return None
    if isinstance(default, list | dict | set):
        import copy

        return copy.deepcopy(default)
    return default


def _required(default: Any) -> bool:
    if isinstance(default, FieldInfo):
        return default.default is _MISSING and default.default_factory is None
    return default is _MISSING


def _model_type(cls: type) -> tuple[str, str]:
    return "model_type", f"Input should be a valid dictionary or instance of {cls.__name__}"


def hints(cls: type) -> dict[str, Any]:
    """The model's field annotations, evaluated (with Annotated metadata), in declaration order."""
    resolved: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("__annotations__")  # noqa: RUF063 - inspect costs ~10 ms of a cold start
        if not own or not isinstance(klass, _Meta):
            continue
        module = sys.modules[klass.__module__].__dict__
        for name, annotation in own.items():
            if name in cls.__typed_fields__:
                if isinstance(annotation, str):
                    annotation = eval(annotation, module, dict(vars(klass)))  # noqa: S307 - its own annotation
                resolved[name] = annotation
    return {name: resolved[name] for name in cls.__typed_fields__}


# --- validation (bodies) and dumping (responses), compiled per model on first use -----------------------


class _Plan:
    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.strict = bool(cls.model_config.get("strict"))
        self.forbid = cls.model_config.get("extra") == "forbid"
        self.enum_values = bool(cls.model_config.get("use_enum_values"))
        self.fields = cls.__typed_fields__
        annotations = hints(cls)
        if self.strict:
            strip = bool(cls.model_config.get("str_strip_whitespace"))
            self.checkers = {
                name: _checker(annotations[name], _constraints_of(self.fields[name]), strip)
                for name in self.fields
            }
        self.allow = cls.model_config.get("extra") == "allow"
        self.dumpers = {name: _dumper(annotations[name]) for name in self.fields}
        self.wrappers = {name: w for name in self.fields if (w := _wrapper(annotations[name])) is not None}
        # the Literal-typed fields and the values they allow (how a dict finds its model in a union)
        self.literals = {
            name: get_args(tp)
            for name, tp in ((n, _split(a)[0]) for n, a in annotations.items())
            if get_origin(tp) is Literal
        }

    def check(self, data: Any) -> Any:
        cls = self.cls
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise _error(*_model_type(cls))
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        for name, default in self.fields.items():
            if name in data:
                try:
                    values[name] = self.checkers[name](data[name])
                except _Fail as failed:
                    errors.extend(_at(failed.errors, name))
            elif _required(default):
                errors.append({"type": "missing", "loc": (name,), "msg": "Field required"})
        if self.forbid:
            errors.extend(
                {"type": "extra_forbidden", "loc": (key,), "msg": "Extra inputs are not permitted"}
                for key in data
                if key not in self.fields
            )
        if errors:
            raise _Fail(errors)
        instance = cls.model_construct(**values)
        for validator in cls.__typed_validators__:
            try:
                instance = validator(instance)
            except (ValueError, AssertionError) as exc:
                raise _error("value_error", f"Value error, {exc}", error=str(exc)) from None
        return instance

    def dump(self, instance: Any, exclude_unset: bool) -> dict[str, Any]:
        return self.dump_values(instance.__dict__, instance._fields_set, exclude_unset)

    def dump_values(self, values: dict[str, Any], given: Any, exclude_unset: bool) -> dict[str, Any]:
        """`values` (every declared field among them unless `exclude_unset`) rendered as this model:
        `given` are the keys that were set."""
        self.documented(given)
        shown = given if exclude_unset else self.fields
        dumped = self.render(values, shown, exclude_unset)
        if self.allow:  # extra="allow": the undeclared keys follow the declared ones, as pydantic dumps them
            dumped.update(
                (k, _any(v, exclude_unset)) for k, v in values.items() if k in given and k not in self.fields
            )
        return dumped

    def render(self, values: dict[str, Any], shown: Any, unset: bool) -> dict[str, Any]:
        """The declared fields among `shown`, in declaration order, each by its type's renderer; a
        problem a value reports gets the field's name in front of its location."""
        found = _problems.get()
        out: dict[str, Any] = {}
        for name in self.fields:
            if name in shown:
                before = len(found) if found is not None else 0
                out[name] = self.dumpers[name](values[name], unset)
                if found is not None and len(found) > before:
                    for entry in found[before:]:
                        entry["loc"] = (name, *entry["loc"])
        return out

    def documented(self, keys: Any) -> None:
        """A model that forbids extra keys refuses to render one it does not declare (ValidationError)."""
        if self.forbid and not self.fields.keys() >= keys:
            errors = [
                {"type": "extra_forbidden", "loc": (key,), "msg": "Extra inputs are not permitted"}
                for key in keys
                if key not in self.fields
            ]
            raise ValidationError(self.cls.__name__, errors)


def _plan(cls: type) -> _Plan:
    plan = cls.__dict__.get("__typed_plan__")
    if plan is None:
        plan = _Plan(cls)
        cls.__typed_plan__ = plan
    return plan


def _constraints_of(default: Any) -> dict[str, Any]:
    if isinstance(default, FieldInfo):
        return {k: v for k, v in default.kwargs.items() if k in _CHECKED}
    return {}


def _split(tp: Any) -> tuple[Any, dict[str, Any]]:
    """`Annotated[X, Field(...)...]` as X and its checked constraints."""
    constraints: dict[str, Any] = {}
    while get_origin(tp) is Annotated:
        tp, *meta = get_args(tp)
        for item in meta:
            if isinstance(item, FieldInfo):
                constraints.update({k: v for k, v in item.kwargs.items() if k in _CHECKED})
    return tp, constraints


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _union_args(tp: Any) -> tuple | None:
    return get_args(tp) if get_origin(tp) in (Union, types.UnionType) else None


def _checker(tp: Any, outer: dict[str, Any], strip: bool = False) -> Callable[[Any], Any]:
    """A strict check of one value against `tp` (raises _Fail with locations relative to the value);
    `strip`: the model's `str_strip_whitespace`, for every string it declares."""
    tp, inner = _split(tp)
    constraints = {**inner, **outer}
    union = _union_args(tp)
    if union is not None:
        others = [a for a in union if a is not type(None)]
        if len(others) != 1:
            raise TypeError(f"unsupported union in a body: {tp}")
        check = _checker(others[0], constraints, strip)
        return lambda v: None if v is None else check(v)
    if tp is Any:
        return lambda v: v
    if _is_model(tp):
        return lambda v: _plan(tp).check(v)
    origin = get_origin(tp)
    if origin is Literal:
        return _literal(get_args(tp))
    if tp is str:
        return _string(constraints, strip)
    if tp is bool:
        return _exact(bool, "bool_type", "Input should be a valid boolean")
    if tp is int:
        return _number(int, "int_type", "Input should be a valid integer", constraints)
    if tp is float:
        return _number(float, "float_type", "Input should be a valid number", constraints)
    if origin is list or tp is list:
        (item,) = get_args(tp) or (Any,)
        return _list(_checker(item, {}, strip), constraints)
    if origin is dict or tp is dict:
        key, value = get_args(tp) or (Any, Any)
        return _dict(_checker(key, {}, strip), _checker(value, {}, strip))
    raise TypeError(f"unsupported type in a body: {tp!r}")


def _exact(kind: type, code: str, msg: str) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if type(v) is not kind:
            raise _error(code, msg)
        return v

    return check


def _bounds(constraints: dict[str, Any]) -> list[Callable[[Any], None]]:
    tests = []
    for key, code, words, ok in (
        ("gt", "greater_than", "greater than", lambda v, b: v > b),
        ("ge", "greater_than_equal", "greater than or equal to", lambda v, b: v >= b),
        ("lt", "less_than", "less than", lambda v, b: v < b),
        ("le", "less_than_equal", "less than or equal to", lambda v, b: v <= b),
    ):
        if key in constraints:
            bound = constraints[key]

            def test(
                v: Any, bound: Any = bound, key: str = key, code: str = code, words: str = words, ok=ok
            ) -> None:
                if not ok(v, bound):
                    raise _error(code, f"Input should be {words} {bound}", **{key: bound})

            tests.append(test)
    return tests


def _number(kind: type, code: str, msg: str, constraints: dict[str, Any]) -> Callable[[Any], Any]:
    tests = _bounds(constraints)

    def check(v: Any) -> Any:
        if type(v) is not kind and not (kind is float and type(v) is int):
            raise _error(code, msg)
        for test in tests:
            test(v)
        return v

    return check


def _rust_pattern(pattern: str) -> re.Pattern:
    """`pattern` with the regex semantics pydantic's Rust engine gives it: searched, and `$` the end of the
    text only (Python's `$` also matches before a final newline)."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


# what Rust's str::trim (pydantic's str_strip_whitespace) removes: Unicode White_Space, which unlike
# Python's str.strip() leaves the separators U+001C-U+001F
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _string(constraints: dict[str, Any], strip: bool = False) -> Callable[[Any], Any]:
    low, high = constraints.get("min_length"), constraints.get("max_length")
    pattern = constraints.get("pattern")
    regex = _rust_pattern(pattern) if pattern is not None else None

    def check(v: Any) -> Any:
        if not isinstance(v, str):
            raise _error("string_type", "Input should be a valid string")
        if strip:
            v = v.strip(_WHITESPACE)
        if low is not None and len(v) < low:
            raise _error(
                "string_too_short", f"String should have at least {_plural(low, 'character')}", min_length=low
            )
        if high is not None and len(v) > high:
            raise _error(
                "string_too_long", f"String should have at most {_plural(high, 'character')}", max_length=high
            )
        if regex is not None and not regex.search(v):
            raise _error(
                "string_pattern_mismatch", f"String should match pattern '{pattern}'", pattern=pattern
            )
        return v

    return check


def _literal_text(value: Any) -> str:
    return repr(value.value if isinstance(value, enum.Enum) else value)


def _literal(choices: tuple) -> Callable[[Any], Any]:
    allowed = list(choices)
    texts = [_literal_text(c) for c in allowed]
    expected = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"

    def check(v: Any) -> Any:
        for choice in allowed:
            if type(v) is type(choice) and v == choice:
                return choice
        raise _error("literal_error", f"Input should be {expected}", expected=expected)

    return check


def _list(item: Callable[[Any], Any], constraints: dict[str, Any]) -> Callable[[Any], Any]:
    low, high = constraints.get("min_length"), constraints.get("max_length")

    def check(v: Any) -> Any:
        if not isinstance(v, list):
            raise _error("list_type", "Input should be a valid list")
        if high is not None and len(v) > high:
            raise _error(
                "too_long",
                f"List should have at most {_plural(high, 'item')} after validation, not {len(v)}",
                field_type="List",
                max_length=high,
                actual_length=len(v),
            )
        errors: list[dict[str, Any]] = []
        out = []
        for index, element in enumerate(v):
            try:
                out.append(item(element))
            except _Fail as failed:
                errors.extend(_at(failed.errors, index))
        if errors:
            raise _Fail(errors)
        if low is not None and len(out) < low:
            raise _error(
                "too_short",
                f"List should have at least {_plural(low, 'item')} after validation, not {len(out)}",
                field_type="List",
                min_length=low,
                actual_length=len(out),
            )
        return out

    return check


def _dict(key: Callable[[Any], Any], value: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if not isinstance(v, dict):
            raise _error("dict_type", "Input should be a valid dictionary")
        errors: list[dict[str, Any]] = []
        out = {}
        for k, element in v.items():
            try:
                checked_key = key(k)
            except _Fail as failed:
                errors.extend(_at(_at(failed.errors, "[key]"), k))
                continue
            try:
                out[checked_key] = value(element)
            except _Fail as failed:
                errors.extend(_at(failed.errors, k))
        if errors:
            raise _Fail(errors)
        return out

    return check


# --- dumping ---------------------------------------------------------------------------------------

# a dumper renders one value: dumper(value, exclude_unset)
Dumper = Callable[[Any, bool], Any]


def _dumper(tp: Any) -> Dumper:
    """How a value declared as `tp` is rendered, as pydantic's dump renders it after lax validation
    (Decimal to int, enums to values, nested models by their own fields). A value pydantic would refuse
    is rendered as given and reported to whoever collects `problems()`."""
    tp, _ = _split(tp)
    union = _union_args(tp)
    if union is not None:
        members = [a for a in union if a is not type(None)]
        if len(members) == 1:
            only = _dumper(members[0])
            return lambda v, unset: None if v is None else only(v, unset)
        models = [m for m in (_split(a)[0] for a in members) if _is_model(m)]
        by_type = {_split(m)[0]: _dumper(m) for m in members if isinstance(_split(m)[0], type)}
        return lambda v, unset: None if v is None else _union_dump(v, unset, models, by_type)
    if _is_model(tp):
        return lambda v, unset: _model_dump(tp, v, unset)
    origin = get_origin(tp)
    if tp is int:
        return _to_int
    if tp is float:
        return _to_float
    if tp is str:
        return _to_str
    if tp is bool:
        return _to_bool
    if origin is Literal:
        return _choice(tuple(_enum_value(c, True) for c in get_args(tp)), "literal_error")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _choice(tuple(m.value for m in tp), "enum")
    if origin is list or tp is list or origin is tuple:
        args = get_args(tp)
        item = _dumper(args[0]) if args else _any
        return lambda v, unset: (
            [item(x, unset) for x in v]
            if isinstance(v, list | tuple | set | frozenset)
            else _refused(v, "list_type")
        )
    if origin is dict or tp is dict:
        args = get_args(tp)
        value = _dumper(args[1]) if args else _any
        return lambda v, unset: (
            {_enum_value(k, unset): value(x, unset) for k, x in v.items()}
            if isinstance(v, dict)
            else _refused(v, "dict_type")
        )
    return _any


# where the rendering of an answer reports the values its model's types refuse (web.serialize_response);
# None: nobody collects, and such values are rendered as given without a word
_problems: ContextVar[list[dict[str, Any]] | None] = ContextVar("typed_problems", default=None)


@contextmanager
def problems() -> Iterator[list[dict[str, Any]]]:
    """Collect, while rendering, the values the declared types refuse, as pydantic-style entries (type,
    loc, msg): what production logs as a contract violation instead of failing the answer."""
    found: list[dict[str, Any]] = []
    token = _problems.set(found)
    try:
        yield found
    finally:
        _problems.reset(token)


def _refused(v: Any, kind: str) -> Any:
    found = _problems.get()
    if found is not None:
        found.append(
            {
                "type": kind,
                "loc": (),
                "msg": f"a {type(v).__name__} is not a valid {kind.removesuffix('_type')}",
            }
        )
    return v


_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_TRUE, _FALSE = (
    frozenset({"1", "t", "true", "on", "y", "yes"}),
    frozenset({"0", "f", "false", "off", "n", "no"}),
)


def _to_int(v: Any, unset: bool) -> Any:
    if type(v) is int:
        return v
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    if isinstance(v, int):  # a bool (True renders 1, as pydantic's lax int), an IntEnum
        return int(v)
    if isinstance(v, float | decimal.Decimal) and _integral(v):
        return int(v)
    if isinstance(v, str) and _INT_TEXT.fullmatch(v.strip()):
        return int(v)
    return _refused(v, "int_type")


def _integral(v: float | decimal.Decimal) -> bool:
    finite = v.is_finite() if isinstance(v, decimal.Decimal) else v == v and abs(v) != float("inf")
    return finite and v == int(v)


def _to_float(v: Any, unset: bool) -> Any:
    if isinstance(v, int | float | decimal.Decimal):
        return float(v)
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return _refused(v, "float_type")


def _to_str(v: Any, unset: bool) -> Any:
    if isinstance(v, str):
        return v.value if isinstance(v, enum.Enum) else v
    if isinstance(v, bytes):
        return v.decode()
    return _refused(v, "string_type")


def _to_bool(v: Any, unset: bool) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | decimal.Decimal) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    return _refused(v, "bool_type")


def _choice(allowed: tuple, kind: str) -> Dumper:
    def render(v: Any, unset: bool) -> Any:
        value = _enum_value(v, unset)
        return value if value in allowed else _refused(v, kind)

    return render


def _enum_value(v: Any, unset: bool) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


def _model_dump(model: type, v: Any, unset: bool) -> Any:
    if isinstance(v, BaseModel):
        return _plan(type(v)).dump(v, unset)
    if not isinstance(v, dict):
        return _refused(v, "model_type")
    plan = _plan(model)
    values = v if unset else {**{n: _default_of(d) for n, d in plan.fields.items() if n not in v}, **v}
    return plan.dump_values(values, v.keys(), unset)


def _wrapper(tp: Any) -> Callable[[Any], Any] | None:
    """How a value declared as `tp` holds its models: a dict given for a declared model becomes one (a
    list's or dict's elements too); None when `tp` declares no model."""
    tp, _ = _split(tp)
    union = _union_args(tp)
    if union is not None:
        models = [m for m in (_split(a)[0] for a in union) if _is_model(m)]
        if not models:
            return None
        return lambda v: (
            next((m.model_validate(v) for m in models if _fits(m, v)), v) if isinstance(v, dict) else v
        )
    if _is_model(tp):
        return lambda v: tp.model_validate(v) if isinstance(v, dict) else v
    origin = get_origin(tp)
    args = get_args(tp)
    if (origin is list or origin is tuple) and args:
        item = _wrapper(args[0])
        return (
            None if item is None else (lambda v: [item(x) for x in v] if isinstance(v, list | tuple) else v)
        )
    if origin is dict and len(args) == 2:
        value = _wrapper(args[1])
        return (
            None
            if value is None
            else (lambda v: {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v)
        )
    return None


def _fits(model: type, v: dict) -> bool:
    """`v` names only `model`'s fields, and every Literal-typed one (a discriminator) with a value it
    allows."""
    plan = _plan(model)
    return all(
        name in plan.fields and plan.literals.get(name, (value,)).__contains__(value)
        for name, value in v.items()
    )


def _union_dump(v: Any, unset: bool, models: list[type], by_type: dict[type, Dumper]) -> Any:
    """A value of a union: a model as its own class renders, a dict as the member model it fits, a plain
    value by the member of its own type (pydantic's smart mode prefers the exact type), else as given."""
    if isinstance(v, BaseModel) and models:
        return _plan(type(v)).dump(v, unset)
    if isinstance(v, dict):
        for model in models:
            if _fits(model, v):
                return _model_dump(model, v, unset)
    render = by_type.get(type(v))
    if render is not None:
        return render(v, unset)
    # as pydantic's lax pass: the first member (in declaration order) that takes the value
    for render in by_type.values():
        token = _problems.set([])
        try:
            out = render(v, unset)
            if not _problems.get():
                return out
        finally:
            _problems.reset(token)
    return _refused(v, "union_type")


def _any(v: Any, unset: bool = True) -> Any:
    """A value of an undeclared (Any) type, as pydantic's json-mode dump renders one."""
    if isinstance(v, BaseModel):
        return _plan(type(v)).dump(v, unset)
    if isinstance(v, enum.Enum):
        return _any(v.value)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, dict):
        return {_any(k): _any(x, unset) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [_any(x, unset) for x in v]
    return v


# --- the pydantic twin -------------------------------------------------------------------------------


def twin(cls: type) -> Any:
    """The pydantic model this declaration describes (fields, defaults, constraints, config, validators and
    JSON Schema hooks): the contract's source (chalicelib/openapi.py) and the oracle local and test stages
    check validation and dumps against. Built once per class, on first use."""
    made = cls.__dict__.get("__pydantic_twin__")
    if made is not None:
        return made
    import pydantic

    annotations = hints(cls)
    ns: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__dict__.get("__doc__"),
        "__annotations__": {name: _pydantic_type(tp) for name, tp in annotations.items()},
        "model_config": pydantic.ConfigDict(**cls.model_config),
    }
    for name, default in cls.__typed_fields__.items():
        if isinstance(default, FieldInfo):
            ns[name] = _pydantic_field(default)
        elif default is not _MISSING:
            ns[name] = default
    hook = getattr(cls, "__get_pydantic_json_schema__", None)
    if hook is not None:
        ns["__get_pydantic_json_schema__"] = classmethod(hook.__func__)
    for validator in cls.__typed_validators__:
        ns[validator.__name__] = pydantic.model_validator(mode=validator.__typed_validator__)(validator)
    made = type(cls.__name__, (pydantic.BaseModel,), ns)
    cls.__pydantic_twin__ = made
    return made


def _pydantic_field(info: FieldInfo) -> Any:
    import pydantic

    if info.default_factory is not None:
        return pydantic.Field(default_factory=info.default_factory, **info.kwargs)
    if info.default is _MISSING:
        return pydantic.Field(**info.kwargs)
    return pydantic.Field(info.default, **info.kwargs)


def _pydantic_type(tp: Any) -> Any:
    """`tp` with every declared model replaced by its twin and every Field(...) by pydantic's."""
    if _is_model(tp):
        return twin(tp)
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        return Annotated[
            (_pydantic_type(base), *(_pydantic_field(m) if isinstance(m, FieldInfo) else m for m in meta))
        ]
    if origin in (Union, types.UnionType):
        return Union[tuple(_pydantic_type(a) for a in get_args(tp))]  # noqa: UP007 - built from a tuple
    if origin is Literal or origin is None:
        return tp
    args = get_args(tp)
    return origin[tuple(_pydantic_type(a) for a in args)] if args else tp


__all__ = [
    "BaseModel",
    "ConfigDict",
    "Field",
    "FieldInfo",
    "ValidationError",
    "hints",
    "model_validator",
    "twin",
]
