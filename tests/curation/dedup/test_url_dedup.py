"""URL dedup: the normaliser on a table of cases and against a urllib-based reference; the stage
against brute force (a dict of normalised URL -> documents, one keeper each by the policy) on a
generated corpus with planted URL variants over many shards; the same output whatever the
shard order or the number of partitions; documents without a URL kept and counted."""

from __future__ import annotations

import os
import random
import re
from urllib.parse import urlsplit

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl
from keep_policy import keepers

from curation import Pipeline, read
from curation.dedup import UrlDedup
from curation.dedup.url import TRACKING_PARAMS, normalise_urls

TABLE = [
    ("https://example.com/a", "https://example.com/a"),
    ("HTTP://Example.COM/a", "https://example.com/a"),             # scheme, host case; http
    ("https://www.example.com/a", "https://example.com/a"),        # www.
    ("https://WWW.example.com./a", "https://example.com/a"),       # WWW., trailing dot
    ("https://www2.example.com/a", "https://www2.example.com/a"),  # only www.
    ("http://example.com:80/a", "https://example.com/a"),          # default ports
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:443/a", "https://example.com:443/a"),     # not http's default
    ("https://example.com:8080/a", "https://example.com:8080/a"),
    ("https://example.com:/a", "https://example.com/a"),           # empty port
    ("https://example.com/a/", "https://example.com/a"),           # trailing slash
    ("https://example.com/", "https://example.com"),
    ("https://example.com", "https://example.com"),
    ("https://example.com/A/b", "https://example.com/A/b"),        # path keeps its case
    ("https://example.com/a#top", "https://example.com/a"),        # fragment
    ("https://example.com/a/#x?y=1", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),  # sorted
    ("https://example.com/a?a=2&a=1", "https://example.com/a?a=1&a=2"),
    ("https://example.com/a?utm_source=x&id=7&UTM_Medium=y&fbclid=z&gclid=w",
     "https://example.com/a?id=7"),                                # tracking
    ("https://example.com/a?utm_source=x", "https://example.com/a"),
    ("https://example.com/a?", "https://example.com/a"),           # empty query
    ("https://example.com/a?&&x=1&", "https://example.com/a?x=1"),  # empty parameters
    ("https://example.com/a?Q=Value", "https://example.com/a?Q=Value"),  # query keeps case
    ("https://example.com/a?q=", "https://example.com/a?q="),
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),    # encoding as written
    ("  https://example.com/a \n", "https://example.com/a"),       # surrounding whitespace
    ("https://User:Pw@Example.com:443/a", "https://User:Pw@example.com/a"),  # userinfo
    ("http://[2001:DB8::1]:80/a", "https://[2001:db8::1]/a"),      # IPv6 literal
    ("ftp://Files.Example.com:21/x/", "ftp://files.example.com:21/x"),  # other schemes
    ("example.com/page", "example.com/page"),                      # no scheme: as written
    ("mailto:someone@example.com", "mailto:someone@example.com"),
    ("", None), ("   ", None), (None, None),                       # no URL
]


def test_normaliser_table():
    got = normalise_urls(pl.Series([u for u, _ in TABLE], dtype=pl.String)).to_list()
    assert got == [n for _, n in TABLE]


def test_custom_tracking_parameters():
    urls = pl.Series(["https://example.com/a?ref=1&utm_source=2&sessionid=3&x=4"])
    assert normalise_urls(urls, ["ref", "session*"]).to_list() == [
        "https://example.com/a?utm_source=2&x=4"]
    assert normalise_urls(urls, []).to_list() == [
        "https://example.com/a?ref=1&sessionid=3&utm_source=2&x=4"]
    with pytest.raises(ValueError, match="tracking parameter"):
        UrlDedup(tracking_params=["a b"])


def reference(url: str | None, tracking=TRACKING_PARAMS) -> str | None:
    """The normal form with urllib: split, then the documented rules one by one."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url):
        return url
    parts = urlsplit(url)
    host = parts.hostname.rstrip(".").removeprefix("www.")
    host = f"[{host}]" if ":" in host else host
    userinfo = parts.netloc.rpartition("@")[0]
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    exact = {t.lower() for t in tracking if not t.endswith("*")}
    prefixes = tuple(t[:-1].lower() for t in tracking if t.endswith("*"))

    def tracked(param: str) -> bool:
        name = param.split("=")[0].lower()
        return name in exact or name.startswith(prefixes)

    query = "&".join(sorted(p for p in parts.query.split("&") if p and not tracked(p)))
    scheme = "https" if parts.scheme == "http" else parts.scheme
    return (f"{scheme}://{userinfo + '@' if userinfo else ''}{host}{port}"
            f"{parts.path.rstrip('/')}{'?' + query if query else ''}")


def variant(rng: random.Random, host: str, port: str, path: str, params: list[str]) -> str:
    """One of the many ways of writing the page ``host[port]/path?params``."""
    scheme = rng.choice(["http", "https", "HTTP", "Https"])
    if not host.startswith("["):
        host = rng.choice([host, host.upper(), "www." + host, "WWW." + host.title(), host + "."])
    port = port or rng.choice(["", "", {"http": ":80", "https": ":443"}[scheme.lower()]])
    query = params + rng.sample([f"utm_source=s{rng.randint(0, 9)}", "utm_medium=email",
                                 f"fbclid=IwAR{rng.randint(0, 10**6)}", "gclid=abc", "", ""],
                                rng.randint(0, 3))
    rng.shuffle(query)
    fragment = rng.choice(["", "", "#top", "#section-2"])
    space = rng.choice(["", "", " ", "\n"])
    slash = rng.choice(["", "/"])
    q = "?" + "&".join(query) if query or rng.random() < 0.1 else ""
    return f"{space}{scheme}://{host}{port}{path}{slash}{q}{fragment}{space}"


def planted(n_docs: int, seed: int) -> list[dict]:
    """Documents whose URLs are variants of a few dozen pages, among them pages that differ
    only where the normal form keeps a difference (path case, a parameter's value, a port, a
    scheme other than http(s), ``www2.``), and documents without a URL."""
    rng = random.Random(seed)
    hosts = ["example.com", "news.example.org", "Blog.Example.net", "www2.example.com",
             "[2001:db8::1]"]
    pages = []
    for i in range(30):
        host, path = rng.choice(hosts), rng.choice(["", "/news", "/a/b", f"/p/{i}", "/A/b"])
        params = rng.sample(["id=7", "id=8", "page=2", "q=Hello", "q=hello", "lang=en"],
                            rng.randint(0, 2))
        pages.append((host, "", path, params))
    pages.append(("example.com", ":8080", "/news", []))
    docs = []
    for i in range(n_docs):
        r = rng.random()
        if r < 0.05:
            url = rng.choice([None, "", "  "])
        elif r < 0.08:
            url = rng.choice(["ftp://example.com/news", "example.com/news"])
        else:
            url = variant(rng, *rng.choice(pages))
        day = f"2024-0{rng.randint(1, 3)}-0{rng.randint(1, 9)}T00:00:00Z"
        created = None if rng.random() < 0.2 else day
        docs.append({"id": f"d{rng.randint(0, 10**6):07d}-{i}", "text": f"text {i}",
                     "url": url, "created": created})
    return docs


def brute_force(docs: list[dict], keep: str) -> set[str]:
    groups: dict[str, list[dict]] = {}
    without = set()
    for d in docs:
        normal = reference(d["url"])
        if normal is None:
            without.add(d["id"])
        else:
            groups.setdefault(normal, []).append(d)
    return keepers(groups, keep) | without


def run(tmp_path, docs, shards: int = 7, order: list[int] | None = None, **options):
    """The stage over ``docs`` dealt to ``shards`` files, read in ``order`` of the deals."""
    os.makedirs(tmp_path / "in")
    for name, k in enumerate(order or range(shards)):
        write_jsonl(tmp_path / "in" / f"{name:02d}.jsonl", docs[k::shards])
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "in"), source="s")) >> UrlDedup(**options),
           str(tmp_path / "o"))
    result = p.run(progress=False)
    out = pa.concat_tables(pq.read_table(f) for f in sorted(result.outputs["sink"]))
    return out, result.stats["url_dedup"]


def test_generated_urls_normalise_like_urllib():
    urls = [d["url"] for d in planted(1500, seed=4)]
    assert normalise_urls(pl.Series(urls, dtype=pl.String)).to_list() == list(map(reference, urls))


def test_keeps_one_document_per_normalised_url_like_brute_force(tmp_path):
    docs = planted(600, seed=1)
    for keep in ("newest", "oldest", "smallest_id"):
        out, stats = run(tmp_path / keep, docs, keep=keep, partitions=5)
        kept = set(out.column("id").to_pylist())
        assert kept == brute_force(docs, keep)
        assert stats.dropped == {"url_duplicate": len(docs) - len(kept)}
        assert stats.counts == {"no_url": sum(reference(d["url"]) is None for d in docs)}
    assert 60 < len(kept) < 200  # the planted variants did collapse, the near pages did not


def test_same_output_whatever_the_shard_order_or_the_partitions(tmp_path):
    docs = planted(400, seed=2)
    base, _ = run(tmp_path / "base", docs, partitions=16)
    for k, partitions in enumerate([1, 3]):
        out, _ = run(tmp_path / f"p{k}", docs, partitions=partitions)
        assert out.equals(base)
    shuffled, _ = run(tmp_path / "order", docs, order=[3, 6, 0, 5, 1, 4, 2], partitions=4)
    assert sorted(shuffled.column("id").to_pylist()) == sorted(base.column("id").to_pylist())


def test_mark_mode_points_to_the_keeper(tmp_path):
    docs = planted(200, seed=3)
    out, stats = run(tmp_path, docs, mode="mark", shards=3)
    assert out.num_rows == len(docs) and not stats.dropped
    keepers_ = brute_force(docs, "newest")
    by_id = {d["id"]: d for d in docs}
    for doc_id, dup_of in zip(out.column("id").to_pylist(), out.column("url_dup_of").to_pylist(),
                              strict=True):
        if doc_id in keepers_:
            assert dup_of is None
        else:
            assert dup_of in keepers_
            assert reference(by_id[dup_of]["url"]) == reference(by_id[doc_id]["url"])
