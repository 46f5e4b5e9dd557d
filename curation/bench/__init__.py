"""``curate bench``: our stage and its peer on the same input, in one process, one run.

    curate bench list                                 the benchmarks
    curate bench NAME [--mb M]                        run one on the real-text corpus (default);
                                                      writes curation/bench/results/NAME.json
    curate bench NAME --input synthetic [--docs N]    run one on the synthetic corpus;
                                                      writes .../results/NAME-synthetic.json
    curate bench table [--readme F]                   render the README's benchmark table

The real-text corpus (``curation.samples.realtext``: Python documentation and the READMEs,
licences and docstrings of the installed packages, cut into 1-6 KB documents) is built once
into ``<workdir>/data``; the synthetic one (planted duplicates and contamination) too.
Benchmarks measure; they are not tests and assert nothing about speed.
"""

from __future__ import annotations

import importlib
import os

from curation.bench.common import DEFAULT_DOCS, DEFAULT_INPUT, INPUTS, fresh_corpus
from curation.bench.report import RESULTS_DIR, render_table, save_result, update_readme
from curation.core.commands import command_parser

# name -> (module with run(corpus, workdir), what it measures); a benchmark of a package above
# curation (classifiers/) is named by module path and imported only when asked for
BENCHMARKS = {
    "topic": ("classifiers.bench_topic",
              "topic tagging: fastText student vs its MiniLM teacher, rate and agreement"),
    "langid": ("curation.bench.langid",
               "language ID: our stage end to end vs fastText's per-document loop"),
    "read": ("curation.bench.read", "JSONL.zst to Arrow batches: our Reader vs datatrove's"),
    "exact_dedup": ("curation.bench.exact_dedup",
                    "exact dedup end to end: our global stage vs datatrove's three steps"),
    "tokenize": ("curation.bench.tokenize",
                 "tokenize stage end to end vs tokenizers encode_batch on texts in memory"),
    "minhash": ("curation.bench.minhash",
                "MinHash signatures vs datasketch and rensa; dedup end to end vs datatrove"),
    "decon": ("curation.bench.decon", "decontamination scan MB/s vs a Python 8-gram set lookup"),
    "filters": ("curation.bench.filters", "Gopher, C4, FineWeb filter chain vs datatrove's"),
    "filter_languages": ("curation.bench.filter_languages",
                         "the filter chain per language (en de fr es ru zh ja) vs datatrove's"),
    "substring": ("curation.bench.substring",
                  "suffix-array substring dedup MB/s and memory vs a Python window-hash set"),
    "components": ("curation.bench.components",
                   "MinHash components at 10M edges: star rounds vs the single merge"),
    "chain": ("curation.bench.chain",
              "issue 16's whole chain: local, Ray 1 vs 2 CPUs, start-up in/out, identical"),
}


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("curate bench", __doc__, "POLARS_MAX_THREADS=1 curate bench filters")
    parser.add_argument("name", help="a benchmark name, 'list' or 'table'")
    parser.add_argument("--input", choices=INPUTS, default=DEFAULT_INPUT,
                        help="real text (default) or the synthetic corpus")
    parser.add_argument("--mb", type=float, default=None,
                        help="real text: corpus size in MB (default: realtext's 64, or all "
                             "the installation holds)")
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="synthetic documents")
    parser.add_argument("--out", default=RESULTS_DIR, help="directory for the JSON results")
    parser.add_argument("--workdir", default="runs/bench", help="scratch space")
    parser.add_argument("--readme", default="README.md", help="README to update ('table')")
    args = parser.parse_args(argv)
    if args.name == "list":
        for name, (_, what) in BENCHMARKS.items():
            print(f"{name:14} {what}")
        return 0
    if args.name == "table":
        print(render_table(args.out))
        if os.path.exists(args.readme):
            update_readme(args.readme, args.out)
            print(f"updated {args.readme}")
        return 0
    if args.name not in BENCHMARKS:
        parser.error(f"unknown benchmark {args.name!r}; try 'curate bench list'")
    module = importlib.import_module(BENCHMARKS[args.name][0])
    workdir = os.path.join(args.workdir, args.name)
    corpus = fresh_corpus(workdir, args.input, docs=args.docs, mb=args.mb)
    print(f"{args.name} on {corpus.label}")
    result = {**corpus.describe(), **module.run(corpus, workdir)}
    path = save_result(args.name, result, args.out)
    print(render_table(args.out, only=[args.name]))
    print(f"results in {path}")
    return 0
