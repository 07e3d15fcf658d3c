"""Uncertain and diverse batches: the most uncertain candidates, spread out over the learner's sentence space.

Top-k by uncertainty picks near-duplicates when a pool repeats names, dates and phrasings (MasakhaNER news
does). :class:`DiverseStrategy` first keeps the ``candidates x k`` most uncertain sentences (the pre-filter of
Zhdanov, "Diverse mini-batch Active Learning", arXiv 1901.05954, 2019), then picks ``k`` of them by greedy
k-center over the learner's own sentence vectors (Sener & Savarese, "Active Learning for Convolutional Neural
Networks: A Core-Set Approach", ICLR 2018): the most uncertain first, then each time the candidate farthest
(cosine distance) from everything chosen so far. The sentence vector is the mean of the learner's ``tok2vec``
output over the sentence's tokens (``doc.tensor``), saved when the pool is scored.
"""
from typing import AbstractSet, Any, Callable, Iterable, List, Mapping, Optional, Sequence

import numpy as np
from spacy.tokens import Doc

from .base import QuerySize, Selection, _fill_budget, record_scores, select_top
from .measure import doc_measure, record_measure

VECTOR_KEY = "sentence_vector"  # doc.user_data key of a pool doc's sentence vector


def sentence_vector(doc: Doc) -> np.ndarray:
    """The mean of ``doc.tensor`` over tokens (zeros for an empty tensor)."""
    tensor = np.asarray(doc.tensor)
    return tensor.mean(axis=0) if tensor.ndim == 2 and tensor.shape[0] else np.zeros(0, dtype="float32")


def k_center(vectors: np.ndarray, k: int) -> List[int]:
    """Greedy k-center on the rows of ``vectors`` (cosine distance): row 0 first, then each time the row whose
    distance to its nearest chosen row is largest (ties: the lower row, i.e. the more uncertain candidate)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    chosen = [0]
    nearest = 1.0 - unit @ unit[0]
    for _ in range(min(k, len(vectors)) - 1):
        nearest[chosen] = -np.inf
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, 1.0 - unit @ unit[pick])
    return chosen


class DiverseStrategy:
    """Uncertainty pre-filter, then greedy k-center (see the module docstring)."""

    needs_model = True

    def __init__(self, name: str, measure: str = "mean_entropy", candidates: float = 10.0) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1 (a multiple of the batch size), got {candidates}")
        self.name, self.measure, self.candidates = name, measure, candidates

    def __call__(self, pool: Sequence[Doc], size: QuerySize, *, exclude: AbstractSet[int] = frozenset(),
                 reference_size: Optional[int] = None, seed: int = 0) -> Selection:
        scores = [doc_measure(doc, i, self.measure) for i, doc in enumerate(pool)]
        return self._choose(scores, [len(doc) for doc in pool], size, lambda i: _vector(pool[i], i), exclude,
                            reference_size, seed)

    def select_scores(self, records: Iterable[Mapping[str, Any]], lengths: Sequence[int], size: QuerySize, *,
                      reference_size: Optional[int] = None, seed: int = 0,
                      vectors: Optional[np.ndarray] = None) -> Selection:
        """The same choice from the saved scores and ``vectors.npy`` (memory-mapped: only the shortlist's rows
        are read), for a pool too large to hold as Docs."""
        scores = record_scores(records, lengths, lambda i, record, _: record_measure(record, i, self.measure))
        if vectors is None or vectors.ndim != 2 or len(vectors) != len(scores) or not vectors.shape[1]:
            raise ValueError(f"strategy '{self.name}' needs the round's sentence vectors (vectors.npy, one row per "
                             f"score record), got {None if vectors is None else vectors.shape}: score the pool with "
                             "a learner whose tok2vec sets doc.tensor")
        return self._choose(scores, lengths, size, lambda i: np.asarray(vectors[i], dtype="float32"), frozenset(),
                            reference_size, seed)

    def _choose(self, scores: Sequence[float], lengths: Sequence[int], size: QuerySize,
                vector: Callable[[int], np.ndarray], exclude: AbstractSet[int], reference_size: Optional[int],
                seed: int) -> Selection:
        """The shortlist by uncertainty, then greedy k-center over the shortlist's ``vector(i)``."""
        n = size.n_items(reference_size if reference_size is not None else len(scores))
        if n is None:  # a token budget: about as many sentences as fit at the pool's mean length
            n = max(1, int(size.value / max(1.0, float(np.mean(lengths or [1])))))
        shortlist = select_top(scores, QuerySize(max(n, int(np.ceil(self.candidates * n)))), exclude=exclude,
                               seed=seed)
        k = n if size.unit != "tokens" else len(shortlist)  # greedy k-center is prefix-consistent: stop at n
        order = [shortlist[j] for j in k_center(np.stack([vector(i) for i in shortlist]), k)]
        indices = order[:n] if size.unit != "tokens" else _fill_budget(order, lengths, int(size.value))
        return Selection(indices, [scores[i] for i in indices], self.name, list(scores))


def _vector(doc: Doc, index: int) -> np.ndarray:
    vector = doc.user_data.get(VECTOR_KEY)
    if vector is None or not len(vector):
        raise ValueError(f"Pool item {index} ({doc.text[:40]!r}) has no sentence vector: score the pool with a "
                         "learner whose tok2vec sets doc.tensor (the loop saves vectors.npy beside scores.jsonl)")
    return np.asarray(vector, dtype="float32")
