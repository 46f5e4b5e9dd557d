"""Loading, training and measuring tokenizers."""

from __future__ import annotations

import json

import pytest

from curation.core.errors import CurationError
from curation.tokenize import describe, fertility, load_tokenizer, train_bpe
from curation.tokenize.tokenizer import tokenizer_hash


def test_trained_tokenizer_has_specials_first_and_the_vocab_size(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    assert tok.token_to_id("<|endoftext|>") == 0 and tok.token_to_id("<|pad|>") == 1
    assert tok.get_vocab_size() == 400
    info = describe(tok, "tokenizer.json")
    assert (info.eos_id, info.bos_id, info.dtype) == (0, None, "uint16")


def test_byte_level_round_trip_of_any_text(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    for text in ["plain", "  leading spaces\r\nCRLF\t", "日本語 🙂 Straße", "never seen: ǅ ꙮ"]:
        assert tok.decode(tok.encode(text, add_special_tokens=False).ids) == text


def test_hash_ignores_formatting_but_not_content(tokenizer_path, other_tokenizer_path, tmp_path):
    tok = load_tokenizer(tokenizer_path)
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(tok.to_str()), indent=4))
    assert tokenizer_hash(load_tokenizer(str(pretty))) == tokenizer_hash(tok)
    assert tokenizer_hash(load_tokenizer(other_tokenizer_path)) != tokenizer_hash(tok)


def test_bos_and_missing_tokens(tmp_path):
    tok = train_bpe(["some text for a tiny vocabulary"] * 5, 300, bos="<|bos|>")
    assert describe(tok, "t", bos="<|bos|>").bos_id == 2
    with pytest.raises(CurationError, match="EOS token '<nope>' is not in"):
        describe(tok, "t", eos="<nope>")
    with pytest.raises(ValueError, match="cannot hold 256 bytes"):
        train_bpe(["x"], 200)


def test_large_vocab_needs_uint32():
    from curation.tokenize import TokenizerInfo

    assert TokenizerInfo("h", "n", 65_536, 0).dtype == "uint16"
    assert TokenizerInfo("h", "n", 65_537, 0).dtype == "uint32"


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(CurationError, match="no such tokenizer file"):
        load_tokenizer(str(tmp_path / "absent.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a tokenizer"}')
    with pytest.raises(CurationError, match="bad.json: not a tokenizer.json"):
        load_tokenizer(str(bad))


def test_fertility_counts_words_bytes_and_tokens(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    texts = ["the quick brown fox", "café 🙂"]
    stats = fertility(tok, texts)
    tokens = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
    assert (stats["words"], stats["bytes"], stats["tokens"]) == (6, 19 + 10, tokens)
    assert stats["tokens_per_word"] == pytest.approx(tokens / 6)
    assert stats["bytes_per_token"] == pytest.approx(stats["bytes"] / tokens)


def test_ids_beyond_the_entry_count_set_vocab_size_and_dtype(tmp_path):
    """A vocabulary with a gap in its ids (a token at 70000 among 300 entries): ``vocab_size``
    bounds the ids (largest id + 1), so the dtype is uint32 and the ids survive tokenization."""
    import pyarrow as pa

    from curation.core.stage import BatchContext
    from curation.core.stats import StageStats
    from curation.tokenize import Tokenize

    spec = json.loads(train_bpe(["hello world, hello there"] * 20, 300).to_str())
    vocab = spec["model"]["vocab"]
    moved = max(vocab, key=vocab.get)
    vocab[moved] = 70_000
    path = tmp_path / "gap.json"
    path.write_text(json.dumps(spec))
    tok = load_tokenizer(str(path))
    assert tok.token_to_id(moved) == 70_000 and tok.get_vocab_size() < 70_000
    ids = tok.encode("hello world, hello there", add_special_tokens=False).ids
    assert 70_000 in ids
    info = describe(tok, "gap.json")
    assert info.vocab_size == max(tok.get_vocab().values()) + 1 == 70_001
    assert info.dtype == "uint32"
    stage = Tokenize(str(path))
    stage.setup()
    out = stage.process(pa.table({"id": ["a"], "text": ["hello world, hello there"]}),
                        BatchContext(seed=0, shard=0, stats=StageStats()))
    assert out.column("input_ids").to_pylist() == [ids + [info.eos_id]]
