"""Does the uncertainty mean something? AUROC of doc uncertainty for "this doc has an entity error".

Beside the AUROC of mean token entropy (``uncertainty_auroc``) the scorer reports
two trivial baselines scored the same way, the sentence length in tokens and the
number of predicted entities: an uncertainty measure is only informative where it
beats them. Sentences with no gold and no predicted entity can never have an
error, and they are easy to rank low, so the AUROCs are also reported on the
sentences with at least one gold or predicted entity (``..._with_entity``).
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .calibration import ece, entity_outcomes
from .measures import DOC_MEASURES

# mnlp is a log-probability: lower means more uncertain, so it is negated for the AUROC.
SIGNS = {"mean_entropy": 1.0, "max_entropy": 1.0, "least_confidence": 1.0, "mnlp": -1.0, "bald": 1.0}
# Measures only some estimators give (``bald``: Monte Carlo dropout); scored when every scored doc has them.
OPTIONAL_MEASURES = ("bald",)
# The trivial baselines, as scores of a predicted doc (higher = predicted more likely wrong).
BASELINES: Dict[str, Callable[[Doc], float]] = {"length": len, "n_ents": lambda doc: len(doc.ents)}


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
    """AUROCs of doc scores for "the doc's predicted entities contain an error", on the docs with uncertainty.

    - ``uncertainty_auroc``: mean token entropy;
    - ``uncertainty_auroc_length``, ``uncertainty_auroc_n_ents``: the baselines (tokens, predicted entities);
    - ``uncertainty_auroc_with_entity`` (and ``..._with_entity_length``, ``..._with_entity_n_ents``):
      the same on the docs with at least one gold or predicted entity;
    - ``uncertainty_auroc_per_measure``: every measure of :data:`DOC_MEASURES` (``mnlp`` negated), and ``bald``
      when the estimator gives it;
    - ``uncertainty_n_eval``, ``uncertainty_n_with_entity``, ``uncertainty_n_errors``: doc counts;
    - ``uncertainty_ece``: expected calibration error of ``span._.confidence`` (calibrated when the pipeline has
      a calibration), ``uncertainty_ece_raw``: of the beam-relative confidence; ``uncertainty_n_entities``.
    An AUROC is ``None`` when its docs are all right or all wrong.
    """
    examples_seen = list(examples)
    scored = [eg.predicted._.get("uncertainty") for eg in examples_seen if eg.predicted.has_extension("uncertainty")]
    scored = [scores for scores in scored if scores]
    measures = DOC_MEASURES + tuple(m for m in OPTIONAL_MEASURES if scored and all(m in s for s in scored))
    columns: Dict[str, List[float]] = {name: [] for name in (*measures, *BASELINES)}
    errors: List[bool] = []
    with_entity: List[bool] = []
    for eg in examples_seen:
        scores = eg.predicted._.get("uncertainty") if eg.predicted.has_extension("uncertainty") else None
        if not scores:
            continue
        errors.append(has_entity_error(eg.predicted, eg.reference))
        with_entity.append(bool(eg.predicted.ents) or bool(eg.reference.ents))
        for name in measures:
            columns[name].append(SIGNS[name] * scores[name])
        for name, baseline in BASELINES.items():
            columns[name].append(float(baseline(eg.predicted)))
    subset = [i for i, keep in enumerate(with_entity) if keep]

    def on_subset(name: str) -> Optional[float]:
        return auroc([columns[name][i] for i in subset], [errors[i] for i in subset])

    examples = list(examples_seen)
    calibrated = any((eg.predicted._.get("uncertainty") or {}).get("ent_confidence_calibrated") for eg in examples)
    raw = entity_outcomes(examples)
    effective = entity_outcomes(examples, "ent_confidence_calibrated") if calibrated else raw
    return {
        "uncertainty_ece": ece(*effective),
        "uncertainty_ece_raw": ece(*raw),
        "uncertainty_n_entities": len(raw[0]),
        "uncertainty_auroc": auroc(columns["mean_entropy"], errors),
        "uncertainty_auroc_length": auroc(columns["length"], errors),
        "uncertainty_auroc_n_ents": auroc(columns["n_ents"], errors),
        "uncertainty_auroc_with_entity": on_subset("mean_entropy"),
        "uncertainty_auroc_with_entity_length": on_subset("length"),
        "uncertainty_auroc_with_entity_n_ents": on_subset("n_ents"),
        "uncertainty_auroc_per_measure": {name: auroc(columns[name], errors) for name in measures},
        "uncertainty_n_eval": len(errors),
        "uncertainty_n_with_entity": len(subset),
        "uncertainty_n_errors": sum(errors),
    }


@registry.scorers("spacy-llm-loop.uncertainty_scorer.v1")
def make_uncertainty_scorer() -> Callable[..., Dict[str, Any]]:
    """The uncertainty component's scorer (see :func:`score_uncertainty`)."""
    return score_uncertainty
