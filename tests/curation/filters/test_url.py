"""UrlBlockList: host extraction, subdomains, list format, reasons, tag mode, fingerprint."""

from __future__ import annotations

import pyarrow as pa

from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import UrlBlockList
from curation.filters.url import load_domains

LIST = """# blocked sites
spam.example          # trailing comment
*.Casino.Test.
www.ads.co.uk
"""
URLS = [
    "https://spam.example/page",           # listed
    "http://sub.deep.spam.example:8080/x",  # subdomain, port
    "https://user:pw@casino.test/?q=1",    # userinfo, case and dots normalised in the list
    "https://ads.co.uk/a",                 # three labels
    "https://notspam.example/",            # suffix but not a subdomain
    "https://spam.example.org/",           # listed name inside another domain
    "https://CASINO.TEST./",               # uppercase host, trailing dot
    "spam.example/no-scheme",              # no scheme: no host
    None,
]
BLOCKED = [True, True, True, True, False, False, True, False, False]


def run(stage):
    batch = pa.table({"text": ["t"] * len(URLS), "url": pa.array(URLS, pa.string())})
    ctx = BatchContext(seed=0, shard=0, stats=StageStats(), keep_rejects=True)
    return stage.process(batch, ctx), ctx


def test_list_format(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text(LIST)
    assert load_domains(path) == {"spam.example", "casino.test", "ads.co.uk"}


def test_blocks_listed_domains_and_subdomains(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text(LIST)
    out, ctx = run(UrlBlockList(path))
    assert out.column("url").to_pylist() == [u for u, b in zip(URLS, BLOCKED, strict=True)
                                             if not b]
    assert ctx.stats.dropped == {"blocked_domain": sum(BLOCKED)}


def test_tag_mode_and_fingerprint(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text(LIST)
    stage = UrlBlockList(path, mode="tag")
    out, ctx = run(stage)
    assert out.column("url").to_pylist() == URLS
    assert [r is not None for r in out.column("url_block_list_reason").to_pylist()] == BLOCKED
    assert not ctx.stats.dropped
    path.write_text(LIST + "other.test\n")
    assert UrlBlockList(path).config()["domains_digest"] != stage.config()["domains_digest"]


def test_empty_batch(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text(LIST)
    batch = pa.table({"text": pa.array([], pa.string()), "url": pa.array([], pa.string())})
    assert UrlBlockList(path).reasons(batch).to_pylist() == []
