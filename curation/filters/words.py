"""spaCy's blank tokenizers (English, German, French, Spanish, Russian and the multi-language
``xx``) without spaCy, vectorised over a batch.

datatrove's filters count words with ``spacy.blank(language)``, whose tokenizer costs a
Python object per document and per token (about 1 MB/s per core on web-length text). Here
the same algorithm runs column-wise: every text is cut into chunks at Python whitespace (as
spaCy does), and each *distinct* chunk of the batch goes through spaCy 3.8's
``Tokenizer._split_affixes`` and ``_attach_tokens`` as rounds of Rust regex passes over all
chunks still being peeled: prefix and suffix matches, special cases (one ``is_in`` against
the exception table), the token match (French: its hyphenated and elided words), the URL
match and the infix split. The rules of each language in ``LANGUAGES`` are spaCy's defaults
for it, frozen in ``spacy_<language>_rules.json`` (``python -m curation.filters.words``
rewrites the files from the installed spaCy; a test checks that they are current).

Where this differs from spaCy, by construction:
- Rust's regex engine has no look-around. A look-behind or look-ahead of one character is
  matched as consumed context instead (a suffix ``(?<=[0-9])\\+`` becomes ``[0-9](\\+)``;
  an infix is marked by two replacement passes so that neighbouring matches sharing a
  context character are both found). Rules whose contexts overlap another rule's match can
  then split differently; the private-network exclusions of the URL pattern are dropped. A
  look-ahead of a prefix rule (French elisions ``l'``, ``d'``...) is consumed context too.
- spaCy's second pass that re-merges special cases split by affix rules (its special-case
  matcher: ``"):"`` peeled as ``")" ":"``) runs within each chunk only, so the special cases
  that hold a space (Spanish ``"EE. UU."``, 44 Russian abbreviations such as ``"в т.ч."``:
  one token each for spaCy) come out as their chunks' tokens; whitespace tokens are
  not produced (the filters strip tokens and drop the empty ones, as datatrove does); a NUL
  character inside a chunk, the infix mark, splits it.

The first ``VECTOR_ROUNDS`` rounds of affix peeling run column-wise; the few chunks that need
more (runs of punctuation such as ``=====``) finish one at a time in ``_peel_one``, a plain
transcription of spaCy's loop on Python's ``re`` and spaCy's own patterns (look-around
included; the token match through the Rust regex, French's taking Python seconds to compile).

That column-wise path is the fallback. Where a language's rules compile
(``curation.filters.affixes``: every language here but French), ``split_chunks`` runs spaCy's
loop itself, compiled, with look-around exact, and sends column-wise only the chunks with
more special-case runs than it tracks; ``tokenize`` then reads each chunk's tokens from a
compiled table of the run's chunks (``curation.filters.chunk_table``).

The agreement with spaCy (tokens, and each filter's decisions on real text) is measured in
``tests/curation/filters/test_words.py`` (English), ``test_languages.py`` (the others, on the
machine's translated message catalogs) and ``curate bench filters``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from curation.filters import affixes
from curation.filters.batch_words import BatchWords
from curation.filters.chunk_table import ChunkTable
from curation.filters.spacy_rules import (
    LANGUAGES,
    drop_negative_lookaheads,
    raw_rules,
    rules_file,
    rust_pattern,
)

CHUNK = r"[^\s\x1c-\x1f]+"  # a maximal run of characters that are not Python whitespace
PLAIN = r"^(?:[\p{L}\p{M}]+|[0-9]+)$"
VECTOR_ROUNDS = 8  # peeling rounds done column-wise; the rare chunks left go one at a time
_MARK = "\x00"  # separates infixes from their neighbours inside a chunk
_SUFFIX_END = 1 << 20  # sort key of the first suffix peeled; later ones sort before it
_CORE = 1 << 19  # sort key of a chunk's first core token: after prefixes, before suffixes


def _split_lookaround(entry: str) -> tuple[str, str, str]:
    """``(?<=L)M(?=R)`` as ``(L, M, R)``; a missing look-behind or look-ahead is ``""``.
    Only the rule shapes of spaCy's tables for ``LANGUAGES`` are recognised."""
    behind = ahead = ""
    if entry.startswith("(?<="):
        depth, i, in_class = 1, 4, False
        while depth:
            c = entry[i]
            if c == "\\":
                i += 2
                continue
            if in_class:
                in_class = c != "]"
            elif c == "[":
                in_class = True
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        behind, entry = entry[4:i - 1], entry[i:]
    m = re.search(r"\(\?=(\[[^\]]*\])\)$", entry)
    if m:
        ahead, entry = m.group(1), entry[: m.start()]
    return behind, entry, ahead


@dataclass(frozen=True)
class Rules:
    """One language's spaCy rules as Rust regexes (see the module docstring)."""

    prefix: str  # ^(?:...): the prefix spaCy's prefix_search finds, as groups p<i>
    prefix_groups: tuple[str, ...]  # those groups' names (one matches)
    suffix: str  # the longest plain suffix, as group 1
    suffix_behind: str  # suffixes after a context character, as groups s<i>
    suffix_groups: tuple[str, ...]
    infix: str  # every infix with its context, as named groups l<i>, m<i>, r<i>
    infix_marked: str  # the replacement that puts _MARK around each infix
    url: str | None
    token_match: str | None  # whole chunks the affix rules leave alone (French)
    special_keys: pl.Series  # one list: the special cases' strings
    specials: pl.DataFrame  # key, token, part (the token's index in the key's)
    matched: dict[int, pl.DataFrame]  # k -> plain tokens of a special joined by _MARK, key
    matched_keys: list[str]  # those special cases
    matched_vocabulary: pl.Series  # one list: every plain token of those special cases


def _prefix_regex(entries: list[str]) -> tuple[str, tuple[str, ...]]:
    """spaCy's prefix alternatives, in order, as one Rust regex: runs of plain entries as one
    named group each, an entry with a look-ahead ``(?=[...])`` as its own group followed by
    the class (consumed context)."""
    branches: list[str] = []
    names: list[str] = []
    plain: list[str] = []

    def close_plain() -> None:
        if plain:
            names.append(f"p{len(names)}")
            branches.append(f"(?P<{names[-1]}>{'|'.join(plain)})")
            plain.clear()

    for entry in entries:
        m = re.search(r"\(\?=(\[[^\]]*\])\)$", entry)
        if m is None:
            plain.append(entry)
            continue
        close_plain()
        names.append(f"p{len(names)}")
        branches.append(f"(?P<{names[-1]}>{entry[: m.start()]}){m.group(1)}")
    close_plain()
    return rust_pattern("^(?:" + "|".join(branches) + ")"), tuple(names)


@functools.cache
def rules(language: str = "en") -> Rules:
    raw = raw_rules(language)
    nonblank = {k: [e for e in raw[k] if e.strip()] for k in ("prefixes", "suffixes", "infixes")}
    prefixes = [p for p in nonblank["prefixes"] if p != r"\+(?![0-9])"] + [r"\+"]
    prefix, prefix_groups = _prefix_regex(prefixes)
    plain, behind = [], []
    for entry in nonblank["suffixes"]:
        ctx, body, _ = _split_lookaround(entry)
        (behind if ctx else plain).append((ctx, body))
    infix_branches, left, mid, right = [], [], [], []
    for i, entry in enumerate(nonblank["infixes"]):
        ctx, body, ahead = _split_lookaround(entry)
        infix_branches.append(
            (f"(?P<l{i}>{ctx})" if ctx else "") + f"(?P<m{i}>{body})"
            + (f"(?P<r{i}>{ahead})" if ahead else ""))
        left.append(f"${{l{i}}}" if ctx else "")
        mid.append(f"${{m{i}}}")
        right.append(f"${{r{i}}}" if ahead else "")
    specials = (pl.DataFrame({"key": list(raw["specials"]),
                              "token": list(raw["specials"].values())},
                             schema={"key": pl.String, "token": pl.List(pl.String)})
                .with_columns(pl.int_ranges(pl.col("token").list.len()).alias("part"))
                .explode("token", "part"))
    # a one-token special case spelled by its one plain token changes nothing (and, the
    # shortest, blocks no other merge)
    merging = {k: v for k, v in raw["matched_specials"].items()
               if len(v) > 1 or raw["specials"][k] != v}
    matched: dict[int, list[tuple[str, str]]] = {}
    for key, plain_tokens in merging.items():
        matched.setdefault(len(plain_tokens), []).append((_MARK.join(plain_tokens), key))
    url, token_match = raw.get("url"), raw.get("token_match")
    return Rules(
        prefix=prefix,
        prefix_groups=prefix_groups,
        suffix=rust_pattern("(" + "|".join(b for _, b in plain) + ")$"),
        suffix_behind=rust_pattern("(?:" + "|".join(f"{c}(?P<s{i}>{b})"
                                             for i, (c, b) in enumerate(behind)) + ")$"),
        suffix_groups=tuple(f"s{i}" for i in range(len(behind))),
        infix=rust_pattern("|".join(infix_branches)),
        infix_marked="".join(left) + _MARK + "".join(mid) + _MARK + "".join(right),
        url=None if url is None else rust_pattern(drop_negative_lookaheads(url)),
        token_match=None if token_match is None else rust_pattern(token_match),
        special_keys=pl.Series(list(raw["specials"]), dtype=pl.String).implode(),
        specials=specials,
        matched={k: pl.DataFrame(v, schema=["window", "key"], orient="row")
                 for k, v in sorted(matched.items())},
        matched_keys=sorted(merging),
        matched_vocabulary=pl.Series(sorted({t for v in merging.values() for t in v}),
                                     dtype=pl.String).implode(),
    )


@functools.cache
def sentence_final(language: str = "en") -> tuple[str, ...]:
    """The marks spaCy's default sentencizer ends a sentence on (the same in every language;
    frozen with each language's rules)."""
    return tuple(raw_rules(language)["sentence_final"])


@functools.cache
def _python_rules(language: str = "en"):
    """spaCy's prefix and suffix searches, compiled as spaCy compiles them, its special cases
    and its token match (through the Rust regex: Python takes seconds to compile French's)."""
    raw = raw_rules(language)
    prefix = re.compile("|".join("^" + p for p in raw["prefixes"] if p.strip()))
    suffix = re.compile("|".join(p + "$" for p in raw["suffixes"] if p.strip()))
    pattern = rules(language).token_match

    def token_match(string: str) -> bool:
        return bool(pl.Series([string], dtype=pl.String).str.contains(pattern)[0])

    return prefix, suffix, frozenset(raw["specials"]), token_match if pattern else None


def _peel_one(string: str, language: str = "en") -> tuple[list[str], str, list[str]]:
    """spaCy's ``Tokenizer._split_affixes`` for one string: (prefixes in order, what is left,
    suffixes in the order peeled)."""
    prefix_search, suffix_search, specials, token_match = _python_rules(language)
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = -1
    while string and len(string) != last_size and string not in specials:
        if token_match is not None and token_match(string):
            break
        last_size = len(string)
        m = prefix_search.search(string)
        pre = m.group() if m else ""
        minus_pre = string[len(pre):]
        if pre and minus_pre and minus_pre in specials:
            return prefixes + [pre], minus_pre, suffixes
        m = suffix_search.search(minus_pre)
        suf = m.group() if m else ""
        minus_suf = string[: len(string) - len(suf)]
        if suf and minus_suf and minus_suf in specials:
            return prefixes, minus_suf, suffixes + [suf]
        if pre and suf and len(pre) + len(suf) <= len(string):
            string = string[len(pre): len(string) - len(suf)]
            prefixes.append(pre)
            suffixes.append(suf)
        elif pre:
            string = minus_pre
            prefixes.append(pre)
        elif suf:
            string = minus_suf
            suffixes.append(suf)
    return prefixes, string, suffixes


def _longest(a: pl.Series, b: pl.Series) -> pl.Series:
    """Per row, the longer of two optional strings (the suffix that starts leftmost)."""
    la, lb = a.str.len_chars().fill_null(-1), b.str.len_chars().fill_null(-1)
    return pl.select(pl.when(lb > la).then(b).otherwise(a)).to_series()


def _first_group(s: pl.Series, pattern: str, names: tuple[str, ...]) -> pl.Series:
    """The first of the named groups ``names`` that ``pattern`` captures in each string."""
    groups = s.str.extract_groups(pattern).struct
    return pl.select(pl.coalesce([groups.field(n) for n in names])).to_series()


def _whole(s: pl.Series, pattern: str | None) -> pl.Series:
    """Does ``pattern`` (an optional anchored match) match each string?"""
    if pattern is None:
        return pl.Series([False] * len(s), dtype=pl.Boolean)
    return s.str.contains(pattern)


def _peel(chunks: pl.Series, language: str = "en") -> tuple[pl.DataFrame, pl.DataFrame]:
    """spaCy's ``_split_affixes`` on every chunk at once. Returns (affixes: ``id, key,
    token``; cores: ``id, core``), ``id`` the chunk's index, ``key`` its sort position."""
    r = rules(language)
    active = pl.DataFrame({"id": pl.arange(0, len(chunks), dtype=pl.UInt32, eager=True),
                           "s": chunks})
    affixes, cores = [], []
    for step in range(VECTOR_ROUNDS):
        s = active["s"]
        done = (s == "") | s.is_in(r.special_keys) | _whole(s, r.token_match)
        cores.append(active.filter(done))
        active = active.filter(~done)
        if active.height == 0:
            break
        s = active["s"]
        n = s.str.len_chars()
        pre = _first_group(s, r.prefix, r.prefix_groups)
        pre = pl.select(pl.when((pre == "+") & s.str.slice(1, 1).str.contains("^[0-9]$"))
                        .then(None).otherwise(pre)).to_series()  # \\+(?![0-9])
        pre_len = pre.str.len_chars().fill_null(0)
        minus_pre = s.str.slice(pre_len)
        behind = _first_group(minus_pre, r.suffix_behind, r.suffix_groups)
        suf = _longest(minus_pre.str.extract(r.suffix, 1), behind)
        suf_len = suf.str.len_chars().fill_null(0)
        minus_suf = s.str.slice(0, n - suf_len)
        stop_pre = (pre_len > 0) & (minus_pre != "") & minus_pre.is_in(r.special_keys)
        stop_suf = ~stop_pre & (suf_len > 0) & (minus_suf != "") & minus_suf.is_in(
            r.special_keys)
        both = ~stop_pre & ~stop_suf & (pre_len > 0) & (suf_len > 0) & (pre_len + suf_len <= n)
        take_pre = stop_pre | (~stop_suf & (pre_len > 0))
        take_suf = stop_suf | both | (~stop_pre & ~stop_suf & (pre_len == 0) & (suf_len > 0))
        rest = pl.select(
            pl.when(both).then(s.str.slice(pre_len, n - pre_len - suf_len))
            .when(take_pre).then(minus_pre).when(take_suf).then(minus_suf)
            .otherwise(s)).to_series()
        ids = active["id"]
        affixes.append(pl.DataFrame({"id": ids.filter(take_pre), "key": step,
                                     "token": pre.filter(take_pre)}))
        affixes.append(pl.DataFrame({"id": ids.filter(take_suf), "key": _SUFFIX_END - step,
                                     "token": suf.filter(take_suf)}))
        finished = stop_pre | stop_suf | (rest.str.len_chars() == n)
        cores.append(pl.DataFrame({"id": ids.filter(finished), "s": rest.filter(finished)}))
        active = pl.DataFrame({"id": ids.filter(~finished), "s": rest.filter(~finished)})
    schema = {"id": pl.UInt32, "key": pl.Int64, "token": pl.String}
    if active.height:  # the few chunks with many affixes ("=====", "((((x"): one at a time
        peeled = [_peel_one(s, language) for s in active["s"].to_list()]
        ids = active["id"].to_list()
        affixes.append(pl.DataFrame(
            [(i, VECTOR_ROUNDS + k, t) for i, (pre, _, _) in zip(ids, peeled, strict=True)
             for k, t in enumerate(pre)]
            + [(i, _SUFFIX_END - VECTOR_ROUNDS - k, t)
               for i, (_, _, suf) in zip(ids, peeled, strict=True) for k, t in enumerate(suf)],
            schema=schema, orient="row"))
        cores.append(pl.DataFrame({"id": active["id"], "s": [c for _, c, _ in peeled]}))
    affixes = pl.concat([a.cast(schema) for a in affixes]) if affixes else pl.DataFrame(
        schema=schema)
    return affixes, pl.concat(cores).rename({"s": "core"})


def _split_cores(cores: pl.DataFrame, language: str = "en") -> pl.DataFrame:
    """spaCy's ``_attach_tokens`` for the cores: a special case gives its tokens, a token
    match or a URL one token, anything else is split around its infixes (an infix at the
    very start is not split off, as spaCy skips it). Returns ``id, key, token``."""
    r = rules(language)
    cores = cores.filter(pl.col("core") != "")
    special = cores["core"].is_in(r.special_keys)
    from_specials = (cores.filter(special)
                     .join(r.specials, left_on="core", right_on="key", maintain_order="left")
                     .select("id", pl.col("part").alias("key"), "token"))
    rest = cores.filter(~special)
    marked = rest["core"]
    for _ in range(2):  # matches that share a context character need a second pass
        marked = marked.str.replace_all(r.infix, r.infix_marked)
    marked = marked.str.replace(f"^{_MARK}+([^{_MARK}]*){_MARK}+", "${1}")
    whole = (_whole(rest["core"], r.token_match) | _whole(rest["core"], r.url)
             | ~marked.str.contains(_MARK, literal=True))
    pieces = pl.select(pl.when(whole).then(pl.concat_list(rest["core"]))
                       .otherwise(marked.str.split(_MARK))).to_series()
    split = (pl.DataFrame({"id": rest["id"], "token": pieces})
             .with_columns(pl.int_ranges(pl.col("token").list.len()).alias("key"))
             .explode("token", "key").filter(pl.col("token") != "")
             .select("id", "key", "token"))
    return pl.concat([from_specials, split]).with_columns(pl.col("key") + _CORE)


def _positions(ids: pl.Series) -> pl.Series:
    """Each row's index among the rows of its ``id``, for rows grouped by ``id``."""
    a = ids.to_numpy()
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] != a[:-1]
    starts = np.flatnonzero(new)
    return pl.Series(np.arange(len(a)) - np.repeat(starts, np.diff(np.append(starts, len(a)))))


def _merge_specials(tokens: pl.DataFrame, language: str = "en") -> pl.DataFrame:
    """spaCy's special-case matcher within each chunk: runs of tokens that spell a special
    case the affix rules split (``"):"`` split as ``")" ":"``, ``"e."`` as ``"e" "."``) are
    chosen longer runs first, then leftmost, no overlaps; each is replaced by the tokens of
    the special case of its own text, or left as it is where its text is none (a key with a
    space, or another key split alike: Spanish "Ee. Uu." and "Ee.Uu."), as spaCy does.
    ``tokens``: ``id, token`` in order; returns the same shape."""
    r = rules(language)
    tokens = tokens.with_columns(_positions(tokens["id"]).alias("pos"))
    # a run can only be made of tokens that occur in some special case's plain tokens
    cand = tokens.filter(pl.col("token").is_in(r.matched_vocabulary))
    found = []
    for k, table in r.matched.items():
        window = pl.concat_str([pl.col("token").shift(-j) for j in range(k)], separator=_MARK)
        consecutive = (pl.col("id").shift(-(k - 1)) == pl.col("id")) & (
            pl.col("pos").shift(-(k - 1)) == pl.col("pos") + (k - 1))
        hits = (cand.with_columns(window.alias("window"), consecutive.alias("ok"))
                .filter(pl.col("ok") if k > 1 else pl.lit(True))
                .join(table, on="window", how="semi")
                .select("id", pl.col("pos").alias("start"), pl.lit(k, pl.Int64).alias("k"),
                        pl.col("window").str.replace_all(_MARK, "", literal=True).alias("key")))
        found.append(hits)
    if not found:
        return tokens.select("id", "token")
    hits = pl.concat(found).sort(["id", "k", "start"], descending=[False, True, False])
    crowded = hits.filter(pl.len().over("id") > 1)
    if crowded.height:  # overlapping runs are rare: settle them one chunk at a time
        keep, seen = [], set()
        for row in crowded.iter_rows(named=True):
            span = {(row["id"], p) for p in range(row["start"], row["start"] + row["k"])}
            ends = {(row["id"], row["start"]), (row["id"], row["start"] + row["k"] - 1)}
            keep.append(not (ends & seen))
            seen |= span
        hits = pl.concat([hits.filter(pl.len().over("id") == 1),
                          crowded.filter(pl.Series(keep))])
    hits = hits.join(r.specials.select("key").unique(), on="key", how="semi")
    if hits.height == 0:
        return tokens.select("id", "token")
    covered = (hits.with_columns(pl.int_ranges("start", pl.col("start") + pl.col("k"))
                                 .alias("pos")).explode("pos").select("id", "pos"))
    merged = (hits.join(r.specials, on="key", maintain_order="left")
              .with_columns(pl.col("start").alias("pos")).select("id", "pos", "token"))
    kept = tokens.join(covered, on=["id", "pos"], how="anti")
    return (pl.concat([kept.select("id", "pos", "token"), merged])
            .with_row_index("order")
            .sort("id", "pos", "order").select("id", "token"))


def _split_unplain(chunks: pl.Series, language: str = "en") -> pl.DataFrame:
    """``split_chunks`` for chunks that are not plain: ``id, token``."""
    affixes, cores = _peel(chunks, language)
    tokens = pl.concat([affixes, _split_cores(cores, language).select(affixes.columns)])
    tokens = tokens.sort("id", "key").select("id", "token")
    keys = rules(language).matched_keys
    if not keys:
        return tokens
    # tokens in a row spell a special case only where the chunk holds it as a substring
    near = chunks.str.contains_any(keys).gather(tokens["id"])
    return pl.concat([tokens.filter(~near), _merge_specials(tokens.filter(near), language)])


def split_chunks(chunks: pl.Series, language: str = "en") -> pl.DataFrame:
    """Every chunk (a string without whitespace) as spaCy's tokenizer for ``language`` splits
    it: rows ``id`` (the chunk's index), ``token``, in text order. The compiled loop of
    ``curation.filters.affixes`` decides the chunks it can; the rest go column-wise."""
    compiled = affixes.compile_rules(language)
    if compiled is None:
        return split_chunks_columnwise(chunks, language)
    tokens, fallback = affixes.split(chunks, compiled)
    if not fallback.any():
        return tokens
    ids = pl.Series(np.flatnonzero(fallback).astype(np.uint32))
    rest = split_chunks_columnwise(chunks.filter(pl.Series(fallback)), language)
    return (pl.concat([tokens, rest.with_columns(ids.gather(rest["id"]).alias("id"))])
            .sort("id", maintain_order=True))


def split_chunks_columnwise(chunks: pl.Series, language: str = "en") -> pl.DataFrame:
    """``split_chunks`` by column-wise regex passes alone."""
    ids = pl.arange(0, len(chunks), dtype=pl.UInt32, eager=True)
    # letters only, or ASCII digits only: no rule but a special case can split these
    plain = chunks.str.contains(PLAIN) & ~chunks.is_in(rules(language).special_keys)
    other = _split_unplain(chunks.filter(~plain), language)
    other = other.with_columns(ids.filter(~plain).gather(other["id"]).alias("id"))
    return (pl.concat([pl.DataFrame({"id": ids.filter(plain), "token": chunks.filter(plain)}),
                       other]).sort("id", maintain_order=True))


class ChunkCache:
    """Tokens of the chunks seen in recent batches, so that a chunk is split once per run
    rather than once per batch (web text repeats most of its chunks). Chunks are known by a
    64-bit hash (two distinct chunks of a run share one with probability about
    ``chunks**2 / 2**65``, 1e-7 at two million). Holds at most ``max_chunks`` chunks: past
    that it restarts from the latest batch's. The cache never changes a result, only how
    often the work is done. ``split`` tokenizes the chunks it has not seen (a function of a
    string series returning ``id, token`` rows, as ``split_chunks``)."""

    def __init__(self, max_chunks: int = 2_000_000, split=split_chunks):
        self.max_chunks = max_chunks
        self.split = split
        self._known = pl.DataFrame(schema={"hash": pl.UInt64, "tokens": pl.List(pl.String)})

    def tokens(self, distinct: pl.DataFrame) -> pl.DataFrame:
        """``hash, tokens`` (a list, in order) for every chunk of ``distinct`` (columns
        ``hash``, ``chunk``, one row per hash)."""
        found = distinct.select("hash").join(self._known, on="hash", how="inner")
        missing = distinct.join(found, on="hash", how="anti")
        split = self.split(missing["chunk"])
        new = split.group_by("id", maintain_order=True).agg(pl.col("token").alias("tokens"))
        new = new.select(missing["hash"].gather(new["id"]), "tokens")
        if self._known.height + new.height > self.max_chunks:
            self._known = pl.concat([found, new])
        else:
            self._known = pl.concat([self._known, new])
        return pl.concat([found, new])


_CACHES: dict[str, ChunkCache | ChunkTable] = {}


def cache(language: str = "en") -> ChunkCache | ChunkTable:
    """The chunk cache of ``language``'s tokenizer: a compiled ``ChunkTable`` where the
    language's rules compile (``curation.filters.affixes``), else a ``ChunkCache``."""
    if language not in _CACHES:
        rules_file(language)  # a clear error for a language without rules
        compiled = affixes.compile_rules(language)
        _CACHES[language] = (
            ChunkCache(split=functools.partial(split_chunks_columnwise, language=language))
            if compiled is None else
            ChunkTable(functools.partial(split_chunks_columnwise, language=language),
                       split_ranges=functools.partial(affixes.split_ranges, rules=compiled)))
    return _CACHES[language]


def reset_cache() -> None:
    """Forget every chunk split so far, in every language (benchmarks start each timing
    cold, as a run does)."""
    _CACHES.clear()


def tokenize_chunks(texts: pl.Series, pattern: str, chunk_cache: ChunkCache) -> pl.DataFrame:
    """Every token of every text as rows ``doc, token`` in text order (``doc`` the text's
    index): the texts cut into the matches of ``pattern``, each distinct match split once
    per run by ``chunk_cache``."""
    chunks = pl.DataFrame({"doc": pl.arange(0, len(texts), dtype=pl.UInt32, eager=True),
                           "chunk": texts.str.extract_all(pattern)}).explode("chunk")
    return tokenize_pieces(chunks.filter(pl.col("chunk").is_not_null()), chunk_cache)


def tokenize_pieces(chunks: pl.DataFrame, chunk_cache: ChunkCache) -> pl.DataFrame:
    """The tokens of ``chunks`` (rows ``doc, chunk`` in text order) as rows ``doc, token``,
    each distinct chunk split once per run by ``chunk_cache``."""
    chunks = chunks.with_columns(pl.col("chunk").hash(seed=0).alias("hash"))
    known = chunk_cache.tokens(chunks.filter(pl.col("hash").is_first_distinct()))
    return (chunks.select("doc", "hash").join(known, on="hash", how="left",
                                              maintain_order="left")
            .select("doc", pl.col("tokens").alias("token")).explode("token")
            .filter(pl.col("token").is_not_null()))


def batch_words(texts: pl.Series, language: str = "en") -> BatchWords:
    """``tokenize``'s tokens as byte ranges (straight from the chunk table where there is
    one)."""
    chunks = cache(language)
    if isinstance(chunks, ChunkTable):
        return chunks.words(texts)
    made = tokenize_chunks(texts, CHUNK, chunks)
    return BatchWords.of(made["doc"], made["token"])


def tokenize(texts: pl.Series, language: str = "en") -> pl.DataFrame:
    """Every non-whitespace spaCy token of every text as rows ``doc, token`` in text order
    (``doc`` the text's index). Each distinct chunk is split once per run."""
    chunks = cache(language)
    if isinstance(chunks, ChunkTable):
        return chunks.tokenize(texts)
    return tokenize_chunks(texts, CHUNK, chunks)


def freeze(path: str | None = None, language: str = "en") -> dict:
    """Write spaCy's tokenizer rules for ``language`` and its sentencizer's marks (from the
    installed spaCy) to ``path`` (by default the shipped rules file)."""
    import spacy
    from spacy.pipeline import Sentencizer
    from spacy.symbols import ORTH
    from spacy.tokenizer import Tokenizer

    nlp = spacy.blank(language)
    tokenizer, defaults = nlp.tokenizer, nlp.Defaults
    plain = Tokenizer(tokenizer.vocab, rules={}, prefix_search=tokenizer.prefix_search,
                      suffix_search=tokenizer.suffix_search,
                      infix_finditer=tokenizer.infix_finditer,
                      token_match=tokenizer.token_match, url_match=tokenizer.url_match)
    specials = {k: [t[ORTH] for t in v] for k, v in sorted(tokenizer.rules.items())
                if not k.isspace()}
    # spaCy re-merges the special cases that its affix rules would split (its faster
    # heuristics: those with a prefix, suffix or infix match), from their plain tokens
    matched = {k: [t.text for t in plain(k)] for k in specials
               if tokenizer.find_prefix(k) or tokenizer.find_suffix(k) or tokenizer.find_infix(k)}

    def pattern(match) -> str | None:
        if match is None:
            return None
        p = match.__self__.pattern
        return p[len("(?u)"):] if p.startswith("(?u)") else p  # Unicode is the default

    raw = {"spacy": spacy.__version__, "prefixes": list(defaults.prefixes or []),
           "suffixes": list(defaults.suffixes or []), "infixes": list(defaults.infixes or []),
           "url": pattern(tokenizer.url_match)}
    if tokenizer.token_match is not None:
        raw["token_match"] = pattern(tokenizer.token_match)
    raw |= {"specials": specials, "matched_specials": matched,
            "sentence_final": sorted(Sentencizer.default_punct_chars)}
    with open(path or rules_file(language), "w", encoding="utf-8") as f:
        json.dump(raw, f, ensure_ascii=False, indent=0)
        f.write("\n")
    return raw


if __name__ == "__main__":
    for lang in LANGUAGES:
        freeze(language=lang)
        print(f"wrote {rules_file(lang)}")
