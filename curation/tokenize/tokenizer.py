"""Tokenizers: load a Hugging Face ``tokenizer.json``, train a byte-level BPE one, measure it.

A ``TokenizerInfo`` is what a tokenized shard records about the tokenizer that made it: the
xxh3-128 of the tokenizer's canonical serialisation (so the same tokenizer saved pretty-printed or
compact has the same hash), its vocabulary size, the EOS (and optional BOS) id, and the smallest
unsigned integer type that holds every id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import xxhash
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from curation.core import fs
from curation.core.errors import CurationError

EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[SEP]")
DEFAULT_SPECIALS = {"eos": "<|endoftext|>", "pad": "<|pad|>"}
UINT16_MAX_VOCAB = 1 << 16


class TokenizerMismatch(CurationError):
    """Token ids made by one tokenizer offered to a consumer that expects another."""


@dataclass(frozen=True)
class TokenizerInfo:
    """Identity of a tokenizer as recorded in tokenized shards and manifests."""

    hash: str  # xxh3-128 hex of the canonical tokenizer JSON
    name: str  # where it was loaded from (informative only; never compared)
    vocab_size: int  # ids are in [0, vocab_size)
    eos_id: int
    bos_id: int | None = None

    @property
    def dtype(self) -> str:
        """``uint16`` when every id fits in 16 bits, else ``uint32``."""
        return "uint16" if self.vocab_size <= UINT16_MAX_VOCAB else "uint32"

    def to_dict(self) -> dict:
        return asdict(self) | {"dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: dict) -> TokenizerInfo:
        return cls(d["hash"], d["name"], d["vocab_size"], d["eos_id"], d.get("bos_id"))

    def check(self, other: TokenizerInfo, what: str) -> None:
        """Raise ``TokenizerMismatch`` unless ``other`` (found in ``what``) is this tokenizer."""
        if other.hash != self.hash or other.eos_id != self.eos_id:
            raise TokenizerMismatch(
                f"{what}: tokenized with {other.name} (hash {other.hash[:12]}, EOS {other.eos_id}),"
                f" but {self.name} (hash {self.hash[:12]}, EOS {self.eos_id}) is expected"
            )


def tokenizer_hash(tokenizer: Tokenizer) -> str:
    """xxh3-128 hex of the tokenizer's canonical JSON (keys sorted, compact)."""
    canonical = json.dumps(json.loads(tokenizer.to_str()), sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_128_hexdigest(canonical.encode())


def load_tokenizer(path: str) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` from a ``tokenizer.json`` on any filesystem we read."""
    try:
        return Tokenizer.from_str(fs.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise CurationError(f"{path}: no such tokenizer file") from None
    except Exception as e:  # tokenizers raises a bare Exception on a malformed file
        raise CurationError(f"{path}: not a tokenizer.json ({e})") from None


def special_id(tokenizer: Tokenizer, token: str, name: str) -> int:
    tid = tokenizer.token_to_id(token)
    if tid is None:
        raise CurationError(f"{name} token {token!r} is not in the tokenizer's vocabulary")
    return tid


def id_bound(tokenizer: Tokenizer) -> int:
    """One more than the largest token id. Not ``get_vocab_size()``, which counts the entries:
    a vocabulary with gaps in its ids (reserved or removed slots) has ids beyond the count."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    return max(vocab.values()) + 1 if vocab else 0


def describe(tokenizer: Tokenizer, name: str, eos: str | None = None,
             bos: str | None = None) -> TokenizerInfo:
    """The ``TokenizerInfo`` of ``tokenizer``; ``eos=None`` finds a usual EOS token."""
    if eos is None:
        eos = next((t for t in EOS_CANDIDATES if tokenizer.token_to_id(t) is not None), None)
        if eos is None:
            raise CurationError(
                f"{name}: no EOS token among {', '.join(EOS_CANDIDATES)}; name one with eos=..."
            )
    return TokenizerInfo(
        tokenizer_hash(tokenizer),
        name,
        id_bound(tokenizer),
        special_id(tokenizer, eos, "EOS"),
        None if bos is None else special_id(tokenizer, bos, "BOS"),
    )


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    out_path: str | None = None,
    eos: str = DEFAULT_SPECIALS["eos"],
    pad: str = DEFAULT_SPECIALS["pad"],
    bos: str | None = None,
    min_frequency: int = 2,
) -> Tokenizer:
    """Train a byte-level BPE tokenizer (GPT-2 style: every byte is a token, no unknowns).

    Special tokens take the first ids: EOS = 0, PAD = 1, then BOS if given. ``vocab_size``
    counts them and the 256 byte tokens. Saved to ``out_path`` when given.
    """
    specials = [eos, pad] + ([bos] if bos else [])
    if vocab_size < 256 + len(specials):
        raise ValueError(f"vocab_size={vocab_size} cannot hold 256 bytes and {specials}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    if out_path is not None:
        fs.atomic_write_bytes(out_path, tokenizer.to_str().encode())
    return tokenizer


_WORD = re.compile(r"\S+")


def fertility(tokenizer: Tokenizer, texts: list[str]) -> dict:
    """Tokens per whitespace-separated word and UTF-8 bytes per token over ``texts``."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encodings)
    words = sum(len(_WORD.findall(t)) for t in texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return {
        "docs": len(texts),
        "words": words,
        "bytes": n_bytes,
        "tokens": tokens,
        "tokens_per_word": tokens / words if words else 0.0,
        "bytes_per_token": n_bytes / tokens if tokens else 0.0,
    }
