"""Real text in English, German, French, Spanish, Russian, Chinese and Japanese from the
translated message catalogs the machine ships.

Source: the compiled gettext catalogs of the Debian packages installed on the machine,
``/usr/share/locale/<locale>/LC_MESSAGES/<domain>.mo`` (coreutils, git, bash, PostgreSQL,
GnuPG, GTK, apt, dpkg...: their translators' work, under each package's licence), read with
Python's ``gettext``. A language's text is the translations (``msgstr``) of its locale
(``de``, ``fr``, ``es``, ``ru``, ``zh_CN``, ``ja``); English is the source strings
(``msgid``) of the German catalogs. Catalogs that are name lists (``iso_*``, keyboard
layouts) are left out, and so is every translation equal to its source string (left
untranslated: not text in the language).

Documents: per catalog (domains in name order), the messages in the catalog's order (sorted by
source string) joined by ``"\\n"`` and cut into documents of ``MIN_CHARS`` to ``MAX_CHARS``
characters, each document's length target drawn from an xxh3 hash of its id; a shorter tail
goes with the catalog's last document. Deterministic: same installed packages, same
documents. Measured on this project's machine (Debian 13, python kind): 0.9 M (Chinese) to 3 M
(French) characters of text per language, 2,100 documents (Chinese) to 6,900 (English).
"""

from __future__ import annotations

import functools
import gettext
import os

import xxhash

LOCALE_DIR = "/usr/share/locale"
LOCALES = {"en": "de", "de": "de", "fr": "fr", "es": "es", "ru": "ru", "zh": "zh_CN",
           "ja": "ja"}  # English: the source strings of the German catalogs
SKIPPED_DOMAINS = ("iso_", "xkeyboard-config")
MIN_CHARS = 400
MAX_CHARS = 4000


def _catalogs(locale: str) -> list[str]:
    """The catalogs of ``locale``, by domain name."""
    folder = os.path.join(LOCALE_DIR, locale, "LC_MESSAGES")
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.endswith(".mo") and not n.startswith(SKIPPED_DOMAINS)]


def _messages(path: str, source: bool) -> list[str]:
    """A catalog's translated messages (or their source strings) in its order."""
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for key, text in catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not msgid or not isinstance(text, str) or not text.strip() or text == msgid:
            continue
        if isinstance(key, tuple) and key[1] > 0:
            continue  # further plural forms of a message already taken
        out.append(msgid if source else text)
    return out


@functools.cache
def documents(language: str) -> tuple[dict[str, str], ...]:
    """The documents of ``language`` (one of ``LOCALES``): ``id`` (``<lang>/<domain>/<k>``),
    ``text``, ``lang``. Empty where the machine ships no catalogs for it."""
    locale = LOCALES[language]
    out: list[dict[str, str]] = []
    for path in _catalogs(locale):
        domain = os.path.basename(path)[: -len(".mo")]
        messages = _messages(path, source=language == "en")
        docs: list[str] = []
        current: list[str] = []
        size = 0
        for message in messages:
            current.append(message)
            size += len(message) + 1
            doc_id = f"{language}/{domain}/{len(docs)}"
            target = MIN_CHARS + xxhash.xxh3_64_intdigest(doc_id.encode()) % (
                MAX_CHARS - MIN_CHARS)
            if size >= target:
                docs.append("\n".join(current))
                current, size = [], 0
        if current:
            if docs and size < MIN_CHARS:
                docs[-1] += "\n" + "\n".join(current)
            else:
                docs.append("\n".join(current))
        out += [{"id": f"{language}/{domain}/{k}", "text": t, "lang": language}
                for k, t in enumerate(docs)]
    return tuple(out)


def spread(language: str, n: int) -> tuple[dict[str, str], ...]:
    """``n`` documents of ``language`` spread over all of them (every k-th, in order)."""
    docs = documents(language)
    step = max(1, len(docs) // n) if n else 1
    return docs[::step][:n]


def sample(language: str, n: int) -> list[str]:
    """The texts of ``spread(language, n)``."""
    return [d["text"] for d in spread(language, n)]


def build_multilingual_corpus(out_dir: str, per_language: int = 300) -> list[str]:
    """Write ``multilingual-<lang>.jsonl.zst`` to ``out_dir``, ``per_language`` documents of
    each language (``sample``'s spread; ``id``, ``text``, and ``source_lang``, the catalog's
    language, for checking language ID); returns the paths. Complete files are kept."""
    import json

    import zstandard

    paths = []
    for language in LOCALES:
        path = os.path.join(out_dir, f"multilingual-{language}.jsonl.zst")
        paths.append(path)
        if os.path.exists(path):
            continue
        lines = [json.dumps({"id": d["id"], "text": d["text"], "source_lang": language},
                            ensure_ascii=False) + "\n" for d in spread(language, per_language)]
        os.makedirs(out_dir, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(zstandard.ZstdCompressor(level=10).compress("".join(lines).encode()))
        os.replace(path + ".tmp", path)
    return paths
