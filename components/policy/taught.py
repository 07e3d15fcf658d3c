"""What the learner was taught from the annotator, scored against gold where the pool has it.

For each annotated sentence of a labelled set: the entities it teaches (``doc.ents``) against the gold entities,
both outside the tokens a label policy made missing (a missing token teaches nothing, right or wrong), and the
share of tokens made missing. ``trust`` teaches the answers as they are, so its figures are the answers'.
"""
from typing import Any, Dict, List, Sequence, Set, Tuple

from spacy.tokens import Doc

from ..data.docs import get_meta

Pair = Tuple[Doc, Doc]  # (the doc the learner trains on, the gold doc)


def _counts(pairs: Sequence[Pair]) -> Dict[str, int]:
    tp = n_pred = n_gold = tokens = missing = removed = 0
    for taught, gold in pairs:
        blank: Set[int] = {t.i for t in taught if t.ent_iob == 0}
        pred = {(e.start, e.end, e.label_) for e in taught.ents}
        truth = {(e.start, e.end, e.label_) for e in gold.ents if not blank.intersection(range(e.start, e.end))}
        tp += len(pred & truth)
        n_pred += len(pred)
        n_gold += len(truth)
        tokens += len(taught)
        missing += len(blank)
        removed += len((get_meta(taught).get("label_policy") or {}).get("removed") or [])
    return {"tp": tp, "n_pred": n_pred, "n_gold": n_gold, "tokens": tokens, "tokens_missing": missing,
            "entities_removed": removed, "sentences": len(pairs)}


def _scores(c: Dict[str, int]) -> Dict[str, Any]:
    p = c["tp"] / c["n_pred"] if c["n_pred"] else 0.0
    r = c["tp"] / c["n_gold"] if c["n_gold"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"sentences": c["sentences"], "ents_p": p, "ents_r": r, "ents_f": f, "entities_taught": c["n_pred"],
            "entities_removed": c["entities_removed"],
            "missing_share": c["tokens_missing"] / c["tokens"] if c["tokens"] else 0.0,
            "tokens_missing": c["tokens_missing"]}


def taught_quality(pairs: Sequence[Pair], round_k: int, policy: str) -> Dict[str, Any]:
    """``{"policy", "all": ..., "round": ...}``: the figures over every annotated sentence of the labelled set
    and over those of round ``round_k`` alone (entity P/R/F outside missing tokens, entities taught and removed,
    the share of tokens missing); None parts when there is nothing to score."""
    this_round: List[Pair] = [p for p in pairs if get_meta(p[0]).get("round") == round_k]
    return {"policy": policy, "all": _scores(_counts(pairs)) if pairs else None,
            "round": _scores(_counts(this_round)) if this_round else None}
