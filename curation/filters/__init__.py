"""Heuristic quality filters: each a thin ``Filter`` subclass over Arrow batches, named for what
it judges (``DocumentLength``, ``C4Quality``, ``GopherRepetition``...), and ``MaskPII``, a map
stage that masks e-mail addresses, IP addresses and phone numbers. ``LengthFilter`` and
``C4Filter`` are the deprecated former names."""

from curation.filters.c4 import C4Filter as C4Filter  # deprecated name
from curation.filters.c4 import C4Quality
from curation.filters.compressibility import Compressibility
from curation.filters.fineweb import FineWebQuality
from curation.filters.gopher import GopherQuality, GopherRepetition
from curation.filters.langid import LanguageID
from curation.filters.length import DocumentLength
from curation.filters.length import LengthFilter as LengthFilter  # deprecated name
from curation.filters.pii import MaskPII
from curation.filters.url import UrlBlockList

__all__ = ["C4Quality", "Compressibility", "DocumentLength", "FineWebQuality", "GopherQuality",
           "GopherRepetition", "LanguageID", "MaskPII", "UrlBlockList"]
