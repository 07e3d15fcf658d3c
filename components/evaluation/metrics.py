"""Metrics over Examples (predicted vs gold Docs) and over tag sequences.

``ents_p/r/f`` are entity-level, exact span and type, as in spaCy's scorer and
seqeval's default (conlleval) mode that MasakhaNER's published numbers use.
``paper_token_f1_entity_positions`` is the metric of arXiv 2404.02261's code:
token-level F1 over the 8 B-/I- tags, counted only at positions whose gold tag
is not ``O`` (false positives on ``O`` tokens are ignored), so it is not
comparable with entity F1.
"""
from typing import Any, Dict, Iterable, List, Sequence

from spacy.scorer import Scorer
from spacy.training import Example

from ..data.docs import doc_tags
from ..data.iob import iob_to_spans
from ..uncertainty.scorer import score_uncertainty


def entity_scores(examples: Sequence[Example]) -> Dict[str, Any]:
    """``ents_p``, ``ents_r``, ``ents_f`` (0-1) and ``ents_per_type`` ({label: {p, r, f}})."""
    scores = Scorer.score_spans(examples, "ents")
    return {key: (0.0 if value is None else value) for key, value in scores.items()}


def paper_token_f1(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> Dict[str, float]:
    """Micro/macro/weighted F1 over B-/I- tags at positions whose gold tag is not ``O`` (see module docstring)."""
    from sklearn.metrics import f1_score

    y_true: List[str] = []
    y_pred: List[str] = []
    for gold_tags, pred_tags in zip(gold, predicted):
        for g, p in zip(gold_tags, pred_tags):
            if g != "O":
                y_true.append(g)
                y_pred.append(p)
    labels = sorted(set(y_true))
    if not labels:
        return {"micro": 0.0, "macro": 0.0, "weighted": 0.0}
    return {avg: float(f1_score(y_true, y_pred, labels=labels, average=avg, zero_division=0))
            for avg in ("micro", "macro", "weighted")}


def score_examples(examples: Sequence[Example]) -> Dict[str, Any]:
    """All metrics for predicted-vs-gold Examples (uncertainty AUROC when the docs carry uncertainty)."""
    result: Dict[str, Any] = {"n_docs": len(examples)}
    result.update(entity_scores(examples))
    result["paper_token_f1_entity_positions"] = paper_token_f1(
        (doc_tags(eg.reference) for eg in examples), (doc_tags(eg.predicted) for eg in examples))
    result.update(score_uncertainty(examples))
    return result


def tag_agreement(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Dict[str, Any]:
    """How well an annotator's tags match gold: ``token_accuracy`` (incl. ``O``) and entity ``ents_p/r/f``."""
    correct = total = tp = n_pred = n_gold = 0
    for gold_tags, pred_tags in zip(gold, predicted):
        correct += sum(g == p for g, p in zip(gold_tags, pred_tags))
        total += len(gold_tags)
        gold_spans, pred_spans = set(iob_to_spans(gold_tags)), set(iob_to_spans(pred_tags))
        tp += len(gold_spans & pred_spans)
        n_pred += len(pred_spans)
        n_gold += len(gold_spans)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"token_accuracy": correct / total if total else None, "ents_p": p, "ents_r": r,
            "ents_f": 2 * p * r / (p + r) if p + r else 0.0}
