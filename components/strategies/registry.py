"""The registered strategies (``spacy.registry.misc``, versioned names) and their short names."""
from typing import AbstractSet, Any, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np
from spacy.tokens import Doc
from spacy.util import registry

from .base import QuerySize, Selection, record_scores, top_selection
from .diverse import DiverseStrategy
from .measure import doc_measure, record_measure
from .quality import QualityWeightedStrategy

# Short names used on the command line and in project.yml -> registered names.
STRATEGY_NAMES: Dict[str, str] = {
    "random": "spacy-llm-loop.RandomStrategy.v1",
    "entropy": "spacy-llm-loop.EntropyStrategy.v1",
    "max-entropy": "spacy-llm-loop.MaxEntropyStrategy.v1",
    "least-confidence": "spacy-llm-loop.LeastConfidenceStrategy.v1",
    "mnlp": "spacy-llm-loop.MNLPStrategy.v1",
    "bald": "spacy-llm-loop.BALDStrategy.v1",
    "entropy-diverse": "spacy-llm-loop.DiverseEntropyStrategy.v1",
    "entropy-quality": "spacy-llm-loop.QualityWeightedEntropyStrategy.v1",
}


def strategy_block(name: str) -> Dict[str, Any]:
    """The config block for a strategy's short name."""
    if name not in STRATEGY_NAMES:
        raise ValueError(f"Unknown strategy '{name}'; choose one of {', '.join(STRATEGY_NAMES)}")
    return {"@misc": STRATEGY_NAMES[name]}


class RandomStrategy:
    """Uniform random sampling: the baseline every active-learning result is measured against."""

    name = "random"
    needs_model = False

    def __call__(self, pool: Sequence[Doc], size: QuerySize, *, exclude: AbstractSet[int] = frozenset(),
                 reference_size: Optional[int] = None, seed: int = 0) -> Selection:
        scores = np.random.default_rng(seed).random(len(pool)).tolist()
        return _select(self.name, scores, pool, size, exclude, reference_size, seed)

    def select_scores(self, records: Iterable[Mapping[str, Any]], lengths: Sequence[int], size: QuerySize, *,
                      reference_size: Optional[int] = None, seed: int = 0,
                      vectors: Optional[np.ndarray] = None) -> Selection:
        """The same choice from the pool's lengths alone (no scores or vectors are read)."""
        scores = np.random.default_rng(seed).random(len(lengths)).tolist()
        return top_selection(self.name, scores, lengths, size, frozenset(), reference_size, seed)


class UncertaintyStrategy:
    """Pick the docs whose ``doc._.uncertainty[measure]`` (times ``sign``) is highest."""

    needs_model = True

    def __init__(self, name: str, measure: str, sign: float = 1.0) -> None:
        self.name, self.measure, self.sign = name, measure, sign

    def __call__(self, pool: Sequence[Doc], size: QuerySize, *, exclude: AbstractSet[int] = frozenset(),
                 reference_size: Optional[int] = None, seed: int = 0) -> Selection:
        scores = [self.sign * doc_measure(doc, i, self.measure) for i, doc in enumerate(pool)]
        return _select(self.name, scores, pool, size, exclude, reference_size, seed)

    def select_scores(self, records: Iterable[Mapping[str, Any]], lengths: Sequence[int], size: QuerySize, *,
                      reference_size: Optional[int] = None, seed: int = 0,
                      vectors: Optional[np.ndarray] = None) -> Selection:
        """The same choice from the saved score records (``scores.jsonl``) instead of scored Docs (no vectors)."""
        scores = record_scores(records, lengths,
                               lambda i, record, _: self.sign * record_measure(record, i, self.measure))
        return top_selection(self.name, scores, lengths, size, frozenset(), reference_size, seed)


def _select(name: str, scores: Sequence[float], pool: Sequence[Doc], size: QuerySize,
            exclude: AbstractSet[int], reference_size: Optional[int], seed: int) -> Selection:
    return top_selection(name, scores, [len(d) for d in pool], size, exclude, reference_size, seed)




@registry.misc("spacy-llm-loop.RandomStrategy.v1")
def make_random_strategy() -> RandomStrategy:
    """Random sampling (the baseline)."""
    return RandomStrategy()


@registry.misc("spacy-llm-loop.EntropyStrategy.v1")
def make_entropy_strategy() -> UncertaintyStrategy:
    """Mean token entropy, the measure of arXiv 2404.02261 (after Settles & Craven, EMNLP 2008)."""
    return UncertaintyStrategy("entropy", "mean_entropy")


@registry.misc("spacy-llm-loop.MaxEntropyStrategy.v1")
def make_max_entropy_strategy() -> UncertaintyStrategy:
    """Entropy of the most uncertain token (Settles & Craven, EMNLP 2008)."""
    return UncertaintyStrategy("max-entropy", "max_entropy")


@registry.misc("spacy-llm-loop.LeastConfidenceStrategy.v1")
def make_least_confidence_strategy() -> UncertaintyStrategy:
    """``1 - p(best parse)`` (Culotta & McCallum, AAAI 2005), with the beam-relative parse probabilities."""
    return UncertaintyStrategy("least-confidence", "least_confidence")


@registry.misc("spacy-llm-loop.MNLPStrategy.v1")
def make_mnlp_strategy() -> UncertaintyStrategy:
    """Maximum normalised log-probability, lowest first (Shen et al., ICLR 2018).

    The mean, over the greedy parse's actions (one per token), of each action's
    log-probability under the NER model's per-step softmax over the valid actions.
    """
    return UncertaintyStrategy("mnlp", "mnlp", sign=-1.0)


@registry.misc("spacy-llm-loop.BALDStrategy.v1")
def make_bald_strategy() -> UncertaintyStrategy:
    """Mean token mutual information between tag and weights under Monte Carlo dropout, highest first (BALD:
    Houlsby et al. 2011; Gal, Islam & Ghahramani, ICML 2017). Needs the uncertainty component's estimator
    ``mc_dropout``."""
    return UncertaintyStrategy("bald", "bald")


@registry.misc("spacy-llm-loop.DiverseEntropyStrategy.v1")
def make_diverse_entropy_strategy(candidates: float = 10.0) -> DiverseStrategy:
    """The ``candidates x k`` sentences of highest mean token entropy (Zhdanov 2019's pre-filter), then ``k`` of
    them by greedy k-center on the learner's sentence vectors (Sener & Savarese, ICLR 2018); see
    :mod:`.diverse`."""
    return DiverseStrategy("entropy-diverse", "mean_entropy", candidates)


@registry.misc("spacy-llm-loop.QualityWeightedEntropyStrategy.v1")
def make_quality_weighted_entropy_strategy(weight: float = 1.0) -> QualityWeightedStrategy:
    """Mean token entropy times ``exp(-weight x`` the annotator's expected wrong entities``)``, from its audit
    (after LLMaAA, arXiv 2310.19596); see :mod:`.quality`."""
    return QualityWeightedStrategy("entropy-quality", weight)
