"""Export to Megatron-LM's indexed dataset, read back by Megatron's own reader
(megatron-core's ``IndexedDataset``, from the dev extra)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_token_export import table_of

from curation.core.errors import CurationError
from curation.tokenize import export_megatron
from curation.tokenize.cli import main as tokens_main
from curation.tokenize.megatron import META, default_dtype, index_bytes


def megatron_reader():
    with warnings.catch_warnings():  # "Transformer Engine and Apex are not installed"
        warnings.simplefilter("ignore")
        indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    return indexed.IndexedDataset


@pytest.mark.parametrize("dtype", [None, "int32"])
def test_megatron_reads_every_document_back(shards, tmp_path, dtype):
    meta = export_megatron(shards, str(tmp_path / "mg"), dtype)
    assert meta["dtype"] == (dtype or "uint16")  # the test tokenizer's vocabulary is small
    original = table_of(shards).column("input_ids").to_pylist()
    reader = megatron_reader()
    read_back = []
    for f in meta["files"]:
        data = reader(str(tmp_path / "mg" / f["prefix"]))
        assert len(data) == f["docs"] and data.index.dtype == np.dtype(meta["dtype"])
        assert data.document_indices.tolist() == list(range(f["docs"] + 1))
        read_back += [data[i].tolist() for i in range(len(data))]
        assert sum(data.sequence_lengths) == f["tokens"]
    assert read_back == original


def test_the_index_matches_the_format_byte_for_byte():
    idx = index_bytes(np.array([3, 1, 2], np.int32), "uint16")
    expected = (b"MMIDIDX\x00\x00" + (1).to_bytes(8, "little") + bytes([8])
                + (3).to_bytes(8, "little") + (4).to_bytes(8, "little")
                + np.array([3, 1, 2], "<i4").tobytes() + np.array([0, 6, 8], "<i8").tobytes()
                + np.array([0, 1, 2, 3], "<i8").tobytes())
    assert idx == expected
    assert default_dtype(65_499) == "uint16" and default_dtype(65_500) == "int32"


def test_a_dtype_too_small_is_refused(shards, tmp_path):
    with pytest.raises(CurationError, match="int8 cannot hold ids up to"):
        export_megatron(shards, str(tmp_path / "mg"), "int8")
    with pytest.raises(CurationError, match="holds token ids as one of"):
        export_megatron(shards, str(tmp_path / "mg"), "float32")


def test_the_cli_exports_either_format(shards, tmp_path, capsys):
    assert tokens_main(["export", shards, str(tmp_path / "mg"), "--format", "megatron"]) == 0
    assert "(uint16)" in capsys.readouterr().out and (tmp_path / "mg" / META).exists()
    assert tokens_main(["export", shards, str(tmp_path / "npy")]) == 0
    assert list((tmp_path / "npy").glob("*.npy"))
    with pytest.raises(SystemExit):
        tokens_main(["export", shards, str(tmp_path / "x"), "--dtype", "int32"])
