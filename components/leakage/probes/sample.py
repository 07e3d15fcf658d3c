"""Gold sentences for the probes: loading, a seeded sample, and the language's name for prompts."""
import logging
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ...data.corpus import LANGUAGES, load_docs
from ...data.docs import doc_tags

logger = logging.getLogger(__name__)

Sentence = Tuple[Sequence[str], Sequence[str]]  # (tokens, IOB2 tags)
DATASET = "MasakhaNER 2.0"


def load_sentences(path: Union[str, Path]) -> List[Tuple[List[str], List[str]]]:
    """``(tokens, tags)`` of every sentence in a gold corpus (.spacy, Prodigy .jsonl or CoNLL)."""
    return [([t.text for t in doc], doc_tags(doc)) for doc in load_docs(path)]


def language_name(lang: str) -> str:
    """The language's English name for prompts (``tsn`` -> ``Setswana``); unknown codes are used as given."""
    return LANGUAGES.get(lang, lang)


def sample_indices(sentences: Sequence[Sentence], n: int, rng: np.random.Generator,
                   eligible: Optional[Callable[[Sentence], bool]] = None) -> List[int]:
    """The first ``n`` eligible sentences in a seeded random order (``rng.permutation``): a uniform sample.

    Fewer than ``n`` eligible sentences: all of them, with a warning, so a probe can still run on a small
    language; the result's ``n`` says how many were asked.
    """
    if n < 1:
        raise ValueError(f"the sample size must be at least 1, got {n}")
    chosen: List[int] = []
    for index in rng.permutation(len(sentences)):
        if eligible is None or eligible(sentences[int(index)]):
            chosen.append(int(index))
            if len(chosen) == n:
                return chosen
    if not chosen:
        raise ValueError(f"none of the {len(sentences)} sentences is eligible for this probe")
    logger.warning("only %d of %d sentences are eligible; using all of them instead of %d",
                   len(chosen), len(sentences), n)
    return chosen


def valid_sentence(sentence: Sentence) -> bool:
    """Tokens and tags of equal, non-zero length, no token empty or spanning lines."""
    tokens, tags = sentence
    return 0 < len(tokens) == len(tags) and all(t.strip() and "\n" not in t for t in tokens)
