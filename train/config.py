"""Config files checked against the dataclasses they fill (`TrainConfig` and its sections).

`parse_section` turns a parsed YAML / JSON mapping into a dataclass, walking the type
annotations: nested dataclasses, ``Literal`` choices, unions with None, lists, tuples and
mappings, and bool / int / float / str scalars. Every problem is collected with its path
(``model.moe``, ``stages[1].steps``) rather than failing on the first, and an unknown key
names the closest valid one. A field whose metadata has ``"schema": SomeDataclass`` is
checked against that class but kept as the mapping it was given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import types
import typing
from typing import Literal


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _shown(value: object) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


_SCALARS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _parse(value: object, hint: object, where: str, problems: list[str]) -> object:
    """`value` (parsed YAML / JSON) checked against the annotation `hint` and converted:
    mappings to dataclasses, lists to tuples where annotated. Each mismatch is appended to
    `problems` with its path (``model.moe``, ``stages[1].steps``); the result is then None.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:  # the first alternative that fits; else the last's error
            trial: list[str] = []
            out = _parse(value, option, where, trial)
            if not trial:
                return out
        return _parse(value, options[-1], where, problems)
    if dataclasses.is_dataclass(hint):
        return parse_section(value, hint, where, problems)
    if origin is Literal:
        if value in args:
            return value
        problems.append(_at(where, f"expected one of {', '.join(map(repr, args))}, "
                                   f"got {_shown(value)}"))
        return None
    if hint in _SCALARS:
        if hint in (bool, str):
            ok = isinstance(value, hint)
        else:  # a YAML true is an int to Python: not a number here
            ok = isinstance(value, int | float if hint is float else int)
            ok = ok and not isinstance(value, bool)
        if ok:
            return value
        message = f"expected {_SCALARS[hint]}, got {_shown(value)}"
        if hint is float and isinstance(value, str):
            with contextlib.suppress(ValueError):
                float(value)
                message += (" (YAML 1.1 reads 3e-4 as a string: write 3.0e-4)"
                            if "." not in value else " (write it without quotes)")
        problems.append(_at(where, message))
        return None
    container = origin or hint
    if container in (list, tuple, dict):
        want = {list: "a list", tuple: "a list", dict: "a mapping"}[container]
        if not isinstance(value, dict if container is dict else list | tuple):
            problems.append(_at(where, f"expected {want}, got {_shown(value)}"))
            return None
        if container is dict:
            if len(args) != 2:
                return value
            return {k: _parse(v, args[1], f"{where}.{k}", problems) for k, v in value.items()}
        if container is tuple and args and Ellipsis not in args:
            if len(value) != len(args):
                problems.append(_at(where, f"expected {len(args)} items, got {_shown(value)}"))
                return None
            return tuple(_parse(v, a, f"{where}[{i}]", problems)
                         for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else typing.Any
        items = [_parse(v, item, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items) if container is tuple else items
    return value  # typing.Any or an annotation these configs do not use: unchecked


def parse_section(value: object, cls: type, where: str, problems: list[str]) -> object:
    """The dataclass `cls` from the mapping `value`: unknown keys (with the closest valid
    one), missing required keys, field types and the class's own ValueErrors are problems."""
    if not isinstance(value, dict):
        problems.append(_at(where, f"expected a mapping of {cls.__name__} keys, "
                                   f"got {_shown(value)}"))
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    before = len(problems)
    suggested = set()
    for key in value:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            suggested.update(close)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"valid keys: {', '.join(fields)}")
            problems.append(_at(where, f"unknown key {key!r} ({hint})"))
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in value and name not in suggested:
            problems.append(_at(where, f"missing required key {name!r}"))
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, raw in value.items():
        if name not in fields:
            continue
        path = f"{where}.{name}" if where else name
        kwargs[name] = _parse(raw, hints[name], path, problems)
        schema = fields[name].metadata.get("schema")
        if schema is not None and raw is not None:  # checked as `schema`, kept as given
            _parse(raw, schema, path, problems)
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except ValueError as e:  # the section's own checks (__post_init__)
        problems.append(_at(where, str(e)))
        return None
