"""PII masking: e-mail addresses, IPv4 and IPv6 addresses and phone numbers in ``text``
replaced by typed placeholders (Dolma's: ``|||EMAIL_ADDRESS|||``, ``|||IP_ADDRESS|||``,
``|||PHONE_NUMBER|||``), vectorised over the batch.

**One pass, one set of patterns.** The kinds' patterns (``PATTERNS``) and the near-miss
guards (``GUARDS``) are alternatives of one regex (``combined_pattern()``), matched left to
right without overlaps as Python's ``re.sub`` does: at each position the first alternative that
matches wins (guards, then e-mail, IPv6, IPv4, phone), and the scan goes on after the match. A
guard's match, a match of a kind not in ``kinds``, and a match that its kind's ``REJECT``
pattern matches whole (too few digits...) are left as they are. The patterns are written in
the common subset of Rust's regex (polars) and Python's ``re``: ASCII classes only, ``\\b`` an
ASCII word boundary (``re.ASCII``; ``(?-u)`` in Rust), no look-around. A test checks the stage
against ``re.sub`` over each document with these patterns.

How it runs without a loop per document: polars replaces every match by the text of its
named groups between sentinel characters (noncharacters absent from the batch), so the group
that matched, hence the kind, is where the text sits between the sentinels; a few literal-led
passes then put back the skipped matches, count each kind and write the placeholders.

**What is matched, and the near-misses decided** (``tests/curation/filters/pii_cases.py``
holds the labelled cases, precision and recall are measured per kind):

- *e-mail*: ``local@domain.tld``, ASCII local part, a domain of at least two labels ending in
  a two-letter (country) TLD or one of about a hundred common generic ones (``_TLDS``: com,
  org, edu, info, museum...; a rare new gTLD is missed). Not matched: ``@property``/``@Override``
  (no local part), ``user@host`` shell prompts (no dot in the host), ``pkg@1.2.3`` (numeric
  TLD), ``a@b.c``, matrix products in code (``q@k.transpose``, ``A@B.shape``, ``X@W.T``). Kept
  by guards: ``icon@2x.png`` (image-density suffixes) and ``git@github.com:org/repo`` (SSH
  remotes: a service account, not a person).
- *IPv4*: four dotted octets 0-255 without leading zeros, not inside a word or a longer dotted
  number. Unlike Dolma (any valid dotted quad), a dotted quad right after a version or section
  word (``version``, ``v``, ``release``, ``build``, ``firmware``, ``section``, ``chapter``,
  ``figure``, ``table``, ``step``, ``rule``, ``§``...), after a version specifier (``==``,
  ``>=``, ``~=``...), with a suffix (``5.10.102.1-microsoft``, ``1.2.3.4-rc1``) or inside a
  chain of five or more dotted numbers (OIDs, long versions) is kept. A bare ``1.2.3.4`` is
  masked: it is an IP address as far as text can tell.
- *IPv6*: the full eight-group form, ``::``-compressed forms and IPv4-suffixed forms
  (``::ffff:192.0.2.1``), with at least one digit and one group of 3 or 4 hex digits, and
  not a single group followed by ``::``. So code stays: ``Add::Bee``, ``dead::beef``, the
  Haskell or C++ ``::``, Python slices ``x[1::2]``, ``x[::2]``, reST's ``Example 1::``; and so
  do the loopback ``::1`` and the unspecified ``::`` (not identifying; ``[::1]`` and a slice
  look the same). MAC addresses (six groups) are not a kind and stay.
- *phone*: North American numbers ``555-234-5678``, ``555.234.5678``, ``(555) 234-5678``, with
  an optional ``1``/``+1`` prefix (``+1 555 123 4567``, ``1-800-555-0199``, ``+15551234567``), with
  the NANP rule that area code and exchange start with 2-9 (so the placeholder
  ``123-456-7890`` stays); and international numbers written with a leading ``+`` and a country
  code, then a space or dash and groups of digits (``+44 20 7946 0958``, ``+33 1 23 45 67 89``,
  ``(+49) 30 123456``, ``+44 (0)20 7946 0958``), 8 digits or more (so ``+40.7128``
  coordinates and ``+20 30`` score changes stay). Compact international numbers
  (``+442079460958``) are not matched: signed integers in tables look the same.
  Not matched, by design: a bare run of digits (``5551234567``: a Unix timestamp, an order
  number, a price in cents look the same), numbers with spaces only and no ``+``
  (``555 123 4567``: table columns), national formats other than NANP without ``+``, dates,
  times, ZIP+4, credit-card and SSN shapes, prices. ISBNs (``ISBN 978-0-306-40615-7``) and
  chains of five or more dash-separated numbers are kept by guards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import CurationError
from curation.core.stage import BatchContext, MapStage
from curation.filters.text import explode, texts_of

KINDS = ("email", "ipv6", "ipv4", "phone")  # in the order they are tried at one position
DEFAULT_PLACEHOLDERS = {
    "email": "|||EMAIL_ADDRESS|||",
    "ipv4": "|||IP_ADDRESS|||",
    "ipv6": "|||IP_ADDRESS|||",
    "phone": "|||PHONE_NUMBER|||",
}
COUNT = "pii_count"  # the column of masked spans per document
SPANS = "pii_spans"  # the side output of spans
SPAN_SCHEMA = pa.schema([("id", pa.string()), ("kind", pa.string()), ("start", pa.int64()),
                         ("end", pa.int64()), ("text", pa.string())])

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}\b"
_H = r"[0-9A-Fa-f]{1,4}"
_GROUPS = rf"{_H}(?::{_H}){{0,6}}"  # one side of '::'

# top-level domains an address may end in: every two-letter one (country codes) and these
_TLDS = ("com|org|net|edu|gov|mil|int|info|biz|name|pro|aero|coop|museum|mobi|asia|tel|travel|"
         "jobs|cat|post|app|dev|tech|online|site|store|shop|blog|cloud|email|mail|xyz|top|club|"
         "live|news|media|agency|company|digital|global|group|network|systems|solutions|"
         "services|world|today|life|studio|design|academy|education|university|school|law|"
         "health|space|website|web|one|art|page|link|work|wiki|center|consulting|software|"
         "energy|finance|capital|partners|ventures|social|team|zone|family|church|"
         "foundation|institute|international|events|photography|science|support|berlin|london|"
         "nyc|paris|tokyo|amsterdam|swiss|google|microsoft|apple|amazon")
PATTERNS = {
    "email": r"[A-Za-z0-9_][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
             rf"(?:[A-Za-z]{{2}}|(?i:{_TLDS}))\b",
    "ipv6": "|".join([
        rf"\b(?:{_H}:){{6}}{_IPV4}",                   # 6 groups, then IPv4
        rf"\b{_H}(?::{_H}){{0,4}}::(?:{_H}:){{0,4}}{_IPV4}",  # 64:ff9b::192.0.2.33
        rf"\B::(?:{_H}:){{0,5}}{_IPV4}",              # ::ffff:192.0.2.1
        rf"\b{_H}(?::{_H}){{7}}\b",                     # all eight groups
        rf"\b{_GROUPS}::(?:{_GROUPS}\b|\B)",            # 2001:db8::1, fe80::
        rf"\B::(?:{_GROUPS}\b|\B)",                     # ::1, ::
    ]),
    "ipv4": rf"\b{_IPV4}",
    "phone": "|".join([
        r"(?:\B\+1[-. ]?|\b1[-.]?)?\b[2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}\b",
        r"(?:\B\+1[-. ]?|\b1[-.]?)?\b[2-9][0-9]{2}\.[2-9][0-9]{2}\.[0-9]{4}\b",
        r"(?:\B\+1 ?|\b1 ?|\B)\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[-. ][0-9]{4}\b",
        r"\B\+1 [2-9][0-9]{2} [2-9][0-9]{2} [0-9]{4}\b",
        r"\B\+1[2-9][0-9]{2}[2-9][0-9]{6}\b",
        # international: +CC, a space or dash (or "(0)"), groups of digits
        r"\B\(?\+[2-9][0-9]{0,2}\)?(?: ?\(0\) ?|[ -])[0-9]{1,8}(?:[ .-][0-9]{1,8}){1,5}\b",
    ]),
}
_HEX = "0-9A-Fa-f"
# a match that one of these matches whole is left as it is (negated classes are written
# [^...] only: the stage adds its sentinels to them)
REJECT = {
    "ipv6": "|".join([
        "[^0-9]*",                                        # no digit: Add::Bee, dead::beef
        rf"[^{_HEX}]*(?:[{_HEX}]{{1,2}}[^{_HEX}]+)*[{_HEX}]{{0,2}}",  # groups of <= 2: x[1::2]
        rf"[{_HEX}]{{1,4}}::",                             # one group then '::': "Example 1::"
    ]),
    "phone": "[^0-9]*(?:[0-9][^0-9]*){0,7}",              # fewer than 8 digits
}

_VERSION_WORDS = ("version|ver|v|release|build|firmware|revision|rev|section|sec|chapter|"
                  "clause|figure|fig|table|step|rule|article|item|part")
GUARDS = (
    r"\b(?i:isbn)(?:-1[03])?:? ?[0-9][0-9 -]{8,16}[0-9Xx]\b",  # ISBNs
    rf"\b(?i:{_VERSION_WORDS})\.?:? ?[#-]?[0-9]+(?:\.[0-9]+)+",  # version 1.2.3.4, table 1.2
    r"(?:[0-9]+\.){3}[0-9]+-[A-Za-z]",                        # 5.10.102.1-microsoft, -rc1
    r"§ ?[0-9]+(?:\.[0-9]+)+",
    r"[=~<>!]= ?[0-9]+(?:\.[0-9]+)+",                         # pkg==1.2.3.4
    r"[0-9]+(?:\.[0-9]+){4,}",                                 # OIDs, long versions
    r"[0-9]+(?:-[0-9]+){4,}",                                  # serials, hyphenated ISBNs
    r"[A-Za-z0-9_][A-Za-z0-9._%+-]*@[1-9](?:\.[0-9])?x\.[A-Za-z]+\b",  # icon@2x.png
    r"\bgit@[A-Za-z0-9.-]+:",                                   # git@github.com:org/repo
)

# noncharacters: never in interchanged text, so a batch nearly always lacks all of them
_SENTINEL_POOL = [chr(c) for c in range(0xFDD0, 0xFDF0)] + [
    chr((plane << 16) | low) for plane in range(1, 17) for low in (0xFFFE, 0xFFFF)]


def combined_pattern() -> str:
    """The one regex (Python ``re`` syntax, to compile with ``re.ASCII``): the guards as group
    ``skip``, then one named group per kind in ``KINDS`` order."""
    return "|".join([f"(?P<skip>{'|'.join(GUARDS)})"]
                    + [f"(?P<{k}>{PATTERNS[k]})" for k in KINDS])


def _rust(pattern: str) -> str:
    """A pattern of ``PATTERNS``/``GUARDS`` for polars: ASCII classes and boundaries."""
    return "(?-u)" + pattern


class MaskPII(MapStage):
    """Replaces e-mail addresses, IP addresses and phone numbers with placeholders (see the
    module docstring for what counts as each).

    ``kinds``: which of ``email``, ``ipv4``, ``ipv6``, ``phone`` to mask (all by default; the
    others are still recognised, and left as they are, so choosing kinds never changes where
    the chosen ones are found). ``placeholders``: replacement text per kind, over Dolma's
    defaults. Adds ``pii_count`` (int32, spans masked in the document); counts each kind masked
    in the stage's stats (``counts``: ``masked_email``...); with ``spans=True`` emits one row
    per masked span to side output ``pii_spans`` (``id, kind, start, end, text``; offsets in
    code points of the original text, ``end`` exclusive)."""

    requires = ("id", "text")
    adds = {COUNT: pa.int32()}

    def __init__(self, kinds: Sequence[str] = KINDS,
                 placeholders: Mapping[str, str] | None = None, spans: bool = False,
                 name: str | None = None):
        unknown = sorted(set(kinds) - set(KINDS)) + sorted(set(placeholders or {}) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown PII kinds {unknown}; the kinds are {list(KINDS)}")
        if not kinds:
            raise ValueError("kinds is empty: give at least one of " + ", ".join(KINDS))
        self.kinds = [k for k in KINDS if k in kinds]
        self.placeholders = {**DEFAULT_PLACEHOLDERS, **(placeholders or {})}
        self.spans, self.name = spans, name

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        texts = texts_of(batch)
        masked, counts, spans = self._mask(texts)
        for kind in self.kinds:
            if counts[kind].sum():
                ctx.count(f"masked_{kind}", int(counts[kind].sum()))
        if self.spans and spans.height:
            ids = pl.Series("id", batch.column("id").combine_chunks()).cast(pl.String)
            rows = spans.select(ids.gather(spans["doc"]).alias("id"), "kind", "start", "end",
                                "text")
            ctx.emit(SPANS, rows.to_arrow().cast(SPAN_SCHEMA))
        total = counts[self.kinds[0]]
        for kind in self.kinds[1:]:
            total = total + counts[kind]
        text_type = batch.schema.field("text").type
        new_text = pc.if_else(pc.is_null(batch.column("text")), pa.nulls(len(texts), text_type),
                              masked.to_arrow().cast(text_type))
        out = batch.set_column(batch.schema.get_field_index("text"), "text", new_text)
        return out.append_column(COUNT, total.to_arrow())

    def _mask(self, texts: pl.Series) -> tuple[pl.Series, dict[str, pl.Series], pl.DataFrame]:
        """The masked texts, the masked spans per kind per text, and the spans (``doc, kind,
        start, end, text``; empty unless ``spans``)."""
        sentinels = _free_sentinels(texts, len(KINDS) + 2)
        if sentinels is None:  # the batch holds nearly every noncharacter: halve it
            if len(texts) == 1:
                raise CurationError("MaskPII: a text holds nearly every Unicode noncharacter; "
                                    "there is no free sentinel to mask it with")
            half = len(texts) // 2
            a, b = self._mask(texts[:half]), self._mask(texts[half:])
            spans = pl.concat([a[2], b[2].with_columns(pl.col("doc") + half)])
            return (pl.concat([a[0], b[0]]), {k: pl.concat([a[1][k], b[1][k]]) for k in KINDS},
                    spans)
        s = sentinels
        not_s = "[^" + "".join(s) + "]"
        groups = ("skip", *KINDS)
        marked = texts.str.replace_all(
            _rust(combined_pattern()),
            s[0] + "".join(f"${{{g}}}{s[i + 1]}" for i, g in enumerate(groups)))

        def wrapped(i: int, inner: str) -> str:
            """A match of group ``i`` as ``marked`` holds it: its text between sentinels."""
            return "".join(s[: i + 1]) + inner + "".join(s[i + 1:])

        # put back the guards' matches, the kinds not chosen and the matches REJECT refuses
        marked = marked.str.replace_all(wrapped(0, f"({not_s}+)"), "$1")
        for i, kind in enumerate(KINDS, 1):
            if kind not in self.kinds:
                marked = marked.str.replace_all(wrapped(i, f"({not_s}+)"), "$1")
            elif kind in REJECT:
                rejected = REJECT[kind].replace("[^", "[^" + "".join(s))
                marked = marked.str.replace_all(wrapped(i, f"((?:{rejected}))"), "$1")
        counts = {kind: marked.str.count_matches(wrapped(i, f"{not_s}+")).cast(pl.Int32)
                  for i, kind in enumerate(KINDS, 1)}
        spans = _spans(marked, s) if self.spans else pl.DataFrame()
        for i, kind in enumerate(KINDS, 1):
            if kind in self.kinds:
                placeholder = self.placeholders[kind].replace("$", "$$")
                marked = marked.str.replace_all(wrapped(i, f"{not_s}+"), placeholder)
        return marked, counts, spans


def _free_sentinels(texts: pl.Series, n: int) -> list[str] | None:
    """``n`` noncharacters that no text holds (the first ones of the pool when none holds any
    at all, the usual case); None when the batch holds too many of them."""
    if not texts.str.contains("[" + "".join(_SENTINEL_POOL) + "]").any():
        return _SENTINEL_POOL[:n]
    free = [c for c in _SENTINEL_POOL if not texts.str.contains(c, literal=True).any()]
    return free[:n] if len(free) >= n else None


def _spans(marked: pl.Series, s: list[str]) -> pl.DataFrame:
    """The spans still wrapped in ``marked`` (chosen kinds, long enough) with their offsets in
    the original text: pieces between matches are split off at ``s[0]`` (a match's start) and
    the last sentinel (its end); a match's kind is the number of sentinels before its text."""
    pieces = explode(marked.str.split(s[0]), len(marked))
    head = pl.col("piece").str.split(s[-1])
    df = pieces.with_columns(
        pl.when(pl.col("pos") == 0).then(pl.lit("")).otherwise(head.list.first()).alias("m"),
        pl.when(pl.col("pos") == 0).then(pl.col("piece")).otherwise(head.list.last())
        .alias("rest"),
    )
    inner = pl.col("m").str.replace_all("[" + "".join(s) + "]", "")
    df = df.with_columns(
        inner.alias("text"),
        inner.str.len_chars().cast(pl.Int64).alias("length"),
        pl.col("m").str.extract("^([" + "".join(s[1:]) + "]*)", 1).str.len_chars().alias("k"),
    )
    df = df.with_columns(
        (pl.col("length") + pl.col("rest").str.len_chars().cast(pl.Int64)).alias("span"))
    df = df.with_columns((pl.col("span").cum_sum().over("doc") - pl.col("span")).alias("start"))
    df = df.filter((pl.col("pos") > 0) & (pl.col("length") > 0) & (pl.col("k") > 0))
    return df.select(
        pl.col("doc"),
        pl.col("k").replace_strict(dict(enumerate(KINDS, 1)), return_dtype=pl.String)
        .alias("kind"),
        pl.col("start"), (pl.col("start") + pl.col("length")).alias("end"), pl.col("text"))

