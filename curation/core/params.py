"""Parameters a pipeline file declares, set from the command line or the environment.

A pipeline file asks for each of its parameters once, at the top::

    DOCS = param("docs", 4000, "synthetic documents to generate")
    RATIO = param("upsample_ratio", 1.0, "tokens wanted / available per topic")

``param`` returns the value to use, by precedence: ``curate run FILE --set docs=500`` (or
``curate plan FILE --set ...``), else the environment variable ``CURATE_DOCS``, else the
default. A value given as text is converted to the default's type (``int``, ``float``,
``str``, or ``bool`` from true/false/yes/no/1/0) or by ``type=``; ``choices`` limits it. A
name given to ``--set`` that the file does not declare is an error listing those it does.
``curate plan`` lists every declared parameter with its type, default and value.

Outside ``curate`` (``python -m pipelines.web``, a notebook) there are no ``--set`` values:
the environment, then the default.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from curation.core.errors import CurationError

NAME = re.compile(r"[a-z][a-z0-9_]*")
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class Param:
    """One declared parameter: ``value`` is what the file got, ``origin`` where it came from
    (``default``, ``--set`` or the environment variable's name)."""

    name: str
    default: Any
    help: str
    type: Callable[[str], Any]
    choices: tuple | None
    value: Any
    origin: str

    @property
    def env(self) -> str:
        return env_name(self.name)

    def describe(self) -> str:
        kind = getattr(self.type, "__name__", str(self.type))
        choices = f" one of {list(self.choices)}" if self.choices else ""
        where = "" if self.origin == "default" else f"  (from {self.origin})"
        return (f"{self.name} = {self.value!r}  [{kind}{choices}, default {self.default!r}, "
                f"env {self.env}]{where}  {self.help}")


@dataclass
class _Session:
    """The ``--set`` values of one pipeline file being loaded, and what it declared."""

    settings: dict[str, str]
    declared: dict[str, Param] = field(default_factory=dict)


_session: _Session | None = None


def env_name(name: str) -> str:
    return f"CURATE_{name.upper()}"


def _convert(text: str, kind: Callable[[str], Any], name: str) -> Any:
    if kind is bool:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise CurationError(f"parameter {name}: {text!r} is not a boolean (true/false)")
    try:
        return kind(text)
    except (TypeError, ValueError) as e:
        raise CurationError(
            f"parameter {name}: {text!r} is not a {getattr(kind, '__name__', kind)} ({e})"
        ) from None


def param(name: str, default: Any, help: str = "", *, type: Callable[[str], Any] | None = None,
          choices: Sequence | None = None) -> Any:
    """The value of parameter ``name`` (``--set``, else ``$CURATE_<NAME>``, else ``default``);
    see the module docstring. ``name`` is lower_snake_case; ``type`` defaults to the type of
    ``default`` (``str`` when the default is None)."""
    if not NAME.fullmatch(name):
        raise CurationError(f"parameter name {name!r}: use lower_snake_case")
    kind = type or (str if default is None else default.__class__)
    if _session is not None and name in _session.settings:
        value, origin = _convert(_session.settings[name], kind, name), "--set"
    elif env_name(name) in os.environ:
        value, origin = _convert(os.environ[env_name(name)], kind, name), env_name(name)
    else:
        value, origin = default, "default"
    if choices is not None and value not in choices:
        raise CurationError(f"parameter {name}: {value!r} is not one of {list(choices)}")
    declared = Param(name, default, help, kind, tuple(choices) if choices else None, value,
                     origin)
    if _session is not None:
        if name in _session.declared and _session.declared[name].default != default:
            raise CurationError(f"parameter {name} is declared twice with different defaults")
        _session.declared[name] = declared
    return value


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    """``["docs=500", "workdir=runs/x"]`` as a mapping; a malformed pair is an error."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not NAME.fullmatch(name.strip()):
            raise CurationError(f"--set {pair!r}: expected NAME=VALUE with a lower_snake_case "
                                "NAME")
        settings[name.strip()] = value
    return settings


@contextlib.contextmanager
def settings(values: dict[str, str], where: str) -> Iterator[dict[str, Param]]:
    """Within the block, ``param`` sees ``values``; yields the parameters declared, by name.
    On leaving, a value no ``param`` asked for is an error naming ``where`` (the file)."""
    global _session
    outer, _session = _session, _Session(dict(values))
    try:
        yield _session.declared
        unknown = sorted(set(values) - set(_session.declared))
        if unknown:
            known = ", ".join(sorted(_session.declared)) or "none"
            raise CurationError(f"{where}: no parameter named {', '.join(unknown)} (it declares:"
                                f" {known})")
    finally:
        _session = outer
