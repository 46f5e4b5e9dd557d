"""spaCy's tokenizer loop (``Tokenizer._split_affixes`` and ``_attach_tokens``, spaCy 3.8)
compiled with numba, over the chunks of a batch at once.

The frozen rules of a language (``curation.filters.spacy_rules``) are regexes of a narrow
shape: alternatives made of literal characters and character classes, at most the last one
repeated (``\\.\\.+``), with a look-behind of fixed length and a one-character look-ahead
(positive or negative). ``compile_rules`` parses them with Python's own regex parser into
flat tables (``Program``) and a membership bit table over all code points, so the loop below
decides matches exactly as Python's ``re`` does (leftmost start, then the first alternative
in order; greedy repeats that give back characters for a look-ahead). A rule of any other
shape makes ``compile_rules`` return ``None`` and the language keeps the column-wise path of
``curation.filters.words``; so do languages with a ``token_match`` (French).

Special cases are looked up by a 64-bit FNV hash and then compared character by character.
spaCy's special-case matcher (runs of tokens that spell a special case the affix rules split,
``"):"`` split as ``")" ":"``, merged back) runs within each chunk, as in the column-wise
path, finding runs by the FNV hash of their tokens alone (a run is mistaken for one of the
few hundred re-merged special cases with probability about ``2**-55``); a chunk with more
than ``MAX_MERGES`` such runs is left to that path. A core that the infix rules would split
and that holds a dot (every URL spaCy's pattern accepts holds one) is tested with spaCy's URL
pattern by Python's ``re`` between two passes of the loop.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from re import _constants as sre
from re import _parser as sre_parse

import numba
import numpy as np
import polars as pl

from curation.core.arrow_strings import (
    FNV_OFFSET,
    fnv,
    gather_bytes,
    same_items,
    string_buffers,
    strings,
    utf8_at,
)
from curation.filters.spacy_rules import drop_negative_lookaheads, raw_rules, rust_pattern

UNICODE = 0x110000
FNV_OFFSET = FNV_OFFSET
_SEPARATOR = 0  # joins the tokens of a window when hashed (never a chunk character's code)
# atoms: (kind, value, min, max): kind 0 a literal code point, kind 1 the class with bit
# ``value``; max -1 for no bound. alternatives: (behind start, behind length, body start,
# body length, look-ahead atom or -1, look-ahead negated)
LITERAL, CLASS = 0, 1
# bits of the class table above the atoms' classes: can this character start a prefix, end a
# suffix, start an infix (the loop tries the rules only there)
PREFIX_KEY, SUFFIX_KEY, INFIX_KEY = 63, 62, 61


class Unsupported(ValueError):
    """A rule outside the shapes the compiled loop decides."""


@dataclass(frozen=True)
class Program:
    """One rule table (prefixes, suffixes or infixes) as flat arrays. Alternatives are
    tried only where their key atom (the first of the body; for suffixes the last) accepts
    the character there: those with a literal key are listed by that code point
    (``literal_char`` ascending, ``literal_alt``), the others in ``class_alt``."""

    alts: np.ndarray  # int64 (n, 6), see above
    literal_char: np.ndarray  # int64
    literal_alt: np.ndarray  # int64
    class_alt: np.ndarray  # int64

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.alts, self.literal_char, self.literal_alt, self.class_alt


@dataclass(frozen=True)
class CompiledRules:
    """Everything the loop needs for one language."""

    classes: np.ndarray  # uint64 per code point: bit i set if it is in class i
    atoms: np.ndarray  # int64 (m, 4), the atoms of all three programs
    prefix: Program
    suffix: Program
    infix: Program
    special_hash: np.ndarray  # uint64, sorted
    special_index: np.ndarray  # int64: which special case each hash is
    special_chars: np.ndarray  # int32 code points of every special case, concatenated
    special_char_offsets: np.ndarray  # int64 (n + 1)
    special_token_offsets: np.ndarray  # int64 (n + 1) into special_token_lengths
    special_token_lengths: np.ndarray  # int64: each special token's length in characters
    special_filter: np.ndarray  # uint64 (1024): ``_bit_filter`` of the specials' hashes
    window_hash: np.ndarray  # uint64, sorted: tokens of re-merged special cases, joined
    window_sizes: np.ndarray  # bool, indexed by window length in tokens
    window_filter: np.ndarray  # uint64 (1024): ``_bit_filter`` of every window's first k tokens
    has_url: bool
    language: str


class _Atoms:
    """Builds atoms and the classes they name."""

    def __init__(self) -> None:
        self.classes: dict[tuple, int] = {}
        self.rows: list[tuple[int, int, int, int]] = []

    def atom(self, op, av, lo: int = 1, hi: int = 1) -> tuple[int, int, int, int]:
        if op is sre.LITERAL:
            return (LITERAL, av, lo, hi)
        if op is sre.IN:
            key = tuple((str(o), a if o is not sre.CATEGORY else str(a)) for o, a in av)
            if key not in self.classes:
                self.classes[key] = len(self.classes)
            return (CLASS, self.classes[key], lo, hi)
        raise Unsupported(f"atom {op}")


def _alternatives(items: list, atoms: _Atoms) -> list[tuple[list, list, tuple | None]]:
    """A parsed pattern as alternatives ``(behind atoms, body atoms, ahead)``; branches and
    groups are expanded in order (what leftmost-first alternation tries first stays first)."""
    out = [([], [], None)]
    for index, (op, av) in enumerate(items):
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            direction, sub = av
            if direction == -1 and op is sre.ASSERT and index == 0:
                behind = []
                for sop, sav in sub:
                    behind.append(atoms.atom(sop, sav))
                out = [(behind + b, body, a) for b, body, a in out]
                continue
            if direction == 1 and index == len(items) - 1 and len(sub) == 1:
                ahead = (atoms.atom(*sub[0]), op is sre.ASSERT_NOT)
                out = [(b, body, ahead) for b, body, _ in out]
                continue
            raise Unsupported("look-around of another shape")
        if op is sre.SUBPATTERN:
            _, add, remove, sub = av
            if add or remove:
                raise Unsupported("inline flags")
            options = _alternatives(list(sub), atoms)
        elif op is sre.BRANCH:
            options = [opt for branch in av[1] for opt in _alternatives(list(branch), atoms)]
        elif op in (sre.MAX_REPEAT,):
            lo, hi, sub = av
            if len(sub) != 1:
                raise Unsupported("repeat of a group")
            hi = -1 if hi is sre.MAXREPEAT else hi
            if lo == hi:
                options = [([], [atoms.atom(*sub[0])] * lo, None)]
            else:
                options = [([], [atoms.atom(*sub[0], lo=lo, hi=hi)], None)]
        else:
            options = [([], [atoms.atom(op, av)], None)]
        for b, _, a in options:
            if b or a:
                raise Unsupported("look-around inside a group")
        out = [(b, body + obody, a) for b, body, a in out for _, obody, _ in options]
    for _, body, _ in out:
        if not body or any(lo != hi for _, _, lo, hi in body[:-1]) or body[-1][2] < 1:
            raise Unsupported("a repeat that is not last, or an empty match")
    return out


def parse(entry: str, atoms: _Atoms) -> list[tuple[list, list, tuple | None]]:
    """One rule (a Python regex) as alternatives; ``Unsupported`` for any other shape."""
    parsed = sre_parse.parse(entry)
    if parsed.state.flags & ~sre.SRE_FLAG_UNICODE:
        raise Unsupported("flags")
    return _alternatives(list(parsed), atoms)


def _program(entries: list[str], atoms: _Atoms, key_last: bool) -> Program:
    alts, rows, keyed = [], atoms.rows, []
    for entry in entries:
        for behind, body, ahead in parse(entry, atoms):
            b_start = len(rows)
            rows.extend(behind)
            body_start = len(rows)
            rows.extend(body)
            ahead_atom, negated = -1, 0
            if ahead is not None:
                ahead_atom, negated = len(rows), int(ahead[1])
                rows.append(ahead[0])
            keyed.append(body[-1] if key_last else body[0])
            alts.append((b_start, len(behind), body_start, len(body), ahead_atom, negated))
    literal = sorted((value, i) for i, (kind, value, _, _) in enumerate(keyed) if kind == LITERAL)
    return Program(np.array(alts, dtype=np.int64).reshape(-1, 6),
                   np.array([c for c, _ in literal], dtype=np.int64),
                   np.array([i for _, i in literal], dtype=np.int64),
                   np.array([i for i, (kind, *_) in enumerate(keyed) if kind == CLASS],
                            dtype=np.int64))


@functools.cache
def _properties() -> dict[str, np.ndarray]:
    """Python's Unicode categories of ``\\d``, ``\\w`` and ``\\s`` over all code points."""
    chars = [chr(c) for c in range(UNICODE)]
    digit = np.fromiter((c.isdecimal() for c in chars), bool, UNICODE)
    word = np.fromiter((c.isalnum() for c in chars), bool, UNICODE)
    word[ord("_")] = True
    space = np.fromiter((c.isspace() for c in chars), bool, UNICODE)
    return {"DIGIT": digit, "WORD": word, "SPACE": space}


def _class_members(key: tuple) -> np.ndarray:
    members = np.zeros(UNICODE, dtype=bool)
    negate = False
    for op, value in key:
        if op == str(sre.NEGATE):
            negate = True
        elif op == str(sre.LITERAL):
            members[value] = True
        elif op == str(sre.RANGE):
            members[value[0]: value[1] + 1] = True
        elif op == str(sre.CATEGORY):
            name = value.removeprefix("CATEGORY_").removeprefix("UNI_")
            positive = name.removeprefix("NOT_")
            if positive not in ("DIGIT", "WORD", "SPACE"):
                raise Unsupported(f"category {value}")
            prop = _properties()[positive]
            members |= ~prop if name.startswith("NOT_") else prop
        else:
            raise Unsupported(f"class item {op}")
    return ~members if negate else members


def _bit_filter(hashes: list | np.ndarray) -> np.ndarray:
    """uint64 (1024): bit ``h & 0xFFFF`` set for every hash ``h`` (read by ``_in_filter``)."""
    low_bits = (np.asarray(hashes, dtype=np.uint64) & np.uint64(0xFFFF)).astype(np.int64)
    out = np.zeros(1024, dtype=np.uint64)
    np.bitwise_or.at(out, low_bits >> 6, np.uint64(1) << (low_bits & 63).astype(np.uint64))
    return out


@numba.njit(cache=True, inline="always")
def _in_filter(bits, h):
    """Is bit ``h & 0xFFFF`` of ``_bit_filter``'s ``bits`` set (if not, ``h`` is none of its
    hashes)?"""
    low = h & np.uint64(0xFFFF)
    return (bits[low >> np.uint64(6)] >> (low & np.uint64(63))) & np.uint64(1) == np.uint64(1)


def hash_chars(chars: np.ndarray) -> np.uint64:
    """The FNV hash the loop gives a run of code points, from Python."""
    return fnv(FNV_OFFSET, np.asarray(chars, dtype=np.int32), 0, len(chars))


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.int32)


@functools.cache
def compile_rules(language: str = "en") -> CompiledRules | None:
    """``language``'s frozen spaCy rules as tables for ``split``, or ``None`` where a rule
    has a shape the loop does not decide (the language then keeps the column-wise path)."""
    raw = raw_rules(language)
    if raw.get("token_match"):
        return None
    atoms = _Atoms()
    try:
        prefix, suffix, infix = (_program([e for e in raw[k] if e.strip()], atoms, k == "suffixes")
                                 for k in ("prefixes", "suffixes", "infixes"))
        if len(atoms.classes) > INFIX_KEY:
            raise Unsupported(f"more than {INFIX_KEY} classes")
        members = {bit: _class_members(key) for key, bit in atoms.classes.items()}
        classes = np.zeros(UNICODE, dtype=np.uint64)
        for bit, where in members.items():
            classes[where] |= np.uint64(1) << np.uint64(bit)
        for program, bit in ((prefix, PREFIX_KEY), (suffix, SUFFIX_KEY), (infix, INFIX_KEY)):
            keys = np.zeros(UNICODE, dtype=bool)
            keys[program.literal_char] = True
            for i in program.class_alt:
                row = atoms.rows[program.alts[i, 2] + (program.alts[i, 3] - 1 if bit == SUFFIX_KEY
                                                       else 0)]
                keys |= members[row[1]]
            classes[keys] |= np.uint64(1) << np.uint64(bit)
    except Unsupported:
        return None
    keys = list(raw["specials"])
    chars = [_codes(k) for k in keys]
    hashes = np.array([hash_chars(c) for c in chars], dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    lengths = [[len(t) for t in raw["specials"][k]] for k in keys]
    merging = {k: v for k, v in raw["matched_specials"].items()
               if len(v) > 1 or raw["specials"][k] != v}
    window = sorted(hash_chars(_codes(chr(_SEPARATOR).join(v))) for v in merging.values())
    window_starts = [hash_chars(_codes(chr(_SEPARATOR).join(v[:k])))
                     for v in merging.values() for k in range(1, len(v) + 1)]
    sizes = np.zeros(max((len(v) for v in merging.values()), default=0) + 1, dtype=bool)
    for v in merging.values():
        sizes[len(v)] = True
    return CompiledRules(
        special_filter=_bit_filter(hashes), window_filter=_bit_filter(window_starts),
        classes=classes, atoms=np.array(atoms.rows, dtype=np.int64).reshape(-1, 4),
        prefix=prefix, suffix=suffix, infix=infix,
        special_hash=hashes[order], special_index=order.astype(np.int64),
        special_chars=np.concatenate(chars) if chars else np.zeros(0, np.int32),
        special_char_offsets=np.cumsum([0] + [len(c) for c in chars]).astype(np.int64),
        special_token_offsets=np.cumsum([0] + [len(v) for v in lengths]).astype(np.int64),
        special_token_lengths=np.array([x for v in lengths for x in v], dtype=np.int64),
        window_hash=np.array(window, dtype=np.uint64), window_sizes=sizes,
        has_url=bool(raw.get("url")), language=language)


@numba.njit(cache=True, inline="always")
def _is(atoms, a, c, classes):
    """Is code point ``c`` what atom ``a`` accepts?"""
    if atoms[a, 0] == 0:
        return c == atoms[a, 1]
    return (classes[c] >> np.uint64(atoms[a, 1])) & np.uint64(1) == np.uint64(1)


@numba.njit(cache=True, inline="always")
def _context(alts, atoms, i, chars, lo, hi, start, end, classes):
    """Do alternative ``i``'s look-behind before ``start`` and look-ahead at ``end`` hold
    (the view ``[lo, hi)`` is the whole string the regex sees)?"""
    n_behind = alts[i, 1]
    if start - n_behind < lo:
        return False
    for j in range(n_behind):
        if not _is(atoms, alts[i, 0] + j, chars[start - n_behind + j], classes):
            return False
    ahead = alts[i, 4]
    if ahead >= 0:
        found = end < hi and _is(atoms, ahead, chars[end], classes)
        if found == (alts[i, 5] == 1):
            return False
    return True


@numba.njit(cache=True, inline="always")
def _match(alts, atoms, i, chars, lo, hi, start, classes):
    """Where alternative ``i`` matching at ``start`` ends (greedy, giving back characters
    for its look-ahead), or -1."""
    pos = start
    body, n_body = alts[i, 2], alts[i, 3]
    for j in range(n_body - 1):
        if pos >= hi or not _is(atoms, body + j, chars[pos], classes):
            return -1
        pos += 1
    last = body + n_body - 1
    least, most = atoms[last, 2], atoms[last, 3]
    count = 0
    while pos + count < hi and (most < 0 or count < most) and _is(atoms, last, chars[pos + count],
                                                                 classes):
        count += 1
    for c in range(count, least - 1, -1):
        if _context(alts, atoms, i, chars, lo, hi, start, pos + c, classes):
            return pos + c
    return -1


@numba.njit(cache=True, inline="always")
def _first(program, atoms, chars, lo, hi, q, classes):
    """The end of the first alternative (in order) that matches at ``q``, or -1: spaCy's
    ``find_prefix`` at ``q == lo``, one step of ``find_infix`` elsewhere."""
    alts, literal_char, literal_alt, class_alt = program
    c = chars[q]
    first = np.searchsorted(literal_char, c)
    last = np.searchsorted(literal_char, c, side="right")
    best, best_end = alts.shape[0], -1
    if first < last:  # (returning early where no alternative applies is much faster)
        for k in range(first, last):
            end = _match(alts, atoms, literal_alt[k], chars, lo, hi, q, classes)
            if end >= 0:
                best, best_end = literal_alt[k], end
                break
    for j in range(len(class_alt)):
        i = class_alt[j]
        if i >= best:
            break
        if _is(atoms, alts[i, 2], c, classes):
            end = _match(alts, atoms, i, chars, lo, hi, q, classes)
            if end >= 0:
                return end
    return best_end


@numba.njit(cache=True, inline="always")
def _suffix_start(alts, atoms, i, chars, lo, hi, before, classes):
    """The leftmost start before ``before`` at which alternative ``i`` matches up to
    ``hi``, or ``before``."""
    body, n_body = alts[i, 2], alts[i, 3]
    last = body + n_body - 1
    least, most = atoms[last, 2], atoms[last, 3]
    fixed = n_body - 1
    tail = 0
    while hi - tail - 1 >= lo and (most < 0 or tail < most) and _is(
            atoms, last, chars[hi - tail - 1], classes):
        tail += 1
    for count in range(tail, least - 1, -1):
        start = hi - count - fixed
        if start < lo:
            continue
        if start >= before:
            break  # fewer repeats only start later
        ok = True
        for j in range(fixed):
            if not _is(atoms, body + j, chars[start + j], classes):
                ok = False
                break
        if ok and _context(alts, atoms, i, chars, lo, hi, start, hi, classes):
            return start
    return before


@numba.njit(cache=True, inline="always")
def _suffix(program, atoms, chars, lo, hi, classes):
    """spaCy's ``find_suffix``: the length of the match ending at ``hi`` that starts
    leftmost (the first alternative on a tie), 0 for none."""
    alts, literal_char, literal_alt, class_alt = program
    c = chars[hi - 1]
    first = np.searchsorted(literal_char, c)
    last = np.searchsorted(literal_char, c, side="right")
    best, best_alt = hi, alts.shape[0]
    if first < last:
        for k in range(first, last):
            i = literal_alt[k]
            start = _suffix_start(alts, atoms, i, chars, lo, hi, best + (i < best_alt), classes)
            if start < best or (start == best and i < best_alt):
                best, best_alt = start, i
    for j in range(len(class_alt)):
        i = class_alt[j]
        if _is(atoms, alts[i, 2] + alts[i, 3] - 1, c, classes):
            start = _suffix_start(alts, atoms, i, chars, lo, hi, best + (i < best_alt), classes)
            if start < best or (start == best and i < best_alt):
                best, best_alt = start, i
    return hi - best


@numba.njit(cache=True, inline="always")
def _special(chars, lo, hi, specials):
    """The index of the special case spelled by ``chars[lo:hi]``, or -1."""
    s_hash, s_index, s_chars, s_offsets, _, _, s_filter, s_longest = specials
    if hi - lo > s_longest:
        return -1
    h = fnv(FNV_OFFSET, chars, lo, hi)
    if not _in_filter(s_filter, h):
        return -1
    k = np.searchsorted(s_hash, h)
    while k < len(s_hash) and s_hash[k] == h:
        s = s_index[k]
        a, b = s_offsets[s], s_offsets[s + 1]
        if b - a == hi - lo and same_items(s_chars, a, chars, lo, hi - lo):
            return s
        k += 1
    return -1


MAX_MERGES = 64  # special-case matches looked at per chunk; a chunk with more goes column-wise


@numba.njit(cache=True, inline="always")
def _find_merges(chars, tok_lo, tok_hi, n_tok, w_hash, w_sizes, w_filter, m_start, m_len):
    """Runs of consecutive tokens that spell a re-merged special case's tokens: their first
    token and length into ``m_*``. Returns how many, or -1 past ``MAX_MERGES``. A run
    stops growing where its tokens begin no special case's (``w_filter``)."""
    n = 0
    for i in range(n_tok):
        h = FNV_OFFSET
        for j in range(min(n_tok - i, len(w_sizes) - 1)):
            if j > 0:
                h = (h ^ np.uint64(_SEPARATOR)) * np.uint64(0x100000001B3)  # FNV step
            h = fnv(h, chars, tok_lo[i + j], tok_hi[i + j])
            if not _in_filter(w_filter, h):
                break
            if w_sizes[j + 1]:
                k = np.searchsorted(w_hash, h)
                if k < len(w_hash) and w_hash[k] == h:
                    if n == len(m_start):
                        return -1
                    m_start[n], m_len[n] = i, j + 1
                    n += 1
    return n


@numba.njit(cache=True, inline="always")
def _keep_merges(n, m_start, m_len, seen, keep, done):
    """spaCy's ``_filter_special_spans``: longest first, then leftmost; a run is kept unless
    its first or last token is in a run looked at before (kept or not). ``done``: scratch
    of at least ``n``."""
    done[:n] = False
    for _ in range(n):
        b = -1
        for j in range(n):
            if not done[j] and (b < 0 or m_len[j] > m_len[b]
                                or (m_len[j] == m_len[b] and m_start[j] < m_start[b])):
                b = j
        done[b] = True
        first, last = m_start[b], m_start[b] + m_len[b] - 1
        keep[b] = not seen[first] and not seen[last]
        for t in range(first, last + 1):
            seen[t] = True


@numba.njit(cache=True)
def _split(data, chunk_lo, chunk_hi, url_answer, classes, atoms, prefix, suffix, infix,
           specials, windows, has_url):
    """spaCy's tokens of each chunk ``data[chunk_lo[c]:chunk_hi[c]]`` (UTF-8).

    ``url_answer[c]``: does the chunk's core match spaCy's URL pattern (1, 0), or unknown
    (-1). Returns the tokens as (chunk, byte start, byte end), in order, and per chunk
    whether it needs the URL answer (then the byte range of its core) or goes column-wise
    (more than ``MAX_MERGES`` special-case runs); such chunks give no tokens."""
    n = len(chunk_lo)
    longest = 0
    total = 0
    for c in range(n):
        longest = max(longest, chunk_hi[c] - chunk_lo[c])
        total += chunk_hi[c] - chunk_lo[c]
    size = longest + 1  # per chunk: chars, byte_at, tok_lo, tok_hi, suf_lo, suf_hi, seen
    scratch = (np.empty(size, dtype=np.int32), np.empty(size + 1, dtype=np.int64),
               np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
               np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
               np.zeros(size, dtype=np.bool_),
               # per special-case run: m_start, m_len, keep, done
               np.empty(MAX_MERGES, dtype=np.int64), np.empty(MAX_MERGES, dtype=np.int64),
               np.zeros(MAX_MERGES, dtype=np.bool_),
               np.zeros(MAX_MERGES, dtype=np.bool_))
    out = (np.empty(total, dtype=np.int64),  # at most a token per byte: chunk, bytes into data
           np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64),
           np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
           np.zeros(n, dtype=np.bool_))
    n_out = _split_into(data, chunk_lo, chunk_hi, url_answer, classes, atoms, prefix, suffix,
                        infix, specials, windows, has_url, scratch, out)
    return out[0][:n_out], out[1][:n_out], out[2][:n_out], out[3], out[4], out[5], out[6]


@numba.njit(cache=True, _nrt=False)
def _split_into(data, chunk_lo, chunk_hi, url_answer, classes, atoms, prefix, suffix, infix,
                specials, windows, has_url, scratch, out):
    """The loop of ``_split``: writes the tokens (chunk, byte start, byte end) and the
    per-chunk answers (need_url, core_lo, core_hi, columnwise) into ``out``, using
    ``scratch`` (sized for the longest chunk); returns the number of tokens. Compiled without
    numba's reference counting (``_nrt=False``; it allocates nothing and its arrays are
    borrowed from ``_split``): with it, the helpers inlined in the per-chunk loop counted
    references to their array arguments on every call, most of the loop's time."""
    s_tok_offsets, s_tok_lengths = specials[4], specials[5]
    w_hash, w_sizes, w_filter = windows
    chars, byte_at, tok_lo, tok_hi, suf_lo, suf_hi, seen = scratch[:7]
    m_start, m_len, keep, done = scratch[7:]
    out_chunk, out_lo, out_hi, need_url, core_lo, core_hi, columnwise = out
    n = len(chunk_lo)
    n_out = 0
    for c in range(n):
        m = 0  # decode the chunk
        p = chunk_lo[c]
        end = chunk_hi[c]
        while p < end:
            byte_at[m] = p
            cp, size = utf8_at(data, p)
            chars[m] = cp
            m += 1
            p += size
        byte_at[m] = end
        # _split_affixes
        lo, hi = 0, m
        n_tok, n_suf = 0, 0
        last_size = -1
        while hi > lo and hi - lo != last_size:
            if _special(chars, lo, hi, specials) >= 0:
                break
            last_size = hi - lo
            pre = 0
            if (classes[chars[lo]] >> np.uint64(63)) & np.uint64(1):
                pre = max(_first(prefix, atoms, chars, lo, hi, lo, classes) - lo, 0)
            if pre and hi - lo - pre > 0 and _special(chars, lo + pre, hi, specials) >= 0:
                tok_lo[n_tok], tok_hi[n_tok] = lo, lo + pre
                n_tok += 1
                lo += pre
                break
            suf = 0
            if lo + pre < hi and (classes[chars[hi - 1]] >> np.uint64(62)) & np.uint64(1):
                suf = _suffix(suffix, atoms, chars, lo + pre, hi, classes)
            if suf and hi - suf - lo > 0 and _special(chars, lo, hi - suf, specials) >= 0:
                suf_lo[n_suf], suf_hi[n_suf] = hi - suf, hi
                n_suf += 1
                hi -= suf
                break
            if pre and suf and pre + suf <= hi - lo:
                tok_lo[n_tok], tok_hi[n_tok] = lo, lo + pre
                suf_lo[n_suf], suf_hi[n_suf] = hi - suf, hi
                n_tok += 1
                n_suf += 1
                lo += pre
                hi -= suf
            elif pre:
                tok_lo[n_tok], tok_hi[n_tok] = lo, lo + pre
                n_tok += 1
                lo += pre
            elif suf:
                suf_lo[n_suf], suf_hi[n_suf] = hi - suf, hi
                n_suf += 1
                hi -= suf
        # _attach_tokens
        if hi > lo:
            s = _special(chars, lo, hi, specials)
            if s >= 0:
                at = lo
                for k in range(s_tok_offsets[s], s_tok_offsets[s + 1]):
                    tok_lo[n_tok], tok_hi[n_tok] = at, at + s_tok_lengths[k]
                    at += s_tok_lengths[k]
                    n_tok += 1
            else:
                before = n_tok
                start = lo
                q = lo
                while q < hi:
                    if not (classes[chars[q]] >> np.uint64(61)) & np.uint64(1):
                        q += 1
                        continue
                    e = _first(infix, atoms, chars, lo, hi, q, classes)
                    if e < 0:
                        q += 1
                        continue
                    if q != lo:
                        if q != start:
                            tok_lo[n_tok], tok_hi[n_tok] = start, q
                            n_tok += 1
                        tok_lo[n_tok], tok_hi[n_tok] = q, e
                        n_tok += 1
                        start = e
                    q = e
                if start < hi:
                    tok_lo[n_tok], tok_hi[n_tok] = start, hi
                    n_tok += 1
                if has_url and start > lo:  # split by infixes: unless a URL (which has a dot)
                    dot = False
                    for j in range(lo, hi):
                        if chars[j] == 46:
                            dot = True
                            break
                    if dot and url_answer[c] < 0:
                        need_url[c] = True
                        core_lo[c], core_hi[c] = byte_at[lo], byte_at[hi]
                        continue
                    if dot and url_answer[c] == 1:
                        n_tok = before
                        tok_lo[n_tok], tok_hi[n_tok] = lo, hi
                        n_tok += 1
        for k in range(n_suf - 1, -1, -1):
            tok_lo[n_tok], tok_hi[n_tok] = suf_lo[k], suf_hi[k]
            n_tok += 1
        # spaCy's special-case matcher, within the chunk
        n_m = 0
        if n_tok > 1 and len(w_hash):
            n_m = _find_merges(chars, tok_lo, tok_hi, n_tok, w_hash, w_sizes, w_filter,
                               m_start, m_len)
        if n_m < 0:
            columnwise[c] = True
            continue
        if n_m > 0:
            seen[:n_tok] = False
            _keep_merges(n_m, m_start, m_len, seen, keep, done)
        t = 0
        while t < n_tok:
            s, run = -1, 1  # the kept run starting here: spaCy's special case for its text
            for j in range(n_m):
                if keep[j] and m_start[j] == t:
                    run = m_len[j]
                    s = _special(chars, tok_lo[t], tok_hi[t + run - 1], specials)
            if s < 0:  # no run, or a run whose text is no special case: the tokens stay
                out_chunk[n_out] = c
                out_lo[n_out], out_hi[n_out] = byte_at[tok_lo[t]], byte_at[tok_hi[t]]
                n_out += 1
                t += 1
                continue
            at = tok_lo[t]
            for k in range(s_tok_offsets[s], s_tok_offsets[s + 1]):
                out_chunk[n_out] = c
                out_lo[n_out], out_hi[n_out] = byte_at[at], byte_at[at + s_tok_lengths[k]]
                at += s_tok_lengths[k]
                n_out += 1
            t += run
    return n_out


@numba.njit(cache=True)
def _matches(chars, classes, atoms, prefix, suffix, infix):
    """The three searches on one whole string (see ``matches``)."""
    n = len(chars)
    pre = max(_first(prefix, atoms, chars, 0, n, 0, classes), 0) if n else 0
    suf = _suffix(suffix, atoms, chars, 0, n, classes) if n else 0
    found = np.empty((n, 2), dtype=np.int64)
    k, q = 0, 0
    while q < n:
        e = _first(infix, atoms, chars, 0, n, q, classes)
        if e < 0:
            q += 1
        else:
            found[k, 0], found[k, 1] = q, e
            k += 1
            q = e
    return pre, suf, found[:k]


def matches(text: str, rules: CompiledRules) -> tuple[int, int, list[tuple[int, int]]]:
    """What the loop's matchers find in ``text`` as a whole: the prefix length, the suffix
    length (in characters, 0 for none) and the infix spans, as spaCy's ``find_prefix``,
    ``find_suffix`` and ``find_infix`` (for tests and debugging)."""
    r = rules
    pre, suf, found = _matches(_codes(text), r.classes, r.atoms, r.prefix.arrays(),
                               r.suffix.arrays(), r.infix.arrays())
    return int(pre), int(suf), [(int(a), int(b)) for a, b in found]


def _tokens(data: np.ndarray, lo: np.ndarray, hi: np.ndarray, url_answer: np.ndarray,
            rules: CompiledRules) -> tuple:
    r = rules
    return _split(data, lo, hi, url_answer, r.classes, r.atoms, r.prefix.arrays(),
                  r.suffix.arrays(), r.infix.arrays(),
                  (r.special_hash, r.special_index, r.special_chars, r.special_char_offsets,
                   r.special_token_offsets, r.special_token_lengths, r.special_filter,
                   len(r.special_chars) and int(np.diff(r.special_char_offsets).max())),
                  (r.window_hash, r.window_sizes, r.window_filter),
                  r.has_url)


@numba.njit(cache=True)
def _merge(a_chunk, a_lo, a_hi, b_chunk, b_lo, b_hi):
    """Two token lists, each in chunk order and of distinct chunks, as one in chunk order."""
    n = len(a_chunk) + len(b_chunk)
    chunk = np.empty(n, dtype=np.int64)
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    i = j = 0
    for k in range(n):
        if j == len(b_chunk) or (i < len(a_chunk) and a_chunk[i] < b_chunk[j]):
            chunk[k], lo[k], hi[k] = a_chunk[i], a_lo[i], a_hi[i]
            i += 1
        else:
            chunk[k], lo[k], hi[k] = b_chunk[j], b_lo[j], b_hi[j]
            j += 1
    return chunk, lo, hi


def split_ranges(data: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 rules: CompiledRules) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """spaCy's tokens of every chunk ``data[lo[c]:hi[c]]``: (chunk, token start, token end),
    byte ranges of ``data`` in chunk order, for the chunks decided here, and a boolean mask
    of the chunks left to the column-wise path. Cores that need spaCy's URL pattern are
    tested with it (Python's ``re``, spaCy's own pattern) and their chunks split again with
    the answer."""
    chunk, tok_lo, tok_hi, need_url, core_lo, core_hi, columnwise = _tokens(
        data, lo, hi, np.full(len(lo), -1, dtype=np.int8), rules)
    if need_url.any():
        which = np.flatnonzero(need_url)
        answer = url_answers(strings(*gather_bytes(data, core_lo[which], core_hi[which])),
                             rules.language)
        again, again_lo, again_hi, _, _, _, still = _tokens(data, lo[which], hi[which], answer,
                                                            rules)
        columnwise[which] = still
        chunk, tok_lo, tok_hi = _merge(chunk, tok_lo, tok_hi, which[again], again_lo, again_hi)
    return chunk, tok_lo, tok_hi, columnwise


def split(chunks: pl.Series, rules: CompiledRules) -> tuple[pl.DataFrame, np.ndarray]:
    """``split_ranges`` of a string series: rows ``id, token`` in order, and the mask of the
    chunks left to the column-wise path."""
    data, offsets = string_buffers(chunks)
    chunk, lo, hi, columnwise = split_ranges(data, offsets[:-1], offsets[1:], rules)
    return (pl.DataFrame({"id": chunk.astype(np.uint32),
                          "token": strings(*gather_bytes(data, lo, hi))}), columnwise)


@functools.cache
def _url_patterns(language: str) -> tuple[str, re.Pattern]:
    """spaCy's URL pattern of ``language``: a wider Rust regex (no look-aheads, Python's
    ``\\w`` numerics added to Rust's) and the pattern itself, compiled by Python's ``re``."""
    url = raw_rules(language)["url"]
    return (rust_pattern(drop_negative_lookaheads(url)).replace(r"\w", r"[\w\p{N}]"),
            re.compile(url))


def url_answers(cores: pl.Series, language: str) -> np.ndarray:
    """Does spaCy's URL pattern of ``language`` match each core (int8 1 or 0)? Python's
    ``re`` decides, as spaCy runs it, but only for the cores that the wider Rust regex
    matches too."""
    wider, pattern = _url_patterns(language)
    answer = cores.str.contains(wider).to_numpy().astype(np.int8)
    for i in np.flatnonzero(answer):
        answer[i] = pattern.match(cores[int(i)]) is not None
    return answer
