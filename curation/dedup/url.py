"""URL deduplication: one document per normalised URL, as a global stage.

scan:   normalise each ``url`` (``normalise_urls``), hash it (xxh3-128), route (hash, shard, row,
        created, id) to the partition ``hash mod partitions``; documents without a URL (null or
        blank) are not routed;
reduce: per partition, group by hash and keep one document per group by the ``keep`` policy,
        as ``ExactDedup`` does (the same code: ``curation.dedup.keyed``);
apply:  drop the others (reason ``url_duplicate``) or, with ``mode="mark"``, keep every row and
        set ``url_dup_of`` to the keeper's id; documents without a URL are kept and counted
        (stats ``counts``: ``no_url``).

The normal form of ``scheme://[userinfo@]host[:port]/path?query#fragment``: surrounding
whitespace stripped; scheme and host lower-cased; ``http`` written ``https`` (the two are one
page); a leading ``www.`` and a trailing dot of the host removed; the default port (80 for
http, 443 for https) removed; trailing slashes of the path removed (so ``/`` is the empty
path); the fragment removed; query parameters that are empty or tracking ones
(``tracking_params``: names compared case-insensitively, ``utm_*`` a prefix) removed and the
others sorted (as ``name=value`` strings, values untouched). Path and query keep their case
and their percent-encoding as written. A value without ``scheme://`` is compared as written,
stripped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import polars as pl
import pyarrow as pa

from curation.core.stage import BatchContext
from curation.dedup.keyed import KeyedDedup

DUP_OF = "url_dup_of"
TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "ttclid", "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
)
_URL = r"(?s)^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$"
_AUTHORITY = r"(?s)^(?:(.*)@)?(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$"
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-]+\*?")


def _tracking_regex(names: Sequence[str]) -> str:
    """One regex for lower-cased parameter names: the listed names, ``*`` a trailing wildcard."""
    alternatives = [n.lower().replace(".", r"\.").replace("*", ".*") for n in names]
    return "^(?:" + "|".join(alternatives) + ")$" if alternatives else "^$"


def normalise_urls(urls: pl.Series | pa.Array | pa.ChunkedArray,
                   tracking_params: Sequence[str] = TRACKING_PARAMS) -> pl.Series:
    """The normal form of each URL (see the module docstring); null for a null or blank one."""
    if not isinstance(urls, pl.Series):
        urls = pl.Series(urls.combine_chunks() if isinstance(urls, pa.ChunkedArray) else urls)
    tracked = _tracking_regex(tracking_params)
    df = pl.DataFrame({"u": urls.cast(pl.String).str.strip_chars()})  # Unicode White_Space
    df = df.with_columns(pl.col("u").str.extract_groups(_URL).alias("p")).unnest("p")
    df = df.rename({"1": "scheme", "2": "authority", "3": "path", "4": "query"})
    df = df.with_columns(
        pl.col("scheme").str.to_lowercase(),
        pl.col("authority").str.extract_groups(_AUTHORITY).alias("a"),
    ).unnest("a").rename({"1": "userinfo", "2": "host", "3": "port"})
    host = (pl.col("host").str.to_lowercase().str.strip_chars_end(".")
            .str.replace(r"^www\.", ""))
    port, scheme = pl.col("port"), pl.col("scheme")
    default_port = ((port == "") | ((scheme == "http") & (port == "80"))
                    | ((scheme == "https") & (port == "443")))
    name = pl.element().str.split("=").list.first().str.to_lowercase()
    query = (pl.col("query").fill_null("").str.split("&")
             .list.eval(pl.element().filter((pl.element() != "") & ~name.str.contains(tracked)))
             .list.sort().list.join("&"))
    authority = pl.when(pl.col("host").is_null()).then(pl.col("authority").str.to_lowercase()) \
        .otherwise(pl.concat_str(
            pl.when(pl.col("userinfo").is_not_null()).then(pl.col("userinfo") + "@")
            .otherwise(pl.lit("")),
            host,
            pl.when(pl.col("port").is_null() | default_port).then(pl.lit(""))
            .otherwise(":" + pl.col("port"))))
    normal = pl.concat_str(
        pl.when(pl.col("scheme") == "http").then(pl.lit("https")).otherwise(pl.col("scheme")),
        pl.lit("://"), authority, pl.col("path").str.strip_chars_end("/"),
        pl.when(query == "").then(pl.lit("")).otherwise("?" + query))
    out = df.select(
        pl.when(pl.col("u") == "").then(pl.lit(None, pl.String))
        .when(pl.col("scheme").is_null()).then(pl.col("u"))
        .otherwise(normal).alias("url"))
    return out.to_series()


class UrlDedup(KeyedDedup):
    """Keeps one document per normalised ``url`` (see the module docstring): ``keep`` picks it
    (``"newest"`` ``created``, missing dates oldest, ties to the smallest ``id``; ``"oldest"``;
    ``"smallest_id"``), ``mode`` drops the others or marks them (``url_dup_of``),
    ``tracking_params`` lists the query parameters that never tell pages apart."""

    requires = ("id", "url", "created")
    dup_of, reason = DUP_OF, "url_duplicate"

    def __init__(
        self,
        keep: Literal["newest", "oldest", "smallest_id"] = "newest",
        mode: Literal["drop", "mark"] = "drop",
        tracking_params: Sequence[str] = TRACKING_PARAMS,
        partitions: int = 16,
        name: str | None = None,
    ):
        super().__init__(keep, mode, partitions, name)
        bad = [p for p in tracking_params if not _PARAM_NAME.fullmatch(p)]
        if bad:
            raise ValueError(f"tracking parameter names {bad} are not letters, digits, '_', "
                             "'.', '-' with an optional trailing '*'")
        self.tracking_params = list(tracking_params)

    def keys(self, batch: pa.Table) -> pa.Array:
        return normalise_urls(batch.column("url"), self.tracking_params).to_arrow()

    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        url = pl.Series(batch.column("url").combine_chunks()).cast(pl.String)
        no_url = (url.str.strip_chars().fill_null("") == "").sum()
        if no_url:
            ctx.count("no_url", int(no_url))
        return super().apply(batch, offset, decisions, ctx)
