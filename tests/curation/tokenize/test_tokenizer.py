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
