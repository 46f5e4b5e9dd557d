"""URL block list: drops documents whose URL host is a listed domain or a subdomain of one.

The list is a text file, one domain a line (``example.com``; ``#`` starts a comment; a
leading ``*.`` or ``www.`` and a trailing dot are ignored; case-insensitive). The host is
taken from ``scheme://[user@]host[:port]/...``; a URL without a scheme, or a null URL, has no
host and is kept. Matching is vectorised: for each label count present in the list, the
host's last that many labels are looked up in the list.
"""

from __future__ import annotations

import os

import polars as pl
import pyarrow as pa
import xxhash

from curation.core.stage import Filter

HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^:/?#]+)"


def normalise_domain(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    for prefix in ("*.", "www."):
        d = d.removeprefix(prefix)
    return d


def load_domains(path: str | os.PathLike) -> frozenset[str]:
    """The domains listed in ``path`` (see the module docstring for the format)."""
    with open(path, encoding="utf-8") as f:
        lines = (line.split("#", 1)[0] for line in f)
        return frozenset(d for d in map(normalise_domain, lines) if d)


class UrlBlockList(Filter):
    """Drops documents whose ``url`` host is in (or under) a domain of ``domains_file``;
    reason ``blocked_domain``. The file's content digest is part of the config, so editing
    the list redoes the stage on resume."""

    requires = ("text", "url")

    def __init__(self, domains_file: str | os.PathLike, **options):
        super().__init__(**options)
        self.domains_file = os.fspath(domains_file)
        with open(self.domains_file, "rb") as f:
            self.domains_digest = xxhash.xxh3_128_hexdigest(f.read())
        self._domains = load_domains(self.domains_file)

    def reasons(self, batch: pa.Table) -> pa.Array:
        url = batch.column("url")
        urls = pl.Series("url", url.combine_chunks() if isinstance(url, pa.ChunkedArray)
                         else url).cast(pl.String)
        host = (urls.str.extract(HOST, 1).str.to_lowercase().str.strip_chars_end(".")
                .fill_null(""))
        blocked = pl.Series([False] * len(host), dtype=pl.Boolean)
        listed = pl.Series(sorted(self._domains), dtype=pl.String)
        for labels in sorted({d.count(".") + 1 for d in self._domains}):
            tail = host.str.extract(rf"((?:[^.]+\.){{{labels - 1}}}[^.]+)$", 1)
            blocked = blocked | tail.is_in(listed.implode()).fill_null(False)
        reason = pl.select(pl.when(blocked).then(pl.lit("blocked_domain"))
                           .otherwise(pl.lit(None, pl.String))).to_series()
        return reason.to_arrow().cast(pa.string())
