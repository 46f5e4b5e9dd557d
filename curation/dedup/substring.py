"""Repeated-substring removal with a suffix array (Lee et al. 2022, Dolma 3), as a global stage.

scan:   route (shard, row, id, text) of every document to the partition ``xxh3_64(id) mod
        partitions`` (independent of the shard order and of the number of workers).
reduce: per partition, documents in ``id`` order (the *partition order*) are cut into
        contiguous blocks of about ``partition_bytes`` (a document starts block
        ``bytes before it // partition_bytes``, so a block exceeds the budget by at most one
        document). Each block is the documents' UTF-8 bytes, each followed by the byte 0xFF
        (never part of UTF-8, so no match runs across two documents); its suffix array
        (``pydivsufsort.divsufsort``) and LCP array (``pydivsufsort.kasai``) give every byte
        string of ``min_bytes`` or more that occurs at least twice. Every occurrence but the
        first in block order is removed: byte ``p`` goes when some window ``[s, s + min_bytes)``
        holding it occurred earlier (overlaps, repeats inside one document and at its edges
        included). Removed runs of one document are then merged across gaps as long as the
        merged span stays covered by removed runs to at least ``fuzziness`` (a fuzzy span
        merge in the manner of Dolma 3; ``fuzziness=1`` merges only touching runs), and each
        span is shrunk to UTF-8 character boundaries (a partly repeated character is kept
        whole). Yields per shard the spans ``(row, start, end)``, byte offsets into the text,
        end exclusive.
        A bridged gap can hold the first occurrence of a repeat whose later copies are
        removed, and then that text leaves the corpus altogether. With ``protect_first``, a
        gap holding any byte of the first occurrence of a repeated ``min_bytes`` window is
        never bridged (the runs on either side merge separately), so the merge removes no
        first-occurrence byte that the exact search (``fuzziness=1``) keeps, and still removes
        every byte that the exact search removes. Measured with ``min_bytes=500``,
        ``fuzziness=0.9``, one block: on the bench's real text (18,533 docs, 57 MB) the
        default removes 18,522 of the 4.12 M first-occurrence bytes that the exact search
        keeps (0.45%), in 250 of their 5,017 runs (5.0%: licence lines such as ``Copyright
        20``, docstring paragraphs between repeated ones); on 2,000 random-word documents of
        1-8 segments, each a passage of 500-2,500 bytes from a pool of 200 (Zipf 1.1) with
        probability p, the first occurrence of 0 of 194 repeated passages loses a byte at
        p=0.5, 1 of 198 (0.20% of their bytes) at p=0.7 and 7 of 199 (1.5%) at p=0.9; on
        the bench's synthetic corpus, none. ``protect_first``: 0 in every case, at no
        measurable cost (real text: 9.1 s vs 8.9 s), the merge then removing 41,874 bytes
        beyond the exact search instead of 67,737.
apply:  cut the spans out of the texts; the column ``substring_removed_bytes`` (int64) counts
        the bytes removed from each document. A document left with fewer than
        ``max(min_chars, 1)`` characters once whitespace is trimmed is dropped (reason
        ``substring_duplicate_empty``).
        The stage's ``bytes_in - bytes_out`` is the text removed, dropped documents included.

Duplicates are found within a block only: a corpus larger than ``partition_bytes`` is
deduplicated block by block (a larger budget finds more, at about 15 bytes of RAM per
block byte).

``scope="corpus"`` finds repeats across the whole corpus instead, with tasks whose memory
does not grow with it (``curation.dedup.winnow`` states the guarantee this rests on):

scan:   per text, its winnowing anchors (k-grams whose hash is the smallest of some run of
        ``min_bytes - k + 1`` k-grams) and the window ``[p - (min_bytes - k), p + min_bytes)``
        around each; every copy of a repeat of ``min_bytes`` or more lies inside a window of an
        anchor with the same hash. Windows are routed by ``anchor hash mod partitions`` (those
        of one text in one partition merged) as ``(shard, row, id, start, segment bytes)``.
reduce: per partition, the segments in corpus order (id, shard, row, start), each followed by
        the separator, in one suffix array: every ``min_bytes`` window of a segment that occurs
        earlier here occurs earlier in the corpus, and every copy of it is here. Yields the
        runs of removed bytes and of first copies, ``(row, start, end, first)`` per shard.
apply:  a text's runs from every partition are joined, then the fuzzy merge (``protect_first``
        as above) and UTF-8 snapping run as in the block scope.

The result is what the block scope gives when the whole corpus is one block (tested against
brute force and against that): every byte inside a window of ``min_bytes`` that occurs earlier
anywhere (documents in id order) is removed, and no other byte but the fuzzy merge's gaps.
``partition_bytes`` is unused. Cost: the windows hold about 4 times the text (anchors are
about ``2 / (min_bytes - k + 2)`` of the positions, windows ``2 * min_bytes - k`` bytes), so
the scan writes about 4 bytes per text byte, and a reduce holds its partition's segments in one
suffix array (about 16 bytes of RAM per segment byte): choose ``partitions`` so that 4 times
the corpus divided by ``partitions`` fits a task.

Memory, per reduce task: the partition's texts (1 byte per input byte, plus Arrow's 8-byte
offset per document) and, for one block at a time, the separated bytes (1 B/byte), the suffix
array and the LCP array (int32 below 2 GiB, int64 above: 8 or 16 B/byte), kasai's temporary rank
array (4 or 8 B/byte) and the candidate arrays (8-16 bytes per position inside a repeat);
about 13 B per block byte with int32 (21 with int64). Measured: a whole reduce over 15.8 MB of
synthetic text (one block) peaked at 13.9 bytes of RSS per input byte; ``curate bench
substring`` reports the same figure for its input. Sorting the partition by id briefly holds a
second copy of its texts. Scratch space: the scan writes every text once more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydivsufsort import divsufsort, kasai

from curation.core.hashing import xxh3_64_column
from curation.core.stage import BatchContext, GlobalStage
from curation.dedup.shards import batch_decisions, by_partition
from curation.dedup.winnow import anchors, windows

# reduce memory estimate: zstd Parquet holds text up to about 3.5x compressed, and a block
# costs about 15 bytes of RSS per byte (both measured by the 3M-document rehearsal,
# curation/reliability/rehearsal.py: a 258 MB block peaked 4.2 GB above the worker's
# baseline); rounded up, so that the estimate stays above what a task holds
TEXT_PER_PARQUET_BYTE = 4
BYTES_PER_BLOCK_BYTE = 16

REMOVED = "substring_removed_bytes"
EMPTY = "substring_duplicate_empty"
SEPARATOR = 0xFF  # never a byte of valid UTF-8
SCAN_CHUNK_BYTES = 4 << 20  # scope="corpus": texts hashed at a time (about 60 B of RAM each)


# --- repeats in one block ----------------------------------------------------------------


def separated(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(block, starts, lengths)``: the texts' UTF-8 bytes, each followed by ``SEPARATOR``, as a
    writable uint8 array; document ``i`` owns ``block[starts[i]:starts[i] + lengths[i]]``."""
    offsets, data = _offsets_and_data(texts)
    lengths = np.diff(offsets)
    rel = offsets - offsets[0]
    block = np.insert(data[offsets[0]:offsets[-1]], rel[1:], np.uint8(SEPARATOR))
    starts = rel[:-1] + np.arange(len(lengths), dtype=np.int64)
    return block, starts, lengths


def repeat_windows(block: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                   min_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(later, firsts)``, sorted positions ``s`` of ``block`` whose window
    ``block[s:s + min_bytes]`` lies inside one document and occurs at least twice: ``later``
    where it occurs at some earlier position too, ``firsts`` where it occurs first (one
    position per distinct repeated window).

    Suffixes sharing their first ``min_bytes`` bytes are consecutive in the suffix array, joined
    by LCP values >= ``min_bytes``; a join counts only if the window stops before its
    document's separator (then the other suffix's does too: they hold 0xFF at the same offset).
    Every such group keeps its smallest position as its first; the others are later.
    """
    none = np.zeros(0, np.int64)
    if len(block) < 2:
        return none, none
    sa = divsufsort(block)
    lcp = kasai(block, sa)  # lcp[k]: common prefix of suffixes sa[k] and sa[k + 1]
    ks = np.flatnonzero(lcp >= min_bytes)
    del lcp
    if not len(ks):
        return none, none
    pos = sa[ks].astype(np.int64)
    doc = np.searchsorted(starts, pos, side="right") - 1
    ks = ks[starts[doc] + lengths[doc] - pos >= min_bytes]
    if not len(ks):
        return none, none
    new_run = np.ones(len(ks), bool)
    new_run[1:] = ks[1:] != ks[:-1] + 1
    run = np.cumsum(new_run) - 1
    last = np.flatnonzero(np.append(new_run[1:], True))  # last join of each run
    ranks = np.concatenate([ks, ks[last] + 1])
    runs = np.concatenate([run, run[last]])
    order = np.argsort(runs, kind="stable")
    ranks, runs = ranks[order], runs[order]
    members = sa[ranks].astype(np.int64)
    del sa
    bounds = np.flatnonzero(np.diff(runs)) + 1
    first = np.minimum.reduceat(members, np.concatenate([[0], bounds]))
    return np.sort(members[members != first[runs]]), np.sort(first)


def repeated_runs(starts_of_repeats: np.ndarray, min_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """The union of the windows ``[s, s + min_bytes)`` as disjoint sorted runs ``(lo, hi)``;
    touching windows form one run."""
    s = starts_of_repeats
    if not len(s):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    begins = np.ones(len(s), bool)
    begins[1:] = s[1:] > s[:-1] + min_bytes
    ends_at = np.append(np.flatnonzero(begins)[1:] - 1, len(s) - 1)
    return s[begins], s[ends_at] + min_bytes


def fuzzy_merge(lo: list[int], hi: list[int], fuzziness: float) -> list[tuple[int, int]]:
    """Merge sorted disjoint runs of one document, left to right: the next run joins the
    current span when the joined span ``[first lo, next hi)`` is still covered by runs to at
    least ``fuzziness`` (the gaps between them are removed with them)."""
    out: list[tuple[int, int]] = []
    current: tuple[int, int, int] | None = None  # (lo, hi, bytes covered by runs)
    for s, e in zip(lo, hi, strict=True):
        if current is not None:
            a, b, covered = current
            if covered + (e - s) >= fuzziness * (e - a):
                current = (a, e, covered + (e - s))
                continue
            out.append((a, b))
        current = (s, e, e - s)
    if current is not None:
        out.append(current[:2])
    return out


def snap_to_characters(block: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Shrink spans of ``block`` to UTF-8 character boundaries: ``lo`` forward and ``hi``
    backward past continuation bytes (``10xxxxxx``), so that only whole characters lie inside.
    Spans left empty are removed."""
    lo, hi = lo.copy(), hi.copy()
    for _ in range(3):  # a character has at most 3 continuation bytes
        lo += (block[np.minimum(lo, len(block) - 1)] & 0xC0) == 0x80
        hi -= (block[np.minimum(hi, len(block) - 1)] & 0xC0) == 0x80
    keep = hi > lo
    return lo[keep], hi[keep]


def gaps_touch(gap_lo: np.ndarray, gap_hi: np.ndarray, run_lo: np.ndarray,
               run_hi: np.ndarray) -> np.ndarray:
    """Per gap ``[gap_lo, gap_hi)``, whether it shares a byte with one of the disjoint sorted
    runs ``[run_lo, run_hi)``: the first run ending after the gap's start begins before its
    end."""
    if not len(run_lo):
        return np.zeros(len(gap_lo), bool)
    j = np.minimum(np.searchsorted(run_hi, gap_lo, side="right"), len(run_lo) - 1)
    return (run_hi[j] > gap_lo) & (run_lo[j] < gap_hi)


def removed_spans(texts: pa.Array, min_bytes: int, fuzziness: float = 1.0,
                  protect_first: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(doc, start, end)`` int64: the byte spans to cut from each text of one block (texts in
    block order), sorted by document then start; ``start``/``end`` index the document's UTF-8
    bytes, end exclusive, on character boundaries, disjoint. With ``protect_first``, the fuzzy
    merge never bridges a gap holding a byte of the first occurrence of a repeated window, so
    it removes no such byte that the exact search (``fuzziness=1``) keeps."""
    block, starts, lengths = separated(texts)
    later, firsts = repeat_windows(block, starts, lengths, min_bytes)
    return merged_spans(block, starts, repeated_runs(later, min_bytes),
                        repeated_runs(firsts, min_bytes), fuzziness, protect_first)


def merged_spans(block: np.ndarray, starts: np.ndarray, runs: tuple[np.ndarray, np.ndarray],
                 first_runs: tuple[np.ndarray, np.ndarray], fuzziness: float,
                 protect_first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``removed_spans`` from the block's removed runs and first-occurrence runs (disjoint,
    sorted ``(lo, hi)`` block positions): the fuzzy merge, then UTF-8 snapping."""
    lo, hi = runs
    doc = np.searchsorted(starts, lo, side="right") - 1
    if fuzziness < 1.0 and len(lo):
        split = np.diff(doc) != 0  # split[k]: no merge of run k with run k + 1
        if protect_first:
            split |= gaps_touch(hi[:-1], lo[1:], *first_runs)
        merged_doc, merged_lo, merged_hi = [], [], []
        bounds = np.flatnonzero(split) + 1
        for d, d_lo, d_hi in zip(doc[np.concatenate([[0], bounds])].tolist(), np.split(lo, bounds),
                                 np.split(hi, bounds), strict=True):
            spans = fuzzy_merge(d_lo.tolist(), d_hi.tolist(), fuzziness)
            merged_doc += [d] * len(spans)
            merged_lo += [a for a, _ in spans]
            merged_hi += [b for _, b in spans]
        doc = np.array(merged_doc, np.int64)
        lo, hi = np.array(merged_lo, np.int64), np.array(merged_hi, np.int64)
    lo, hi = snap_to_characters(block, lo, hi)
    doc = np.searchsorted(starts, lo, side="right") - 1
    return doc.astype(np.int64), lo - starts[doc], hi - starts[doc]


def union_runs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges ``[lo, hi)`` (any order, overlapping) as disjoint sorted runs; touching ranges
    join."""
    if not len(lo):
        return lo, hi
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    reach = np.maximum.accumulate(hi)
    begins = np.ones(len(lo), bool)
    begins[1:] = lo[1:] > reach[:-1]
    first = np.flatnonzero(begins)
    return lo[first], np.maximum.reduceat(hi, first)


def _offsets_and_data(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """int64 value offsets (``len + 1``) and the uint8 data buffer of a (large_)string/binary
    array (offsets index the data buffer; nulls own no bytes)."""
    large = pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type)
    buffers = texts.buffers()
    offsets = np.frombuffer(buffers[1], np.int64 if large else np.int32)
    offsets = offsets[texts.offset:texts.offset + len(texts) + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def cut_spans(texts: pa.Array, doc: np.ndarray, start: np.ndarray, end: np.ndarray
              ) -> tuple[pa.Array, np.ndarray]:
    """``(texts with the spans removed, bytes removed per text)``; spans are disjoint byte ranges
    ``[start, end)`` of text ``doc``. The result has the input's type."""
    offsets, data = _offsets_and_data(texts)
    n = len(texts)
    removed = np.bincount(doc, weights=end - start, minlength=n).astype(np.int64)
    if not len(doc):
        return texts, removed
    lo, hi = offsets[0], offsets[-1]
    cut = np.zeros(hi - lo + 1, np.int32)
    np.add.at(cut, offsets[doc] + start - lo, 1)
    np.add.at(cut, offsets[doc] + end - lo, -1)
    keep = np.cumsum(cut[:-1]) == 0
    new_data = data[lo:hi][keep]
    new_offsets = np.concatenate([[0], np.cumsum(np.diff(offsets) - removed)]).astype(np.int64)
    out = pa.LargeStringArray.from_buffers(n, pa.py_buffer(new_offsets), pa.py_buffer(new_data))
    if texts.null_count:
        out = pc.if_else(pc.is_null(texts), pa.scalar(None, pa.large_string()), out)
    return out.cast(texts.type), removed


def _chunks(texts: pa.Array, budget: int) -> Iterator[tuple[int, int]]:
    """``[lo, hi)`` row ranges of ``texts`` of about ``budget`` bytes each (whole texts)."""
    sizes = pc.fill_null(pc.binary_length(texts), 0).to_numpy()
    chunk = np.cumsum(sizes) // budget
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(chunk)) + 1, [len(sizes)]])
    yield from zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)


def _gather(block: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    """``block[lo[i]:hi[i]]`` for every ``i``, as one large_binary array."""
    lengths = hi - lo
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    index = np.arange(offsets[-1]) - np.repeat(offsets[:-1] - lo, lengths)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(lo), [
        None, pa.py_buffer(offsets), pa.py_buffer(block[index].tobytes())])


# --- the stage ------------------------------------------------------------------------------


class SubstringDedup(GlobalStage):
    """Suffix-array removal of repeated byte strings (see the module docstring for the phases).

    ``min_bytes``: shortest repeat removed (bytes). ``fuzziness``: in (0, 1], the fraction of a
    merged span that repeated runs must cover. ``min_chars``: a rewritten document shorter than
    this (characters, whitespace-trimmed; at least 1) is dropped. ``partition_bytes``: the
    suffix-array budget per block (bytes of text). ``partitions``: reduce tasks (documents
    hashed by id); duplicates across partitions are not found, so raise it only for corpora
    many times ``partition_bytes``. ``protect_first``: the fuzzy merge never bridges a gap
    holding a byte of the first occurrence of a repeated ``min_bytes`` window, so it removes
    no first-occurrence byte that ``fuzziness=1`` keeps (False, the default, bridges any gap:
    on real text 0.45% of those bytes went, and with them the passage's only copy; see the
    module docstring). ``scope``: ``"block"`` (the default) finds repeats within each block of
    each partition; ``"corpus"`` finds them across the whole corpus, whatever the partitions
    (see the module docstring).
    """

    requires = ("id", "text")
    adds = {REMOVED: pa.int64()}
    version = 2  # 2: a null text no longer cuts the block (repeats after it were missed)

    def __init__(
        self,
        min_bytes: int = 500,
        fuzziness: float = 0.9,
        min_chars: int = 1,
        partition_bytes: int = 256 << 20,
        partitions: int = 1,
        protect_first: bool = False,
        scope: Literal["block", "corpus"] = "block",
        name: str | None = None,
    ):
        if min_bytes < 1 or partition_bytes < 1 or partitions < 1:
            raise ValueError("min_bytes, partition_bytes and partitions must be >= 1")
        if scope not in ("block", "corpus"):
            raise ValueError(f"scope must be 'block' or 'corpus', not {scope!r}")
        if not 0 < fuzziness <= 1:
            raise ValueError("fuzziness must lie in (0, 1]")
        self.min_bytes, self.fuzziness, self.min_chars = min_bytes, fuzziness, min_chars
        self.partition_bytes, self.partitions, self.name = partition_bytes, partitions, name
        self.protect_first, self.scope = protect_first, scope

    def resources(self, phase: str, input_bytes: int) -> dict[str, float]:
        """A reduce asks for its memory (see the module docstring): the partition's texts, at
        most ``TEXT_PER_PARQUET_BYTE`` times its Parquet bytes, plus ``BYTES_PER_BLOCK_BYTE``
        for the largest block."""
        needs = super().resources(phase, input_bytes)
        if phase == "reduce" and "memory" not in needs:
            text = TEXT_PER_PARQUET_BYTE * input_bytes
            block = text if self.scope == "corpus" else min(text, self.partition_bytes)
            needs["memory"] = text + BYTES_PER_BLOCK_BYTE * block
        return needs

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        if self.scope == "corpus":
            yield from self._scan_windows(shard, batches)
            return
        pieces, offset = [], 0
        for batch in batches:
            n = batch.num_rows
            pieces.append(pa.table({
                "shard": pa.array(np.full(n, shard, np.int32)),
                "row": pa.array(np.arange(offset, offset + n, dtype=np.int64)),
                "id": batch.column("id"),
                "text": batch.column("text").cast(pa.large_string()),
            }))
            offset += n
        yield from by_partition(pieces, lambda t: xxh3_64_column(t.column("id").combine_chunks()),
                                self.partitions)

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        if self.scope == "corpus":
            yield from self._reduce_windows(tables)
            return
        pieces = [t for t in tables if t.num_rows]
        if not pieces:
            return
        table = pa.concat_tables(pieces)
        del pieces
        table = table.take(pc.sort_indices(table, [("id", "ascending"), ("shard", "ascending"),
                                                   ("row", "ascending")]))
        # a null text owns no bytes (only its separator), like ""
        lengths = pc.fill_null(pc.binary_length(table.column("text")), 0).to_numpy()
        before = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        block_of = before // self.partition_bytes
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(block_of)) + 1, [len(block_of)]])
        shards_out, rows_out, starts_out, ends_out = [], [], [], []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = table.slice(lo, hi - lo)
            texts = part.column("text").combine_chunks()
            doc, start, end = removed_spans(texts, self.min_bytes, self.fuzziness,
                                            self.protect_first)
            shards_out.append(part.column("shard").to_numpy()[doc])
            rows_out.append(part.column("row").to_numpy()[doc])
            starts_out.append(start)
            ends_out.append(end)
        shard = np.concatenate(shards_out)
        if not len(shard):  # nothing repeated in this partition
            return
        row, start, end = (np.concatenate(x) for x in (rows_out, starts_out, ends_out))
        order = np.lexsort((start, row, shard))
        shard, row, start, end = shard[order], row[order], start[order], end[order]
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(shard)) + 1, [len(shard)]])
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            yield int(shard[lo]), pa.table({"row": row[lo:hi], "start": start[lo:hi],
                                            "end": end[lo:hi]})

    # -- scope="corpus" ----------------------------------------------------------------------
    def _scan_windows(self, shard: int, batches: Iterator[pa.Table]
                      ) -> Iterator[tuple[int, pa.Table]]:
        """The windows around each text's anchors (``curation.dedup.winnow``), those of one
        text routed to one partition merged, as rows ``(shard, row, id, start, segment)``
        routed by anchor hash."""
        pieces, offset = [], 0
        for batch in batches:
            texts = batch.column("text").cast(pa.large_string()).combine_chunks()
            for lo, hi in _chunks(texts, SCAN_CHUNK_BYTES):
                part = texts.slice(lo, hi - lo)
                table = self._windows(part)
                pieces.append(pa.table({
                    "shard": pa.array(np.full(table.num_rows, shard, np.int32)),
                    "row": pa.array(offset + lo + table.column("text").to_numpy()),
                    "id": batch.column("id").take(pa.array(lo + table.column("text").to_numpy())),
                    "start": table.column("start"),
                    "segment": table.column("segment"),
                    "partition": table.column("partition"),
                }))
            offset += batch.num_rows
        yield from by_partition(pieces, lambda t: t.column("partition").to_numpy(),
                                self.partitions)

    def _windows(self, texts: pa.Array) -> pa.Table:
        """``(text, start, segment, partition)`` of the merged anchor windows of ``texts``."""
        block, starts, lengths = separated(texts)
        positions, hashes = anchors(block, starts, lengths, self.min_bytes)
        lo, hi = windows(positions, starts, lengths, self.min_bytes)
        size = len(block) + 1  # windows of different partitions, shifted apart, never join
        shift = (hashes % np.uint64(self.partitions)).astype(np.int64) * size
        lo, hi = union_runs(lo + shift, hi + shift)
        part = lo // size
        lo, hi = lo - part * size, hi - part * size
        text = np.searchsorted(starts, lo, side="right") - 1
        return pa.table({"text": text, "start": lo - starts[text],
                         "segment": _gather(block, lo, hi),
                         "partition": part.astype(np.uint64)})

    def _reduce_windows(self, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        """Every copy of a repeat of ``min_bytes`` holding an anchor routed here lies inside a
        segment here: one suffix array over the partition's segments in corpus order (id,
        shard, row, start) finds which bytes repeat earlier, and which are first copies."""
        pieces = [t for t in tables if t.num_rows]
        if not pieces:
            return
        table = pa.concat_tables(pieces)
        del pieces
        table = table.take(pc.sort_indices(table, [(c, "ascending") for c in
                                                   ("id", "shard", "row", "start")]))
        block, starts, lengths = separated(table.column("segment").combine_chunks())
        later, firsts = repeat_windows(block, starts, lengths, self.min_bytes)
        out = []
        for first, positions in ((False, later), (True, firsts)):
            lo, hi = repeated_runs(positions, self.min_bytes)
            seg = np.searchsorted(starts, lo, side="right") - 1
            begin = table.column("start").to_numpy()[seg] - starts[seg]
            out.append(pa.table({"shard": table.column("shard").to_numpy()[seg],
                                 "row": table.column("row").to_numpy()[seg],
                                 "start": begin + lo, "end": begin + hi,
                                 "first": np.full(len(lo), first)}))
        runs = pl.from_arrow(pa.concat_tables(out)).sort("shard", "row", "start")
        for (shard,), group in runs.group_by("shard", maintain_order=True):
            yield int(shard), group.drop("shard").to_arrow()

    def _spans(self, texts: pa.Array, doc: np.ndarray, runs: pa.Table
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The spans to cut from ``texts`` given the runs every partition found in them
        (text ``doc``; later copies and first copies, overlapping across partitions)."""
        block, starts, _ = separated(texts)
        at = starts[doc]
        lo, hi = at + runs.column("start").to_numpy(), at + runs.column("end").to_numpy()
        first = runs.column("first").to_numpy(zero_copy_only=False)
        return merged_spans(block, starts, union_runs(lo[~first], hi[~first]),
                            union_runs(lo[first], hi[first]), self.fuzziness,
                            self.protect_first)

    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        n = batch.num_rows
        doc, mine = batch_decisions(decisions, offset, n)
        start = end = np.zeros(0, np.int64)
        text = batch.column("text").combine_chunks()
        if len(doc) and self.scope == "corpus":
            doc, start, end = self._spans(text, doc, mine)
        elif len(doc):
            start, end = mine.column("start").to_numpy(), mine.column("end").to_numpy()
        new_text, removed = cut_spans(text, doc, start, end)
        out = batch.set_column(batch.schema.get_field_index("text"), "text", new_text)
        out = out.append_column(REMOVED, pa.array(removed, pa.int64()))
        if not removed.any():
            return out
        chars = pc.fill_null(pc.utf8_length(pc.utf8_trim_whitespace(new_text)), 0).to_numpy()
        empty = (removed > 0) & (chars < max(self.min_chars, 1))
        if empty.any():
            ctx.drop(EMPTY, out.filter(pa.array(empty)))
            out = out.filter(pa.array(~empty))
        return out
