"""A procedure's declared parameters: built from `key=value` text (the CLI) or JSON values (MQTT, the record).

Each parameter is declared once, with `param(default, unit=…, ge=…, le=…, description=…)`: its type comes from
the annotation, its unit, bounds and description from the declaration. `build` converts and checks every value
(numbers finite and within bounds, lists of a bounded length), `describe` lists them for `labd run --list`, and
`json_schema` gives the same as JSON Schema for a client that builds a form (the MQTT `list` reply).
Nested criteria are set with dotted keys (`stability.window=8`). Unknown keys and bad values are named, and
nothing touches an instrument before the parameters are valid.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spec:
    """What a parameter means: its unit, its allowed range and count, in words."""
    unit: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    choices: tuple[str, ...] = ()
    description: str = ""
    # Declared information that no measurement or calculation uses (customer, the item's serial): once recorded
    # it may be corrected by an amendment (ISO/IEC 17025 7.5.2), which keeps the original beside it.
    amendable: bool = False

    def check(self, key: str, value: Any) -> None:
        items = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple):
            if self.min_items is not None and len(value) < self.min_items:
                raise ValueError(f"{key}: at least {self.min_items} value{'s' if self.min_items > 1 else ''}")
            if self.max_items is not None and len(value) > self.max_items:
                raise ValueError(f"{key}: at most {self.max_items} values")
        for v in items:
            if isinstance(v, str):
                if self.choices and v not in self.choices:
                    raise ValueError(f"{key}: {v!r} is not one of {', '.join(self.choices)}")
                continue
            if v is None or isinstance(v, bool):
                continue
            unit = f" {self.unit}" if self.unit else ""
            if self.ge is not None and v < self.ge:
                raise ValueError(f"{key}: {v:g}{unit} is below the lowest allowed, {self.ge:g}{unit}")
            if self.gt is not None and v <= self.gt:
                raise ValueError(f"{key}: {v:g}{unit} must be above {self.gt:g}{unit}")
            if self.le is not None and v > self.le:
                raise ValueError(f"{key}: {v:g}{unit} is above the highest allowed, {self.le:g}{unit}")
            if self.lt is not None and v >= self.lt:
                raise ValueError(f"{key}: {v:g}{unit} must be below {self.lt:g}{unit}")

    def range_text(self) -> str:
        low = f"≥ {self.ge:g}" if self.ge is not None else f"> {self.gt:g}" if self.gt is not None else ""
        high = f"≤ {self.le:g}" if self.le is not None else f"< {self.lt:g}" if self.lt is not None else ""
        parts = [p for p in (low, high) if p]
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.max_items is not None:
            parts.append(f"{self.min_items or 0}–{self.max_items} values")
        return ", ".join(parts)


def param(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, unit: str = "",
          ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
          min_items: int | None = None, max_items: int | None = None, choices: tuple[str, ...] = (),
          description: str = "", amendable: bool = False) -> Any:
    """A parameter's declaration: `repetitions: int = param(10, ge=2, le=100, description="…")`."""
    spec = Spec(unit, ge, gt, le, lt, min_items, max_items, choices, description, amendable)
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


def spec_of(f: dataclasses.Field) -> Spec:
    return f.metadata.get("spec", Spec())


def amendable(cls: type) -> dict[str, Spec]:
    """The parameters of a procedure that an amendment may correct."""
    return {f.name: spec_of(f) for f in dataclasses.fields(cls) if spec_of(f).amendable}


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}: expected a list")
        item = typing.get_args(tp)[0]
        return tuple(_convert(item, v, key) for v in value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or value in ("", "none", "None"):
            return None
        return _convert(args[0], value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"{key}: expected a whole number, got {value!r}")
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            raise ValueError(f"{key}: expected a whole number, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"{key}: expected a number, got {value!r}")
        number = float(value.replace(",", ".") if isinstance(value, str) else value)
        if not math.isfinite(number):
            raise ValueError(f"{key}: expected a finite number, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}: expected text, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a table of {', '.join(f.name for f in dataclasses.fields(tp))}")
        return build(tp, value, prefix=f"{key}.")
    raise ValueError(f"{key}: cannot be set")


def build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """`cls(**values)` with every value converted to the declared type; dotted keys fill nested dataclasses."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    nested: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        head, dot, rest = key.partition(".")
        if head not in fields:
            raise ValueError(f"unknown parameter {prefix}{head!r}; known: {', '.join(fields)}")
        if dot:
            nested.setdefault(head, {})[rest] = value
            continue
        try:
            kwargs[head] = _convert(hints[head], value, prefix + head)
            spec_of(fields[head]).check(prefix + head, kwargs[head])
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(prefix + head) else f"{prefix}{head}={value!r}: {msg}") from None
    for head, sub in nested.items():
        base = kwargs.get(head)
        tp = hints[head]
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            raise ValueError(f"parameter {prefix}{head} has no fields")
        merged = {**(dataclasses.asdict(base) if base is not None else {}), **sub}
        kwargs[head] = build(tp, merged, prefix=f"{prefix}{head}.")
    return cls(**kwargs)


def to_dict(params: Any) -> dict[str, Any]:
    """The parameters as JSON-ready values, for the record."""
    return dataclasses.asdict(params)


@dataclass(frozen=True)
class Described:
    name: str
    type: str
    default: Any
    spec: Spec


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def described(cls: type, prefix: str = "") -> list[Described]:
    """Every parameter with its type, default and declaration; nested ones with dotted names."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += described(tp, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append(Described(prefix + f.name, _type_name(tp), default, spec_of(f)))
    return out


def describe(cls: type) -> list[tuple[str, str, Any]]:
    """(name, type, default) of every parameter, nested ones with dotted names."""
    return [(d.name, d.type, d.default) for d in described(cls)]


def _schema_type(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return {"type": "array", "items": _schema_type(typing.get_args(tp)[0])}
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return {**_schema_type(args[0]), "nullable": True}
    return {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}.get(tp, "string")}


def json_schema(cls: type, title: str = "") -> dict[str, Any]:
    """The parameters as a JSON Schema object (dotted names for nested ones, as commands send them)."""
    props: dict[str, Any] = {}

    def walk(c: type, prefix: str) -> None:
        hints = typing.get_type_hints(c)
        for f in dataclasses.fields(c):
            tp = hints[f.name]
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                walk(tp, f"{prefix}{f.name}.")
                continue
            spec = spec_of(f)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            entry = {**_schema_type(tp), "default": list(default) if isinstance(default, tuple) else default}
            bounds = {"minimum": spec.ge, "exclusiveMinimum": spec.gt, "maximum": spec.le,
                      "exclusiveMaximum": spec.lt}
            target = entry["items"] if entry["type"] == "array" else entry
            target.update({k: v for k, v in bounds.items() if v is not None})
            if spec.choices:
                target["enum"] = list(spec.choices)
            if spec.min_items is not None:
                entry["minItems"] = spec.min_items
            if spec.max_items is not None:
                entry["maxItems"] = spec.max_items
            if spec.description:
                entry["description"] = spec.description
            if spec.unit:
                entry["x-unit"] = spec.unit
            props[prefix + f.name] = entry
    walk(cls, "")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, "type": "object",
            "properties": props, "additionalProperties": False}


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(_default_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def markdown(name: str, version: str, description: str, cls: type) -> str:
    """The parameters of one procedure as a Markdown table (docs/procedures.md is made of these)."""
    rows = [f"### `{name}` (version {version})", "", description, "",
            "| parameter | type | default | unit | allowed | meaning |", "|---|---|---|---|---|---|"]
    for d in described(cls):
        default = _default_text(d.default).replace("|", "\\|") or '""'
        rows.append(f"| `{d.name}` | {d.type} | {default} | {d.spec.unit} | {d.spec.range_text()} | "
                    f"{d.spec.description} |")
    return "\n".join(rows) + "\n"
