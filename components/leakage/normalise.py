"""Text normalisation and character shingles for duplicate detection.

Two sentences are compared on their *normalised* text:

1. Unicode NFC, so a letter written precomposed or as base + combining mark is one string;
2. ``str.casefold()`` (then NFC again, as case folding can decompose, e.g. ``ǰ``);
3. every punctuation character (Unicode categories ``P*``) deleted: MasakhaNER is tokenised
   with punctuation as separate tokens, so ``Gaborone , Botswana .`` and ``Gaborone Botswana``
   are the same sentence, and an apostrophe inside a word (``Ghomálá'``) does not split it;
4. runs of whitespace collapsed to one space, and the ends stripped.

Diacritics (tone marks in Yorùbá, Bambara ...) and digits are kept: they distinguish words.
Modifier letters such as ``ʼ`` (U+02BC, category ``Lm``) are letters, not punctuation, and are kept.
"""
import re
import unicodedata
from typing import AbstractSet, FrozenSet

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` in NFC, case-folded, without punctuation and with whitespace collapsed (see module docstring)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("P"))
    return _SPACES.sub(" ", kept).strip()


def shingles(normalised: str, size: int = 5) -> FrozenSet[str]:
    """The set of character ``size``-grams of an already normalised text (spaces included).

    A text shorter than ``size`` is one shingle, itself; an empty text has none.
    """
    if size < 1:
        raise ValueError(f"shingle size must be at least 1, got {size}")
    if len(normalised) <= size:
        return frozenset([normalised]) if normalised else frozenset()
    return frozenset(normalised[i:i + size] for i in range(len(normalised) - size + 1))


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """``|a & b| / |a | b|``; 0.0 when both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0
