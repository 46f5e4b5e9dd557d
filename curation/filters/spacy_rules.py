"""spaCy's tokenizer rules per language, frozen in ``spacy_<language>_rules.json`` (written by
``python -m curation.filters.words`` from the installed spaCy), and the rewriting of their
Python regexes for Rust's ``regex`` (polars)."""

from __future__ import annotations

import functools
import json
import os
import re

LANGUAGES = ("en", "de", "fr", "es", "ru", "xx")  # spaCy blank languages with frozen rules


def rules_file(language: str = "en") -> str:
    """Where the frozen rules of ``language`` (one of ``LANGUAGES``) are."""
    if language not in LANGUAGES:
        raise ValueError(f"no frozen spaCy rules for {language!r}; languages: {LANGUAGES}")
    return os.path.join(os.path.dirname(__file__), f"spacy_{language}_rules.json")


RULES_FILE = rules_file("en")
def rust_pattern(pattern: str) -> str:
    """A Python ``re`` pattern written for Rust's ``regex``: ``\\u`` escapes (4 hex digits)
    and ``\\U`` escapes (8 hex digits) become ``\\x{...}``."""
    return re.sub(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})",
                  lambda m: f"\\x{{{(m.group(1) or m.group(2)).lstrip('0') or '0'}}}", pattern)


def drop_negative_lookaheads(pattern: str) -> str:
    """``pattern`` without its ``(?!...)`` groups (Rust's regex has no look-around)."""
    while (start := pattern.find("(?!")) >= 0:
        depth, i = 0, start
        while True:
            c = pattern[i]
            if c == "\\":
                i += 2
                continue
            depth += (c == "(") - (c == ")")
            i += 1
            if depth == 0:
                break
        pattern = pattern[:start] + pattern[i:]
    return pattern


@functools.cache
def raw_rules(language: str) -> dict:
    """The frozen rules of ``language`` as written."""
    with open(rules_file(language), encoding="utf-8") as f:
        return json.load(f)
