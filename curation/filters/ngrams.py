"""Word n-gram repetition (Gopher's top and duplicated n-gram rules, as datatrove 0.10.1
computes them) in one numba kernel over a batch.

``repeated_chars`` takes the words of many documents as one string column (its bytes and
offsets, ``curation.core.arrow_strings.string_buffers``) and loops per document; see its
docstring for the semantics and limits. It is compiled once per machine (numba's cache,
next to this file or in numba's cache directory); the first call of a fresh process loads it
(well under a second), the very first compiles it (several seconds).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_P = np.uint64(2**61 - 1)  # Mersenne prime modulus of the polynomial hashes
_B = np.uint64(0x1F3D5B79A2C4E687 % (2**61 - 1))  # fixed odd base, < _P
_B_INV = np.uint64(pow(int(_B), 2**61 - 3, 2**61 - 1))  # B**-1 mod p
_GOLD = np.uint64(0x9E3779B97F4A7C15)  # mixes a hash into a hash-table slot
_M29 = np.uint64(2**29 - 1)
_M32 = np.uint64(2**32 - 1)
_U1 = np.uint64(1)
_U3 = np.uint64(3)
_U29 = np.uint64(29)
_U32 = np.uint64(32)
_U61 = np.uint64(61)
_SPACE = np.uint64(ord(" ") + 1)  # a byte's digit is its value + 1 (no zero digits)
_POW_TABLE = 4096  # B**k tabled for k < this; longer words and windows exponentiate


@numba.njit(cache=True, inline="always")
def _reduce(x):
    """``x mod 2**61 - 1`` for any uint64 ``x``."""
    x = (x >> _U61) + (x & _P)
    return x - _P if x >= _P else x


@intrinsic
def _mul128(typingctx, a, b):
    """The high and low 64 bits of the 128-bit product of two uint64."""
    if a != types.uint64 or b != types.uint64:
        return None
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)
        x = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        hi = builder.trunc(builder.lshr(x, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, (hi, builder.trunc(x, i64)))

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _mulmod(a, b):
    """``a * b mod 2**61 - 1`` for uint64 ``a, b < 2**61``."""
    hi, lo = _mul128(a, b)  # a * b = hi * 2**64 + lo, hi < 2**58
    return _reduce((lo & _P) + ((lo >> _U61) | (hi << _U3)))


@numba.njit(cache=True)
def _pow(k):
    """``B**k mod p`` by squaring."""
    result = _U1
    base = _B
    while k > 0:
        if k & 1:
            result = _mulmod(result, base)
        base = _mulmod(base, base)
        k >>= 1
    return result


@numba.njit(cache=True, inline="always")
def _fails(count, length, frac):
    """``ratio(count, length) > frac`` (``curation.filters.text.ratio``)."""
    ratio = (np.inf if count > 0 else 0.0) if length == 0 else count / length
    return ratio > frac


@numba.njit(cache=True, inline="always")
def _table(entries):
    """The mask and the hash shift of a hash table of at least ``2 * entries`` slots (8 or
    more, a power of two)."""
    bits = 3
    while (1 << bits) < 2 * entries:
        bits += 1
    return (1 << bits) - 1, np.uint64(64 - bits)


@numba.njit(cache=True, inline="always")
def _probe(keys, key, mask, shift):
    """The slot of ``key`` in the table ``keys``, or the free slot where it goes."""
    slot = np.int64((key * _GOLD) >> shift)
    while keys[slot] != key and keys[slot] != 0:
        slot = (slot + 1) & mask
    return slot


@numba.njit(cache=True, inline="always")
def _count(keys, counts, key, mask, shift):
    """One more occurrence of ``key`` in the table ``keys``: its slot, whether it was new
    there, and its count now (kept in ``counts``)."""
    slot = _probe(keys, key, mask, shift)
    new = keys[slot] == 0
    keys[slot] = key
    counts[slot] = 1 if new else counts[slot] + 1
    return slot, new, counts[slot]


@numba.njit(cache=True)
def repeated_chars(data, word_lo, word_hi, doc_off, text_len, rule_n, rule_top, rule_frac, exact):
    """Repeated characters per document and rule, as datatrove 0.10.1's
    ``GopherRepetitionFilter`` counts them on a document's words.

    Input: ``data`` (uint8), ``word_lo`` and ``word_hi`` (int64) hold the words in UTF-8
    (word ``k`` is ``data[word_lo[k]:word_hi[k]]``, as ``BatchWords`` gives them); the words of
    document ``d`` are ``doc_off[d]`` to ``doc_off[d + 1]`` (int64, ``n_docs + 1``);
    ``text_len`` (int64) is each document's text length in characters. Rule ``r`` is
    ``(rule_n[r] >= 1, rule_top[r], rule_frac[r])`` (int64, bool, float64 arrays), evaluated
    in order per document.

    Output: int64 ``(n_docs, n_rules)``: the characters (Unicode code points: the UTF-8 bytes
    that are not continuation bytes) of

    - a top rule: the most frequent n-gram ``" ".join(words[i:i + n])`` (``Counter
      .most_common``: the earliest first occurrence on ties), joining spaces included,
      times its count (``find_top_duplicate(get_n_grams(words, n))``);
    - a duplicated rule: the n-grams ``"".join(words[i:i + n])`` (no separator: ("ab", "c")
      equals ("a", "bc")) that the greedy scan ``find_all_duplicate(words, n)`` finds seen
      before (an n-gram seen counts its characters and the scan jumps ``n`` words, else it
      is added to the seen set and the scan moves on one word);

    -1 where the rule is not evaluated: a top rule on fewer than ``n`` words (datatrove skips
    it), or any rule after one that the document fails; -2 (only where ``exact`` is false)
    for a top rule that the document cannot fail, not counted: if no word holds a space,
    the top n-gram's characters times its count are at most ``n * M + (n - 1) * C``, ``M``
    the most characters of one word times its count, ``C`` the highest count of a word.
    A document fails a rule when ``count / text_len > frac``, with ``x / 0`` +inf for ``x >
    0`` and 0 for ``x == 0`` (``curation.filters.text.ratio``); ``frac = inf`` evaluates
    every rule.

    N-grams are compared by polynomial hashes ``H`` of their UTF-8 bytes (a byte's digit is
    its value + 1) modulo the Mersenne prime ``p = 2**61 - 1`` in a fixed base ``B``, built
    from the words' hashes and byte lengths: ``H(a + b) = H(a) * B**len(b) + H(b)``, an
    n-gram extended by a word (or by a space and a word) at a time, or the difference of two
    prefix hashes. Two different strings of at most ``L`` bytes share a hash for at most
    ``L`` of the ``p`` bases, so for a base drawn at random a document of ``w`` windows
    merges two different n-grams with probability at most ``w**2 * L / 2**62`` (2e-11 for
    1,500 windows of at most 50 bytes). Within a document and rule the windows' hashes go
    into an open-addressing hash table (numpy arrays, linear probing, at most half full, no
    typed dict): for a top rule it counts each n-gram and keeps its first window, for a
    duplicated rule it is the greedy scan's seen set. A top rule after a smaller one
    extends only the n-grams that repeat (a repeated n-gram has a repeated prefix), unless
    a word of the document holds a space.
    """
    n_docs = len(doc_off) - 1
    n_rules = len(rule_n)
    out = np.full((n_docs, n_rules), -1, dtype=np.int64)
    if n_docs == 0 or n_rules == 0:
        return out
    pow_table = np.empty(_POW_TABLE, dtype=np.uint64)  # B**k
    inv_table = np.empty(_POW_TABLE, dtype=np.uint64)  # B**-k
    pow_table[0] = inv_table[0] = _U1
    for k in range(1, _POW_TABLE):
        pow_table[k] = _mulmod(pow_table[k - 1], _B)
        inv_table[k] = _mulmod(inv_table[k - 1], _B_INV)
    inv_hi = inv_table >> _U32  # < 2**29
    inv_lo = inv_table & _M32
    any_top = False
    for r in range(n_rules):
        any_top |= rule_top[r]
    max_words = 0
    for d in range(n_docs):
        max_words = max(max_words, doc_off[d + 1] - doc_off[d])
    # per document, by word: hash, B**bytes, hash and B**bytes with a space before it;
    # prefix hashes, bytes and characters of the words
    word_h = np.empty(max_words + 1, dtype=np.uint64)
    word_pw = np.empty(max_words + 1, dtype=np.uint64)
    word_hs = np.empty(max_words + 1, dtype=np.uint64)
    word_pws = np.empty(max_words + 1, dtype=np.uint64)
    pre_h = np.empty(max_words + 1, dtype=np.uint64)
    pre_len = np.empty(max_words + 1, dtype=np.int64)
    pre_ch = np.empty(max_words + 1, dtype=np.int64)
    pre_sp = np.empty(max_words + 1, dtype=np.uint64)  # of " w0 w1 ...", when needed
    # hashes of the current n-grams: spaced (top rules) and plain (duplicated rules)
    sp_key = np.empty(max_words + 1, dtype=np.uint64)
    pl_key = np.empty(max_words + 1, dtype=np.uint64)
    cands = np.empty(max_words + 1, dtype=np.int64)  # first words of the spaced n-grams
    size = 8
    while size < 2 * max_words:
        size *= 2
    keys = np.zeros(size, dtype=np.uint64)  # hash + 1; 0: free
    slot_count = np.empty(size, dtype=np.int64)  # set when a key comes in
    slot_aux = np.empty(size, dtype=np.int64)
    entry_slot = np.empty(max_words + 1, dtype=np.int64)
    for d in range(n_docs):
        a = doc_off[d]
        m = doc_off[d + 1] - a
        length = text_len[d]
        spaced = False  # a word holds a space
        pre_h[0] = pre_len[0] = pre_ch[0] = 0
        run_h = np.uint64(0)  # the prefixes so far, kept out of memory
        run_len = run_chars = 0
        for k in range(m):
            start = word_lo[a + k]
            size_k = word_hi[a + k] - start
            word = data[start:start + size_k]
            chars = 0
            if 0 < size_k < _POW_TABLE - 1:
                # B**(size - 1) * sum(digit_j * B**-j): products of small digits, no chain
                hi = np.uint64(0)
                lo = np.uint64(0)
                for j in range(len(word)):
                    byte = word[j]
                    digit = np.uint64(byte) + _U1
                    hi += digit * inv_hi[j]
                    lo += digit * inv_lo[j]
                    chars += (byte & 0xC0) != 0x80
                    spaced |= byte == 32
                # hi * 2**32 = (hi >> 29) * 2**61 + (hi & M29) * 2**32 = (hi >> 29) + ...
                h = _mulmod(_reduce((hi >> _U29) + ((hi & _M29) << _U32) + lo),
                            pow_table[size_k - 1])
                pw, pws = pow_table[size_k], pow_table[size_k + 1]
            else:
                h = np.uint64(0)
                for j in range(len(word)):
                    byte = word[j]
                    h = _reduce(_mulmod(h, _B) + np.uint64(byte) + _U1)
                    chars += (byte & 0xC0) != 0x80
                    spaced |= byte == 32
                pw = _pow(size_k)
                pws = _mulmod(pw, _B)
            word_h[k] = h
            word_pw[k] = pw
            word_hs[k] = _reduce(_mulmod(_SPACE, pw) + h)
            word_pws[k] = pws
            run_h = _reduce(_mulmod(run_h, pw) + h)
            run_len += size_k
            run_chars += chars
            pre_h[k + 1] = run_h
            pre_len[k + 1] = run_len
            pre_ch[k + 1] = run_chars
        most_chars = -1  # M and C of the top rules' bound, -1: no bound
        most_count = -1
        if any_top and not exact and not spaced and m > 0:
            mask, shift = _table(m)
            keys[:mask + 1] = 0
            most_chars, most_count = 0, 0
            for k in range(m):
                slot, new, c = _count(keys, slot_count, word_h[k] + _U1, mask, shift)
                chars = (0 if new else slot_aux[slot]) + pre_ch[k + 1] - pre_ch[k]
                slot_aux[slot] = chars  # characters of the slot's words
                most_count = max(most_count, c)
                most_chars = max(most_chars, chars)
        have_sp = False  # pre_sp holds this document's spaced prefix hashes
        sp_n = 0  # words of the spaced n-grams in sp_key, 0: none
        n_sp = 0  # how many; their first words are cands[:n_sp] if pruned, else 0, 1, ...
        pruned = False
        pl_n = 0  # words of the plain n-grams in pl_key (first words 0, 1, ...), 0: none
        for r in range(n_rules):
            n = rule_n[r]
            top = rule_top[r]
            frac = rule_frac[r]
            windows = m - n + 1
            total = 0
            if windows <= 0:
                total = -1 if top else 0
            elif top and most_chars >= 0 and not _fails(
                    n * most_chars + (n - 1) * most_count, length, frac):
                total = -2
            elif top:
                if (sp_n == 0 or sp_n > n) and n <= 2:  # (re)start from the single words
                    sp_key[:m] = word_h[:m]
                    sp_n, n_sp, pruned = 1, m, False
                elif sp_n == 0 or sp_n > n:  # from prefix hashes of " w0 w1 ...", once
                    if not have_sp:
                        run_h = np.uint64(0)
                        for k in range(m):
                            run_h = _reduce(_mulmod(run_h, word_pws[k]) + word_hs[k])
                            pre_sp[k + 1] = run_h
                        pre_sp[0], have_sp = 0, True
                    for i in range(windows):  # hashes of " " + the n-gram
                        b = pre_len[i + n] - pre_len[i] + n
                        pw = pow_table[b] if b < _POW_TABLE else _pow(b)
                        sp_key[i] = _reduce(pre_sp[i + n] + _P - _mulmod(pre_sp[i], pw))
                    sp_n, n_sp, pruned = n, windows, False
                while sp_n < n:  # one word (and a space) more
                    kept = 0
                    for t in range(n_sp):
                        i = cands[t] if pruned else t
                        if i + sp_n < m:
                            sp_key[kept] = _reduce(_mulmod(sp_key[t], word_pws[i + sp_n])
                                                   + word_hs[i + sp_n])
                            cands[kept] = i
                            kept += 1
                    sp_n, n_sp = sp_n + 1, kept
                mask, shift = _table(n_sp)
                keys[:mask + 1] = 0
                count, f = 1, 0  # no repeated n-gram: the first window, once
                for t in range(n_sp):
                    slot, new, c = _count(keys, slot_count, sp_key[t] + _U1, mask, shift)
                    first = (cands[t] if pruned else t) if new else slot_aux[slot]
                    slot_aux[slot] = first  # the n-gram's first window
                    entry_slot[t] = slot
                    if c > count or (c == count and first < f):
                        count, f = c, first
                total = count * (pre_ch[f + n] - pre_ch[f] + n - 1)
                if not spaced:  # keep the repeated n-grams only
                    kept = 0
                    for t in range(n_sp):
                        if slot_count[entry_slot[t]] > 1:
                            cands[kept] = cands[t] if pruned else t  # kept <= t
                            sp_key[kept] = sp_key[t]
                            kept += 1
                    n_sp, pruned = kept, True
            else:
                if pl_n == 0 or pl_n > n:  # from the prefix hashes
                    for i in range(windows):
                        b = pre_len[i + n] - pre_len[i]
                        pw = pow_table[b] if b < _POW_TABLE else _pow(b)
                        pl_key[i] = _reduce(pre_h[i + n] + _P - _mulmod(pre_h[i], pw))
                    pl_n = n
                while pl_n < n:  # one word more
                    for i in range(m - pl_n):
                        pl_key[i] = _reduce(_mulmod(pl_key[i], word_pw[i + pl_n])
                                            + word_h[i + pl_n])
                    pl_n += 1
                mask, shift = _table(windows)
                keys[:mask + 1] = 0
                i = 0
                while i < windows:
                    key = pl_key[i] + _U1
                    slot = _probe(keys, key, mask, shift)
                    if keys[slot] == 0:
                        keys[slot] = key
                        i += 1
                    else:
                        total += pre_ch[i + n] - pre_ch[i]
                        i += n
            out[d, r] = total
            if total >= 0 and _fails(total, length, frac):
                break
    return out
