"""Pure functions from token marginals over IOB tags to uncertainty measures.

``marginals`` is an ``(n_tokens, n_tags)`` array whose rows sum to 1: the
probability of each IOB tag at each token. ``best_prob`` is the probability of
the single most likely tag sequence.
"""
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

EPS = 1e-12

# Names of the doc-level scores; for all but ``mnlp`` a higher value means more uncertain.
DOC_MEASURES: Tuple[str, ...] = ("mean_entropy", "max_entropy", "least_confidence", "mnlp")


def parses_to_marginals(
    n_tokens: int, parses: Iterable[Tuple[float, Iterable[Tuple[int, int, str]]]], tags: Sequence[str]
) -> np.ndarray:
    """Token marginals from weighted parses ``(prob, [(start, end, label), ...])``.

    Each parse is read as an IOB2 sequence; ``p(tag | token i)`` is the total
    probability of the parses that give token ``i`` that tag, renormalised.
    """
    index = {tag: i for i, tag in enumerate(tags)}
    marginals = np.zeros((n_tokens, len(tags)), dtype="float64")
    rows = np.arange(n_tokens)
    for prob, ents in parses:
        column = np.full(n_tokens, index["O"])
        for start, end, label in ents:
            column[start] = index[f"B-{label}"]
            column[start + 1:end] = index[f"I-{label}"]
        marginals[rows, column] += prob
    totals = marginals.sum(axis=1, keepdims=True)
    marginals[totals[:, 0] == 0, index["O"]] = 1.0
    return marginals / np.maximum(marginals.sum(axis=1, keepdims=True), EPS)


def token_entropy(marginals: np.ndarray) -> np.ndarray:
    """``H_i = -sum_c p(c|i) log p(c|i)`` for every token (natural log)."""
    p = np.clip(marginals, EPS, 1.0)
    return -(marginals * np.log(p)).sum(axis=1)


def doc_scores(entropy: np.ndarray, best_prob: float) -> Dict[str, float]:
    """The doc-level measures of :data:`DOC_MEASURES`, from token entropies and ``p(best sequence)``.

    - ``mean_entropy``: mean token entropy, the measure of arXiv 2404.02261;
    - ``max_entropy``: the entropy of the most uncertain token;
    - ``least_confidence``: ``1 - p(best sequence)`` (Culotta & McCallum, 2005);
    - ``mnlp``: ``log p(best sequence) / n_tokens`` (Shen et al., 2018); lower = more uncertain.
    Empty docs score 0 everywhere (nothing to be unsure about).
    """
    n = entropy.shape[0]
    if n == 0:
        return {name: 0.0 for name in DOC_MEASURES}
    best = float(min(max(best_prob, EPS), 1.0))
    return {
        "mean_entropy": float(entropy.mean()),
        "max_entropy": float(entropy.max()),
        "least_confidence": 1.0 - best,
        "mnlp": float(np.log(best) / n),
    }


def span_confidences(
    parses: Iterable[Tuple[float, Iterable[Tuple[int, int, str]]]], spans: Iterable[Tuple[int, int, str]]
) -> List[float]:
    """For each span, the total probability of the parses that contain it exactly."""
    totals: Dict[Tuple[int, int, str], float] = {}
    for prob, ents in parses:
        for ent in ents:
            totals[tuple(ent)] = totals.get(tuple(ent), 0.0) + prob  # type: ignore[index]
    return [min(1.0, totals.get(tuple(span), 0.0)) for span in spans]  # type: ignore[arg-type]
