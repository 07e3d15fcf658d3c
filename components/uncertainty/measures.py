"""Pure functions from the NER model's outputs to uncertainty measures.

``marginals`` is an ``(n_tokens, n_tags)`` array whose rows sum to 1: the
probability of each IOB tag at each token, under the beam-relative parse
probabilities (see :mod:`.component`). ``best_prob`` is the beam-relative
probability of the most likely parse. ``step_logprobs`` are the log-probabilities
of the actions of the greedy parse, each normalised over the actions valid at
its step (:func:`log_softmax_valid`).
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
    return 0.0 - (marginals * np.log(p)).sum(axis=1)  # 0.0 - x: no -0.0 for certain tokens


def log_softmax_valid(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Log-softmax of one step's action ``scores`` over the ``valid`` actions; ``-inf`` for the others.

    A transition-based NER model can only take the valid actions, so the
    probability of a step is renormalised over them (a forced step costs nothing).
    """
    return log_softmax_valid_rows(np.asarray(scores)[None, :], np.asarray(valid)[None, :])[0]


def log_softmax_valid_rows(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """:func:`log_softmax_valid` of every row of ``scores`` (one step of several parses) at once."""
    scores = np.asarray(scores, dtype="float64")
    valid = np.asarray(valid, dtype=bool)
    if not valid.any(axis=1).all():
        raise ValueError("log_softmax_valid: no valid action at this step")
    masked = np.where(valid, scores, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        norm = top + np.log(np.exp(masked - top).sum(axis=1, keepdims=True))
    return np.where(valid, scores - norm, -np.inf)


def doc_scores(entropy: np.ndarray, best_prob: float, step_logprobs: Sequence[float]) -> Dict[str, float]:
    """The doc-level measures of :data:`DOC_MEASURES`.

    - ``mean_entropy``: mean token entropy, the measure of arXiv 2404.02261;
    - ``max_entropy``: the entropy of the most uncertain token;
    - ``least_confidence``: ``1 - best_prob``, with the beam-relative probability of the
      best parse (Culotta & McCallum, 2005);
    - ``mnlp``: ``sum(step_logprobs) / n_steps``, the length-normalised log-probability of
      the greedy parse under the model's per-step (locally normalised) action probabilities
      (Shen et al., 2018); lower = more uncertain. A transition-based NER takes one action
      per token, so ``n_steps`` is the number of tokens.
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
        "mnlp": float(np.mean(step_logprobs)) if len(step_logprobs) else 0.0,
    }


def mutual_information(entropy: np.ndarray, expected_entropy: np.ndarray) -> float:
    """BALD's doc score: the mean over tokens of ``H[mean_t p_t] - mean_t H[p_t]`` (clipped at 0 against rounding);
    0 for an empty doc."""
    if entropy.shape[0] == 0:
        return 0.0
    return float(np.clip(entropy - expected_entropy, 0.0, None).mean())


def span_confidences(
    parses: Iterable[Tuple[float, Iterable[Tuple[int, int, str]]]], spans: Iterable[Tuple[int, int, str]]
) -> List[float]:
    """For each span, the total probability of the parses that contain it exactly."""
    totals: Dict[Tuple[object, ...], float] = {}  # by the spans as tuples (spans read from JSON are lists)
    for prob, ents in parses:
        for ent in ents:
            totals[tuple(ent)] = totals.get(tuple(ent), 0.0) + prob
    return [min(1.0, totals.get(tuple(span), 0.0)) for span in spans]
