"""The one interface every query strategy implements, and the pure selection function they share.

Contract (checked by one test suite over all strategies, after small-text's):
indices are unique and point into the pool; an excluded (already labelled or
already requested) index is never returned; an empty pool raises; the
:class:`Selection` exposes the score behind every choice and the scores of the
whole pool, so logs explain each choice.
"""
import math
import re
from dataclasses import dataclass, field
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Union,
    runtime_checkable,
)

import numpy as np
from spacy.tokens import Doc

Unit = Literal["count", "fraction", "tokens"]


@dataclass(frozen=True)
class QuerySize:
    """How much to query per round: a ``count`` of sentences, a ``fraction`` of the pool, or a ``tokens`` budget.

    A fraction is of ``reference_size`` (the loop passes the size of the initial
    pool, so every round asks for the same number, as in arXiv 2404.02261).
    """

    value: float
    unit: Unit = "count"

    def __post_init__(self) -> None:
        if self.unit not in ("count", "fraction", "tokens"):
            raise ValueError(f"Unknown query-size unit '{self.unit}'")
        if self.value <= 0 or (self.unit == "fraction" and self.value > 1):
            raise ValueError(f"Invalid query size {self.value} ({self.unit})")

    @classmethod
    def parse(cls, text: Union[str, int, float]) -> "QuerySize":
        """``"5%"`` or ``"0.05"`` -> fraction, ``"200"`` -> count, ``"4000tok"`` -> token budget."""
        text = str(text).strip().lower()
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(%|tok|tokens)?", text)
        if not match:
            raise ValueError(f"Cannot read query size '{text}' (examples: 5%, 0.05, 200, 4000tok)")
        number, unit = float(match.group(1)), match.group(2)
        if unit == "%":
            return cls(number / 100, "fraction")
        if unit in ("tok", "tokens"):
            return cls(number, "tokens")
        return cls(number, "fraction") if number < 1 else cls(int(number), "count")

    def n_items(self, reference_size: int) -> Optional[int]:
        """The number of sentences to pick, or ``None`` for a token budget."""
        if self.unit == "tokens":
            return None
        if self.unit == "fraction":
            return max(1, math.ceil(self.value * reference_size))
        return int(self.value)

    def __str__(self) -> str:
        return {"count": f"{int(self.value)}", "fraction": f"{self.value:.1%}",
                "tokens": f"{int(self.value)}tok"}[self.unit]


@dataclass
class Selection:
    """What a strategy chose: pool indices in order of choice, with the score behind each."""

    indices: List[int]
    scores: List[float]
    strategy: str
    pool_scores: List[float] = field(default_factory=list)


class Strategy(Protocol):
    """A query strategy: picks pool indices from docs the learner has processed."""

    name: str
    needs_model: bool

    def __call__(self, pool: Sequence[Doc], size: QuerySize, *, exclude: AbstractSet[int] = frozenset(),
                 reference_size: Optional[int] = None, seed: int = 0) -> Selection:
        ...


@runtime_checkable
class SelectsFromScores(Protocol):
    """A strategy whose choice needs the round's saved scores and nothing else of the Docs: it can choose from a
    pool too large to hold, reading the score records one by one (``scores.jsonl``, in pool order; ignored by a
    strategy that needs no model), the lengths (for a token budget) and, to spread its choice over the learner's
    sentence space, ``vectors``: the rows of ``vectors.npy`` in the same order, memory-mapped, so only the rows it
    reads are loaded (None when the round has none). Its choice is the one ``__call__`` makes on the same pool."""

    def select_scores(self, records: Iterable[Mapping[str, Any]], lengths: Sequence[int], size: QuerySize, *,
                      reference_size: Optional[int] = None, seed: int = 0,
                      vectors: Optional[np.ndarray] = None) -> Selection:
        ...


@runtime_checkable
class UsesAudit(Protocol):
    """A strategy that reads the annotator's audit on the gold seed (``audit.json``; None without one) before it
    selects, e.g. to weigh uncertainty against the labels the annotator is expected to get wrong."""

    def use_audit(self, audit: Optional[Dict[str, Any]]) -> None:
        ...


def record_scores(records: Iterable[Mapping[str, Any]], lengths: Sequence[int],
                  score: Callable[[int, Mapping[str, Any], int], float]) -> List[float]:
    """``score(i, record, length)`` of each saved record, in pool order; a score file of another pool (more or
    fewer records than the pool's sentences) is refused, not silently cut."""
    scores, n = [], 0
    for i, record in enumerate(records):
        n = i + 1
        if i < len(lengths):
            scores.append(score(i, record, lengths[i]))
    if n != len(lengths):
        raise ValueError(f"{n} score records for a pool of {len(lengths)} sentences")
    return scores


def select_top(scores: Sequence[float], size: QuerySize, *, lengths: Optional[Sequence[int]] = None,
               exclude: AbstractSet[int] = frozenset(), reference_size: Optional[int] = None,
               seed: int = 0) -> List[int]:
    """Indices of the highest scores not in ``exclude``; ties are broken at random (seeded).

    A count is a partial sort (a large pool is not sorted whole; the result is the full sort's first ``n``). For a
    token budget, candidates are taken in score order while they fit in it.
    """
    candidates = [i for i in range(len(scores)) if i not in exclude]
    if not candidates:
        raise ValueError("Cannot select from an empty pool (every sentence is labelled or excluded)")
    values = np.asarray([scores[i] for i in candidates], dtype="float64")
    if np.isnan(values).any():
        raise ValueError(f"NaN score for pool item {candidates[int(np.isnan(values).argmax())]}")
    tiebreak = np.random.default_rng(seed).random(len(candidates))
    n = size.n_items(reference_size if reference_size is not None else len(scores))
    if n is not None and n < len(candidates):  # a partial sort: only what reaches the n-th best score is ordered
        kth = np.partition(-values, n - 1)[n - 1]
        keep = np.flatnonzero(-values <= kth)  # ties with the n-th included, so the tie-break is the full sort's
        return [candidates[j] for j in keep[np.lexsort((tiebreak[keep], -values[keep]))][:n]]
    order = [candidates[j] for j in np.lexsort((tiebreak, -values))]
    if n is not None:
        return order[:n]
    if lengths is None:
        raise ValueError("A token budget needs the sentence lengths")
    return _fill_budget(order, lengths, int(size.value))


def top_selection(name: str, scores: Sequence[float], lengths: Sequence[int], size: QuerySize,
                  exclude: AbstractSet[int], reference_size: Optional[int], seed: int) -> Selection:
    """The :class:`Selection` of the highest ``scores`` (:func:`select_top`), with the whole pool's scores."""
    indices = select_top(scores, size, lengths=lengths, exclude=exclude, reference_size=reference_size, seed=seed)
    return Selection(indices, [scores[i] for i in indices], name, list(scores))


def _fill_budget(order: List[int], lengths: Sequence[int], budget: int) -> List[int]:
    chosen, used = [], 0
    for i in order:
        if used + lengths[i] <= budget:
            chosen.append(i)
            used += lengths[i]
    if not chosen:
        raise ValueError(f"Token budget {budget} is smaller than every sentence in the pool")
    return chosen
