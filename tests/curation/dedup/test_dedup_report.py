"""The dedup report: funnel per source, clusters and removed substrings, against brute force."""

from __future__ import annotations

import collections

from corpora import write_jsonl

from curation import Pipeline, read
from curation.cli import main
from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup
from curation.dedup.report import dedup_report

BOILER = ("This page is part of the example network. Terms of use apply to every article, "
          "and every reader accepts them by scrolling further down the page. ") * 6


def docs(prefix: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        body = " ".join(f"{prefix}{i}w{k}" for k in range(60))
        text = body + (" " + BOILER if i % 4 == 0 else "")
        out.append({"id": f"{prefix}-{i:03d}", "text": text})
        if i % 5 == 0:  # an exact copy under another id
            out.append({"id": f"{prefix}-{i:03d}-copy", "text": text})
        if i % 7 == 3:  # a near copy: one word of sixty changed
            out.append({"id": f"{prefix}-{i:03d}-near", "text": text.replace("w5 ", "w5x ", 1)})
    return out


def test_report_matches_brute_force(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    corpus = {"web": docs("web", 40), "blog": docs("blog", 20)}
    for name, rows in corpus.items():
        write_jsonl(tmp_path / "in" / f"{name}.jsonl", rows)
    p = Pipeline("r", str(tmp_path / "w"))
    web = p.source(read(str(tmp_path / "in" / "web.jsonl"), source="web"))
    blog = p.source(read(str(tmp_path / "in" / "blog.jsonl"), source="blog"))
    p.sink(p.union(web, blog) >> ExactDedup(partitions=2) >> MinHashDedup(partitions=2)
           >> SubstringDedup(min_bytes=200), str(tmp_path / "o"))
    p.run(progress=False)
    report = dedup_report(str(tmp_path / "w"))
    steps = {s["kind"]: s for s in report["steps"]}
    assert list(steps) == ["exact", "minhash", "substring"]

    exact = steps["exact"]
    texts = collections.Counter(d["text"] for rows in corpus.values() for d in rows)
    assert exact["docs"] == [sum(texts.values()), len(texts)]
    for source, rows in corpus.items():
        unique = len({d["text"] for d in rows})
        assert exact["sources"][source]["docs"] == [len(rows), unique]
    assert sorted(c["size"] for c in exact["largest_clusters"]) == sorted(
        n for n in texts.values() if n > 1)[-10:]
    minhash = steps["minhash"]
    near = sum(1 for rows in corpus.values() for d in rows if d["id"].endswith("-near"))
    assert minhash["docs"][0] - minhash["docs"][1] == near
    assert all(c["size"] == 2 for c in minhash["largest_clusters"])

    substring = steps["substring"]
    top = substring["top_substrings"][0]
    # the longest repeat is the boilerplate with the word before it ("...w59 This page...")
    assert "This page is part of the example network" in top["text"]
    assert top["length"] >= len(BOILER.strip())
    # spans differ in where the repeat starts (the words before it), so count them together
    cuts = sum(t["times"] for t in substring["top_substrings"]
               if "This page is part of the example network" in t["text"])
    boiler_docs = sum(1 for t in texts if BOILER in t)
    assert boiler_docs // 2 <= cuts < boiler_docs  # every copy but the first one is cut

    assert main(["dedup", "report", str(tmp_path / "w")]) == 0
    assert "substring_dedup (substring)" in capsys.readouterr().out


def test_report_after_a_rerun_with_fewer_shards(tmp_path):
    """A rerun in the same work dir on fewer input files leaves the first run's task records of
    the higher shard indices behind (their outputs are removed): the report counts the last run
    only (brute force: distinct texts of the remaining files)."""
    (tmp_path / "in").mkdir()
    rows = [{"id": f"d{i:02d}", "text": f"text number {i % 7} with a few more words in it"}
            for i in range(30)]
    for k in range(3):
        write_jsonl(tmp_path / "in" / f"{k}.jsonl", rows[k::3])

    def run() -> dict:
        p = Pipeline("r", str(tmp_path / "w"))
        p.sink(p.source(read(str(tmp_path / "in"), source="web")) >> ExactDedup(partitions=2)
               >> MinHashDedup(partitions=2), str(tmp_path / "o"))
        p.run(progress=False)
        return {s["kind"]: s for s in dedup_report(str(tmp_path / "w"))["steps"]}

    assert run()["exact"]["sources"]["web"]["docs"] == [30, 7]
    (tmp_path / "in" / "2.jsonl").unlink()
    left = rows[0::3] + rows[1::3]
    steps = run()
    distinct = len({d["text"] for d in left})
    assert steps["exact"]["docs"] == [len(left), distinct]
    assert steps["exact"]["sources"]["web"]["docs"] == [len(left), distinct]
    assert steps["minhash"]["sources"]["web"]["docs"] == [distinct, distinct]


def test_steps_that_removed_nothing_are_reported(tmp_path):
    """A dedup step without a single duplicate writes no decision file; it still belongs in the
    funnel (documents and bytes in = out), like a MinHash step without clusters."""
    (tmp_path / "in").mkdir()
    rows = [{"id": f"d{i:02d}", "text": f"document {i} " + " ".join(f"w{i}x{k}" for k in range(9))}
            for i in range(12)]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows)
    p = Pipeline("r", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "in"), source="web")) >> ExactDedup(partitions=2)
           >> MinHashDedup(partitions=2) >> SubstringDedup(min_bytes=50), str(tmp_path / "o"))
    p.run(progress=False)
    steps = dedup_report(str(tmp_path / "w"))["steps"]
    assert [s["kind"] for s in steps] == ["exact", "minhash", "substring"]
    nbytes = sum(len(d["text"].encode()) for d in rows)
    for s in steps:
        assert s["docs"] == [len(rows), len(rows)] and s["bytes"] == [nbytes, nbytes]
        assert s["sources"] == {"web": {"docs": [len(rows)] * 2, "bytes": [nbytes] * 2}}
        assert s.get("largest_clusters", []) == [] and s.get("top_substrings", []) == []
