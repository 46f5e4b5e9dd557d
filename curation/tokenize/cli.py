"""``curate tokens``: train and measure tokenizers, verify, export and import token shards.

    curate tokens train  INPUT... --vocab-size N --out tokenizer.json [--max-docs N] [--bos T]
    curate tokens stats  INPUT... --tokenizer tokenizer.json [--max-docs N]
    curate tokens verify DIR --tokenizer tokenizer.json [--checksums]
    curate tokens export DIR OUT [--dtype uint32]                       .npy + label lists
    curate tokens export DIR OUT --format megatron [--dtype uint16|int32]  .bin + .idx
    curate tokens import NPY... OUT --tokenizer tokenizer.json [--dtype uint32] [--source S]

INPUT is any dataset our readers take: JSONL(.gz/.zst) or Parquet files, globs, directories.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from curation.core.commands import command_parser
from curation.core.quarantine import Quarantine
from curation.core.readers import read
from curation.tokenize.dataset import TokenizedDataset
from curation.tokenize.export import export_npy, import_npy
from curation.tokenize.megatron import export_megatron
from curation.tokenize.tokenizer import fertility, load_tokenizer, train_bpe


def iter_texts(paths: list[str]) -> Iterator[str]:
    """Texts of a dataset in file order; bad input is an error naming file and line."""
    reader = read(paths, source="sample")
    for path in reader.files():
        for batch in reader.read(path, Quarantine("raise", None), Counter()):
            yield from batch.column("text").to_pylist()


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("curate tokens", __doc__,
                            "curate tokens stats runs/demo/out --tokenizer runs/tokenizer.json")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a byte-level BPE tokenizer")
    p.add_argument("input", nargs="+")
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-docs", type=int, default=None)
    p.add_argument("--bos", default=None, help="also reserve a BOS token, e.g. '<|bos|>'")
    p = sub.add_parser("stats", help="fertility and bytes per token on a sample")
    p.add_argument("input", nargs="+")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--max-docs", type=int, default=10_000)
    p = sub.add_parser("verify", help="check a tokenized output against a tokenizer")
    p.add_argument("dir")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--checksums", action="store_true")
    p = sub.add_parser("export", help="tokenized shards to .npy + .csv.gz label lists "
                       "(OLMo-core, Dolma) or to Megatron's .bin + .idx")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--format", default="npy", choices=["npy", "megatron"])
    p.add_argument("--dtype", default=None,
                   help="npy: uint32 (default) or uint16; megatron: uint16 below 65,500 "
                        "tokens of vocabulary, else int32 (default), or another of its dtypes")
    p = sub.add_parser("import", help=".npy token arrays to tokenized shards")
    p.add_argument("npy", nargs="+")
    p.add_argument("out")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--dtype", default="uint32", choices=["uint16", "uint32"])
    p.add_argument("--source", default="imported")
    args = parser.parse_args(argv)

    if args.command == "train":
        train_bpe(islice(iter_texts(args.input), args.max_docs), args.vocab_size, args.out,
                  bos=args.bos)
        print(f"wrote {args.out}")
    elif args.command == "stats":
        texts = list(islice(iter_texts(args.input), args.max_docs))
        print(json.dumps(fertility(load_tokenizer(args.tokenizer), texts), indent=2))
    elif args.command == "verify":
        data = TokenizedDataset(args.dir, expect=args.tokenizer, verify_checksums=args.checksums)
        data.check_shards()
        print(f"{args.dir}: {len(data.shards)} shards, {data.n_docs:,} documents, "
              f"{data.n_tokens:,} tokens, tokenizer {data.info.name} ({data.info.hash[:12]}) ok")
    elif args.command == "export" and args.format == "megatron":
        meta = export_megatron(args.dir, args.out, args.dtype)
        print(f"wrote {len(meta['files'])} .bin/.idx pairs ({meta['dtype']}) to {args.out}")
    elif args.command == "export":
        if args.dtype not in (None, "uint16", "uint32"):
            parser.error("--dtype of an npy export: uint16 or uint32")
        meta = export_npy(args.dir, args.out, args.dtype or "uint32")
        print(f"wrote {len(meta['files'])} .npy files to {args.out}")
    else:
        manifest = import_npy(args.npy, args.out, args.tokenizer, args.dtype, args.source)
        print(f"wrote {manifest['totals']['shards']} shards, {manifest['totals']['tokens']:,} "
              f"tokens to {args.out}")
    return 0
