"""Calibrated entity confidence: Platt scaling fitted on the learner's own dev data, and how to measure it.

The component's entity confidence is beam-relative (the share of the beam's probability on parses containing
the entity): not a probability that the entity is right, and often 1.0 for a wrong one. Platt scaling (Platt,
"Probabilistic outputs for support vector machines", 1999; for neural models, Guo et al., "On Calibration of
Modern Neural Networks", ICML 2017) maps it to ``sigmoid(a * logit(c) + b)``, with ``a`` and ``b`` fitted by
logistic regression on (confidence, entity correct) pairs of the learner's own dev data: in the loop, the dev
sentences carved out of the labelled set (never test). Expected calibration error (ECE, equal-width bins,
weighted by count) and the reliability table say how well it worked.
"""
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from spacy.training import Example

EPS = 1e-4  # confidences are clipped to [EPS, 1 - EPS] before the logit
MIN_ENTITIES = 20  # fewer dev entities (or only one outcome): no calibration, the raw confidence stays


def entity_outcomes(examples: Iterable[Example], key: str = "ent_confidence") -> Tuple[List[float], List[bool]]:
    """``(confidence, correct)`` of every predicted entity with a confidence in ``doc._.uncertainty[key]``;
    correct means the same span and type is in the reference. An entity on reference tokens without annotation
    (a label policy's missing tokens) is left out: nothing says whether it is right."""
    confidences, correct = [], []
    for eg in examples:
        scores = eg.predicted._.get("uncertainty") if eg.predicted.has_extension("uncertainty") else None
        if not scores:
            continue
        gold = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents}
        blank = [(t.idx, t.idx + len(t)) for t in eg.reference if t.ent_iob == 0]  # no annotation: no verdict
        table = scores.get(key) or {}
        for ent in eg.predicted.ents:
            if any(s < ent.end_char and ent.start_char < e for s, e in blank):
                continue
            value = table.get(f"{ent.start}:{ent.end}:{ent.label_}")
            if value is not None:
                confidences.append(float(value))
                correct.append((ent.start_char, ent.end_char, ent.label_) in gold)
    return confidences, correct


def _logit(values: Sequence[float]) -> np.ndarray:
    clipped = np.clip(np.asarray(values, dtype="float64"), EPS, 1 - EPS)
    return np.log(clipped / (1 - clipped))


def fit_platt(confidences: Sequence[float], correct: Sequence[bool]) -> Optional[Dict[str, float]]:
    """``{"a", "b", "n"}`` of Platt scaling on the logit of the confidences; None with too little to fit on."""
    if len(confidences) < MIN_ENTITIES or len(set(correct)) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(confidences)[:, None], np.asarray(correct, int))
    return {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0]), "n": len(confidences)}


def calibrate(confidence: float, params: Optional[Dict[str, float]]) -> float:
    """The calibrated confidence (the raw one without ``params``)."""
    if not params:
        return confidence
    z = params["a"] * float(_logit([confidence])[0]) + params["b"]
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> List[Dict[str, Any]]:
    """Per equal-width bin of confidence: its range, entity count, mean confidence and share correct."""
    conf = np.asarray(confidences, dtype="float64")
    hits = np.asarray(correct, dtype="float64")
    index = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        rows.append({"low": b / bins, "high": (b + 1) / bins, "n": int(mask.sum()),
                     "confidence": float(conf[mask].mean()) if mask.any() else None,
                     "accuracy": float(hits[mask].mean()) if mask.any() else None})
    return rows


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> Optional[float]:
    """Expected calibration error: the count-weighted mean of |accuracy - confidence| over the bins."""
    if not len(confidences):
        return None
    rows = reliability(confidences, correct, bins)
    return float(sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"]) / len(confidences))
