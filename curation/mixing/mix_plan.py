"""The mix plan: a plain, versionable file saying how often each domain is repeated.

A plan has one entry per domain (``source`` x ``topic`` x ``vigintile``; ``topic`` and
``vigintile`` are null where the data has no such column) with the domain's available tokens,
its **repetition factor** (expected copies of each of its documents in the mix: ``0`` drops
it, ``2.5`` keeps two copies plus a third for half of the documents) and its **token target**
(``available x repetition``). A ``seed`` makes the fractional sampling reproducible.

Files are JSON (``.json``) or YAML (``.yaml``/``.yml``), entries sorted, so plans diff well
under version control. ``fingerprint`` identifies a plan's content (format, seed, entries).
Plans are built from a manifest's domains with per-topic upsampling curves
(``plan_from_curves``) or with per-source repetition from a token allocation
(``plan_from_allocation``), or by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.hashing import fingerprint
from curation.mixing.constrained import Allocation
from curation.mixing.curves import Curve

FORMAT = "curation.mixplan/1"
DomainKey = tuple[str, str | None, int | None]


@dataclass(frozen=True)
class PlanEntry:
    source: str
    topic: str | None
    vigintile: int | None
    tokens: int  # available unique tokens
    repetition: float  # expected copies per document, >= 0

    @property
    def key(self) -> DomainKey:
        return (self.source, self.topic, self.vigintile)

    @property
    def target_tokens(self) -> float:
        return self.tokens * self.repetition


def _sort_key(e: PlanEntry) -> tuple:
    return (e.source, e.topic is not None, e.topic or "", e.vigintile is not None,
            e.vigintile if e.vigintile is not None else -1)


@dataclass(frozen=True)
class MixPlan:
    entries: tuple[PlanEntry, ...]
    seed: int = 0
    notes: dict = field(default_factory=dict)  # free-form provenance (not fingerprinted)

    def __post_init__(self):
        keys = [e.key for e in self.entries]
        if len(set(keys)) != len(keys):
            raise CurationError("mix plan has duplicate domains")
        bad = [e.key for e in self.entries if not e.repetition >= 0]
        if bad:
            raise CurationError(f"mix plan has negative or NaN repetition for {bad}")
        object.__setattr__(self, "entries", tuple(sorted(self.entries, key=_sort_key)))

    def repetition(self) -> dict[DomainKey, float]:
        return {e.key: e.repetition for e in self.entries}

    @property
    def target_tokens(self) -> float:
        return sum(e.target_tokens for e in self.entries)

    @property
    def fingerprint(self) -> str:
        return fingerprint({"format": FORMAT, "seed": self.seed,
                            "entries": [vars(e) for e in self.entries]})

    def to_dict(self) -> dict:
        return {"format": FORMAT, "seed": self.seed, "notes": self.notes,
                "target_tokens": self.target_tokens,
                "entries": [vars(e) | {"target_tokens": e.target_tokens} for e in self.entries]}

    @classmethod
    def from_dict(cls, d: dict) -> MixPlan:
        if d.get("format") != FORMAT:
            raise CurationError(f"not a mix plan: format {d.get('format')!r}, want {FORMAT!r}")
        entries = tuple(
            PlanEntry(e["source"], e.get("topic"), e.get("vigintile"), int(e["tokens"]),
                      float(e["repetition"])) for e in d["entries"])
        return cls(entries, int(d.get("seed", 0)), dict(d.get("notes") or {}))

    def save(self, path: str) -> str:
        """Write the plan (JSON or YAML by extension) atomically."""
        if path.endswith((".yaml", ".yml")):
            import yaml

            blob = yaml.safe_dump(self.to_dict(), sort_keys=False).encode()
        else:
            blob = (json.dumps(self.to_dict(), indent=1) + "\n").encode()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with fs.atomic_output(path) as f:
            f.write(blob)
        return path

    @classmethod
    def load(cls, path: str) -> MixPlan:
        raw = fs.read_bytes(path)
        try:
            if path.endswith((".yaml", ".yml")):
                import yaml

                return cls.from_dict(yaml.safe_load(raw))
            return cls.from_dict(json.loads(raw))
        except (KeyError, TypeError, ValueError) as e:
            raise CurationError(f"{path}: not a valid mix plan ({e})") from None


def _entries(domains: Iterable[dict], rate: Callable[[dict], float]) -> tuple[PlanEntry, ...]:
    return tuple(PlanEntry(d["source"], d.get("topic"), d.get("vigintile"), int(d["tokens"]),
                           float(rate(d))) for d in domains)


def topic_buckets(domains: Iterable[dict], source: str, topic: str | None,
                  n: int = 20) -> list[int]:
    """Tokens per vigintile (0..n-1) of one ``source`` x ``topic`` from manifest domains."""
    out = [0] * n
    for d in domains:
        if d["source"] == source and d.get("topic") == topic:
            out[int(d["vigintile"])] += int(d["tokens"])
    return out


def plan_from_curves(domains: list[dict], curves: dict[tuple[str, str | None], Curve],
                     default: float | None = None, seed: int = 0) -> MixPlan:
    """A plan whose ``(source, topic)`` buckets are repeated at their curve's rates (the
    curve's buckets are the vigintiles); other domains get ``default`` (an error if None)."""
    rates = {k: c.rates() for k, c in curves.items()}

    def rate(d: dict) -> float:
        key = (d["source"], d.get("topic"))
        if key in rates:
            return float(rates[key][int(d["vigintile"])])
        if default is None:
            raise CurationError(f"no upsampling curve for source {key[0]!r}, topic {key[1]!r}")
        return default

    return MixPlan(_entries(domains, rate), seed, {"made_by": "plan_from_curves"})


def plan_from_allocation(domains: list[dict], allocation: Allocation, seed: int = 0) -> MixPlan:
    """A plan repeating every domain of a source (or of a ``source/topic`` when the allocation
    is keyed that way) at the allocation's repetition factor."""
    rep = allocation.repetition

    def rate(d: dict) -> float:
        for key in (f"{d['source']}/{d.get('topic')}", d["source"]):
            if key in rep:
                return rep[key]
        raise CurationError(f"allocation has no entry for source {d['source']!r}")

    return MixPlan(_entries(domains, rate), seed, {"made_by": "plan_from_allocation"})
