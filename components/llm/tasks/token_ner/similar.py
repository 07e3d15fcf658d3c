"""k-shot examples chosen per request: the labelled sentences most similar to the ones being asked about.

A fixed pair of examples shows every sentence the same two contexts; neighbours
chosen per request show the annotator how names that look like the ones in front
of it were tagged (KATE: Liu et al., 2022, "What Makes Good In-Context Examples
for GPT-3?", DeeLIO, which retrieves the nearest training sentences and puts the
closest last, next to the query; we do the same).

Similarity is the cosine of character 2-4-gram TF-IDF vectors (scikit-learn's
``TfidfVectorizer(analyzer="char_wb")``) fitted on the example pool. Character
n-grams match names under the affixes of agglutinative languages ("NFP" in
"weNFP", "Gaborone" in "kwaGaborone") where whole-word overlap (rapidfuzz's token
ratios) finds nothing, and IDF weights keep frequent function words ("ka", "le")
from deciding. It needs no model download and is deterministic.

A request of several sentences gets its examples round-robin: each sentence's
nearest neighbour in turn, then each one's second, ..., duplicates skipped, ``k``
in all, so a pair about two different topics gets examples for both (a summed
score would let the longer sentence take every slot).

The request's own sentences are never examples (tokens compared in NFC): the
loop's audit asks the annotator about seed sentences, and it must not be shown
its answer. Like ``spacy-llm-loop.TokenNERExamples.v1``, a pool from the test
split is refused.
"""
import unicodedata
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy
from sklearn.feature_extraction.text import TfidfVectorizer
from spacy.util import registry

from ....data.docs import doc_tags
from .examples import Example, load_example_docs

Ranked = List[Tuple[int, float]]  # (index into the pool, similarity)
SCORE_DECIMALS = 9  # scores equal to this precision are ties, broken by file order


@registry.misc("spacy-llm-loop.SimilarExamples.v1")
def make_similar_examples(path: Optional[str] = None, k: int = 4, include_empty: bool = True) -> "SimilarExamples":
    """The ``k`` sentences of ``path`` (.spacy, Prodigy .jsonl or CoNLL) most like each request's; ``path = null``
    means zero-shot. ``include_empty``: one of the ``k`` is always a sentence without entities (when the pool has
    one), so the annotator sees that "no entity" is an answer."""
    return SimilarExamples(path, k, include_empty)


class SimilarExamples:
    """An examples source that selects per request (:meth:`select`); read and fitted once, at construction."""

    def __init__(self, path: Optional[Union[str, Path]], k: int = 4, include_empty: bool = True) -> None:
        if k < 0:
            raise ValueError(f"k must be at least 0, got {k}")
        self.k = k
        self.include_empty = include_empty
        docs = load_example_docs(path) if path is not None and k > 0 else []
        self.pool: List[Example] = [{"tokens": [t.text for t in doc], "tags": doc_tags(doc)} for doc in docs]
        self._keys = [_key(eg["tokens"]) for eg in self.pool]
        self._vectorizer: Optional[TfidfVectorizer] = None
        self._matrix: Any = None
        if self.pool:
            self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True)
            self._matrix = self._vectorizer.fit_transform([_text(eg["tokens"]) for eg in self.pool])
        self.last_scores: Ranked = []  # the (index, similarity) of the last selection, for logs and tests

    def __call__(self) -> List[Example]:
        """No fixed examples: every prompt gets its own (see :meth:`select`)."""
        return []

    def select(self, sentences: Sequence[Sequence[str]]) -> List[Example]:
        """The examples for one request over ``sentences`` (token lists), least similar first."""
        if not self.pool or self.k <= 0:
            self.last_scores = []
            return []
        exclude = {_key(words) for words in sentences}
        rankings = [rank(self.similarities(words), self._keys, exclude) for words in sentences]
        empty = [i for i, eg in enumerate(self.pool) if all(tag == "O" for tag in eg["tags"])]
        chosen = choose(rankings, self.k, set(empty) if self.include_empty else set())
        self.last_scores = chosen
        return [self.pool[i] for i, _ in reversed(chosen)]  # the closest last, next to the sentences asked about

    def similarities(self, words: Sequence[str]) -> numpy.ndarray:
        """Cosine similarity of ``words`` to every pool sentence (TF-IDF rows are L2-normalised: a dot product)."""
        assert self._vectorizer is not None
        query = self._vectorizer.transform([_text(words)])
        return numpy.asarray((self._matrix @ query.T).todense()).ravel()


def rank(scores: Iterable[float], keys: Sequence[Tuple[str, ...]], exclude: Set[Tuple[str, ...]]) -> Ranked:
    """Pool indices by falling similarity, ties in file order, leaving out the sentences in ``exclude``."""
    kept = [(i, round(float(s), SCORE_DECIMALS)) for i, s in enumerate(scores) if keys[i] not in exclude]
    return sorted(kept, key=lambda pair: (-pair[1], pair[0]))


def choose(rankings: Sequence[Ranked], k: int, empty: Set[int]) -> Ranked:
    """``k`` picks, round-robin over the sentences' rankings, duplicates skipped, best first. With ``empty`` (the
    indices of entity-free sentences) non-empty, the last pick is the best-ranked of them unless one is in already."""
    chosen: Ranked = []
    seen: Set[int] = set()
    for depth in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if depth < len(ranking) and ranking[depth][0] not in seen and len(chosen) < k:
                chosen.append(ranking[depth])
                seen.add(ranking[depth][0])
    if empty and chosen and not seen & empty:
        candidates = [pair for ranking in rankings for pair in ranking if pair[0] in empty]
        if candidates:
            chosen[-1] = min(candidates, key=lambda pair: (-pair[1], pair[0]))
    return chosen


def _key(words: Sequence[str]) -> Tuple[str, ...]:
    return tuple(unicodedata.normalize("NFC", w).strip() for w in words)


def _text(words: Sequence[str]) -> str:
    return unicodedata.normalize("NFC", " ".join(words))
