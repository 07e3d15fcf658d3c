"""Reading one uncertainty measure off a scored pool doc, shared by every uncertainty-driven strategy.

Its own module so the registry and the strategies it registers (:mod:`.diverse`) both import it from below,
instead of from each other; the errors say what the learner pipeline is missing.
"""
from typing import Any, Mapping

from spacy.tokens import Doc


def doc_measure(doc: Doc, index: int, measure: str) -> float:
    """``doc._.uncertainty[measure]`` of pool item ``index``; a ValueError names what is missing."""
    scores = doc._.get("uncertainty") if doc.has_extension("uncertainty") else None
    if not scores:
        raise ValueError(f"Pool item {index} ({doc.text[:40]!r}) has no doc._.uncertainty: "
                         "the learner pipeline needs the 'uncertainty' component after 'ner'")
    return _measure(scores, f"Pool item {index} ({doc.text[:40]!r})", measure)


def record_measure(record: Mapping[str, Any], index: int, measure: str) -> float:
    """The same from a saved score record (a line of ``scores.jsonl``)."""
    return _measure(record, f"Pool item {index} ({record.get('id')})", measure)


def _measure(scores: Mapping[str, Any], item: str, measure: str) -> float:
    if measure not in scores:
        raise ValueError(f"{item} has no '{measure}' in doc._.uncertainty: "
                         + ("it needs the uncertainty component's estimator 'mc_dropout' or 'committee' "
                            "(--vars.estimator mc_dropout, or --learner.components.uncertainty.estimator "
                            "mc_dropout on the loop command)" if measure == "bald"
                            else f"it has {', '.join(sorted(scores))}"))
    return float(scores[measure])
