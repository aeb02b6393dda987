"""A procedure's declared parameters: built from `key=value` text (the CLI) or JSON values (MQTT, the record).

Nested criteria are set with dotted keys (`stability.window=8`). Unknown keys and bad values are named, and
nothing touches an instrument before the parameters are valid.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


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
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{key}: expected a whole number, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}: expected text, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
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
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(prefix + head) else f"{prefix}{head}={value!r}: {msg}") from None
    for head, sub in nested.items():
        base = kwargs.get(head)
        tp = hints[head]
        if not dataclasses.is_dataclass(tp):
            raise ValueError(f"parameter {prefix}{head} has no fields")
        merged = {**(dataclasses.asdict(base) if base is not None else {}), **sub}
        kwargs[head] = build(tp, merged, prefix=f"{prefix}{head}.")
    return cls(**kwargs)


def to_dict(params: Any) -> dict[str, Any]:
    """The parameters as JSON-ready values, for the record."""
    return dataclasses.asdict(params)


def describe(cls: type) -> list[tuple[str, str, Any]]:
    """(name, type, default) of every parameter, nested ones with dotted names, for `labd run --list`."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            for name, tname, default in describe(tp):
                out.append((f"{f.name}.{name}", tname, default))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append((f.name, getattr(tp, "__name__", str(tp).replace("typing.", "")), default))
    return out
