"""``curate tokens``: train, stats, verify, export and import from the command line."""

from __future__ import annotations

import json

import pytest
from corpora import write_jsonl
from test_tokenize_stage import make_inputs, tokenize_pipeline

from curation.cli import main


def test_train_then_stats(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": f"word{i % 7} and more text {i}"}
                                              for i in range(200)])
    tok = str(tmp_path / "tok.json")
    assert main(["tokens", "train", data, "--vocab-size", "300", "--out", tok]) == 0
    assert main(["tokens", "stats", data, "--tokenizer", tok, "--max-docs", "50"]) == 0
    stats = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert stats["docs"] == 50 and stats["tokens_per_word"] > 1


def test_verify_export_import(tmp_path, tokenizer_path, other_tokenizer_path, capsys):
    out = str(tmp_path / "o")
    tokenize_pipeline(make_inputs(tmp_path / "in"), str(tmp_path / "w"), out,
                      tokenizer_path).run(progress=False)
    assert main(["tokens", "verify", out, "--tokenizer", tokenizer_path, "--checksums"]) == 0
    assert "23 documents" in capsys.readouterr().out
    assert main(["tokens", "verify", out, "--tokenizer", other_tokenizer_path]) == 1
    assert "curate: error: " in capsys.readouterr().err
    assert main(["tokens", "export", out, str(tmp_path / "npy"), "--dtype", "uint16"]) == 0
    assert main(["tokens", "import", str(tmp_path / "npy" / "*.npy"), str(tmp_path / "back"),
                 "--tokenizer", tokenizer_path, "--dtype", "uint16"]) == 0
    assert "2 shards" in capsys.readouterr().out.splitlines()[-1]
    with pytest.raises(SystemExit):
        main(["tokens", "export", out])
