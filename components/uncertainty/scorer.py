"""Does the uncertainty mean something? AUROC of doc uncertainty for "this doc has an entity error"."""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .measures import DOC_MEASURES

# mnlp is a log-probability: lower means more uncertain, so it is negated for the AUROC.
SIGNS = {"mean_entropy": 1.0, "max_entropy": 1.0, "least_confidence": 1.0, "mnlp": -1.0}


def has_entity_error(predicted: Doc, reference: Doc) -> bool:
    """Whether the predicted entities differ from the reference's (exact span and type)."""
    def key(doc: Doc) -> set:
        return {(e.start_char, e.end_char, e.label_) for e in doc.ents}

    return key(predicted) != key(reference)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """Area under the ROC curve (scikit-learn); ``None`` when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(list(labels), list(scores)))


def score_uncertainty(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """``uncertainty_auroc`` (mean token entropy) and ``uncertainty_auroc_per_measure``."""
    errors: List[bool] = []
    values: Dict[str, List[float]] = {name: [] for name in DOC_MEASURES}
    for eg in examples:
        scores = eg.predicted._.get("uncertainty") if eg.predicted.has_extension("uncertainty") else None
        if not scores:
            continue
        errors.append(has_entity_error(eg.predicted, eg.reference))
        for name in DOC_MEASURES:
            values[name].append(SIGNS[name] * scores[name])
    per_measure = {name: auroc(values[name], errors) for name in DOC_MEASURES}
    return {"uncertainty_auroc": per_measure["mean_entropy"], "uncertainty_auroc_per_measure": per_measure}


@registry.scorers("spacy-llm-loop.uncertainty_scorer.v1")
def make_uncertainty_scorer() -> Callable[..., Dict[str, Any]]:
    """The uncertainty component's scorer (see :func:`score_uncertainty`)."""
    return score_uncertainty
