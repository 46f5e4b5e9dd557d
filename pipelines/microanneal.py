"""From a target source to a microanneal report: what is this data worth to a model?

    python -m pipelines.microanneal          # or: curate run pipelines/microanneal.py

1. tokenizes the target source (CURATE_ANNEAL_TARGET [the Python docs]) and a web source
   (CURATE_WEB_INPUT [the synthetic crawl], language ID and Gopher filters), each split into a
   training part and a held-out part by a hash of the document id;
2. trains a tiny base model on the web training part (or uses CURATE_ANNEAL_CHECKPOINT);
3. runs the microanneal: two arms of equal tokens from that checkpoint, 50/50 target+web and
   web only, LR decayed linearly to zero, and writes report.json / report.md / report.png
   under CURATE_WORKDIR [runs/microanneal]/anneal, with BPB on both held-out parts and the
   accuracy on CURATE_ANNEAL_TASKS (default: ``build_docs_quiz``'s quiz on the Python docs).

As a pipeline file (``curate run``) it runs step 1; run as a module it does all three.
Parameters: CURATE_ANNEAL_STEPS [60], CURATE_BASE_STEPS [200]; the model is the tiny config's.
Under ``curate run``/``plan`` each CURATE_<NAME> above is also ``--set <name>=VALUE``.
"""

import os

import pyarrow as pa
import pyarrow.compute as pc

from curation import Filter, Pipeline, param, read
from curation.core.hashing import xxh3_64_column
from curation.filters import GopherQuality, GopherRepetition, LanguageID
from curation.tokenize import Tokenize
from pipelines.inputs import python_docs, synthetic_web, tokenizer, workdir

WORKDIR = workdir("runs/microanneal")
HELD_OUT = 0.1  # fraction of documents held out for evaluation


def build_docs_quiz(docs: str, path: str, items: int = 300, seed: int = 0) -> None:
    """A multiple-choice recall quiz on the Python docs (the default target), JSONL at
    ``path``: the first sentence of a function's or class's docstring, and which of four
    modules documents it (the true one and three drawn at random). It asks whether the anneal
    taught the model facts its target data holds; items come from documents of both splits."""
    import json
    from collections import Counter

    import numpy as np

    from curation.core.quarantine import Quarantine
    from curation.samples.python_docs import MODULES

    if os.path.exists(path):
        return
    reader, facts = read(docs, source="docs"), []
    for file in reader.files():
        for batch in reader.read(file, Quarantine("raise", None), Counter()):
            for doc_id, text in zip(batch.column("id").to_pylist(),
                                    batch.column("text").to_pylist(), strict=True):
                name = doc_id.removeprefix("docstring:")
                module = max((m for m in MODULES if name.startswith(m + ".")), key=len,
                             default=None)
                sentence = text.strip().split("\n\n")[0].split(". ")[0].replace("\n", " ")
                if doc_id.startswith("docstring:") and module and 30 <= len(sentence) <= 200:
                    facts.append((doc_id, sentence, module))
    rng = np.random.default_rng(seed)
    rows = []
    for k in sorted(rng.choice(len(facts), min(items, len(facts)), replace=False)):
        doc_id, sentence, module = facts[k]
        others = [m for m in MODULES if m != module]
        choices = [module] + [others[i] for i in rng.choice(len(others), 3, replace=False)]
        order = rng.permutation(4)
        rows.append({"id": doc_id, "question": f'"{sentence}" is documented in the module',
                     "choices": [choices[i] for i in order],
                     "answer": int(np.flatnonzero(order == 0)[0])})
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(path + ".tmp", path)


class Split(Filter):
    """Keeps the training part (``held_out=False``) or the held-out part of a source, by a hash
    of the document id (drop reason ``other_split``)."""

    requires = ("id",)

    def __init__(self, held_out: bool, fraction: float = HELD_OUT, **options):
        super().__init__(**options)
        self.held_out, self.fraction = held_out, fraction

    def reasons(self, batch: pa.Table) -> pa.Array:
        u = xxh3_64_column(batch.column("id").combine_chunks()) / float(2**64)
        other = (u < self.fraction) != self.held_out
        return pc.if_else(pa.array(other), "other_split", pa.nulls(len(u), pa.string()))


pipeline = Pipeline("microanneal", workdir=os.path.join(WORKDIR, "work"), seed=0)
TARGET = param("anneal_target", "", "the target source: files, a directory or a glob (default: "
               "the Python docs)")
WEB = param("web_input", "", "the web source (default: a generated synthetic crawl)")
target_path = TARGET or python_docs(pipeline)
web_path = WEB or os.path.join(synthetic_web(pipeline), "docs")
tok = tokenizer(pipeline, python_docs(pipeline))

target = pipeline.source(read(target_path, source="target"), name="target")
web = pipeline.source(read(web_path, source="web", on_error="quarantine"), name="web")
web = web >> LanguageID(keep=["en"]) >> GopherRepetition() >> GopherQuality()
for name, docs in (("target", target), ("web", web)):
    for part, held in (("train", False), ("heldout", True)):
        split = pipeline.add(Split(held), inputs=[docs], name=f"{name}_{part}")
        pipeline.sink(split >> Tokenize(tok, name=f"{name}_{part}_tokens"),
                      os.path.join(WORKDIR, "data", f"{name}-{part}"))


def main() -> None:
    from train.anneal import microanneal
    from train.config import StageConfig, TrainConfig
    from train.model import ModelConfig
    from train.trainer import Trainer

    pipeline.run("local")
    data = {k: os.path.join(WORKDIR, "data", k)
            for k in ("target-train", "target-heldout", "web-train", "web-heldout")}
    checkpoint = param("anneal_checkpoint", "", "a base checkpoint (default: train one)")
    if not checkpoint:
        base_steps = param("base_steps", 200, "steps of the base model")
        cfg = TrainConfig(ModelConfig(vocab_size=8192, dim=128, n_layers=4, n_heads=4,
                                      n_kv_heads=2, max_seq_len=256),
                          [StageConfig("base", {"web": data["web-train"]}, base_steps,
                                       seq_len=256, warmup_steps=20)],
                          out_dir=os.path.join(WORKDIR, "base"), batch_rows=8,
                          cache_dir=os.path.join(WORKDIR, "cache"))
        Trainer(cfg).fit()
        checkpoint = os.path.join(WORKDIR, "base", "checkpoints", f"ckpt-{base_steps:07d}")
    tasks = param("anneal_tasks", "", "downstream task files, comma-separated (default: a "
                  "quiz on the Python docs when they are the target)")
    tasks = tasks.split(",") if tasks else []
    if not tasks and not TARGET:
        tasks = [os.path.join(WORKDIR, "data", "docs_quiz.jsonl")]
        build_docs_quiz(target_path, tasks[0])
    report = microanneal(checkpoint, data["target-train"], data["web-train"],
                         {"target": data["target-heldout"], "web": data["web-heldout"]},
                         param("anneal_steps", 60, "steps of each anneal arm"),
                         os.path.join(WORKDIR, "anneal"), tasks=tasks, tokenizer=tok)
    for domain, r in report["domains"].items():
        print(f"{domain}: BPB {r['before']:.4f} -> target+web {r['target+web']:.4f}, "
              f"web {r['web']:.4f}, delta {r['delta']:+.4f}")
    for task, r in report.get("tasks", {}).items():
        print(f"{task}: acc {r['before']['acc']:.3f} -> target+web "
              f"{r['target+web']['acc']:.3f}, web {r['web']['acc']:.3f}")


if __name__ == "__main__":
    main()
