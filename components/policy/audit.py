"""The annotator's audit: its labels on sentences whose gold labels are known, scored per type.

Before round 1 the loop asks the annotator to label the gold seed (or a sample of it) and compares the answers
with gold: per type, precision and recall (exact span and type) with 95% Wilson intervals (the usual interval
for a proportion from few counts, statsmodels' ``proportion_confint``), the confusion between types on the
same span, and how often an entity is found with the wrong boundaries. A label policy reads it to decide which
types the annotator can be trusted with (:func:`unreliable_types`).
"""
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from statsmodels.stats.proportion import proportion_confint

from ..data.iob import iob_to_spans
from ..evaluation.metrics import tag_agreement

Span = Tuple[int, int, str]
MISSED, SPURIOUS = "(missed)", "(spurious)"


def _interval(k: int, n: int) -> Optional[List[float]]:
    """The 95% Wilson interval of ``k`` of ``n``; None when ``n`` is 0."""
    if n == 0:
        return None
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [round(float(low), 4), round(float(high), 4)]


def entity_outcome(gold: Span, predicted: Sequence[Span]) -> str:
    """``correct``, ``type:<X>`` (same span, other type), ``boundary`` (overlapping, other extent) or ``missed``."""
    if gold in predicted:
        return "correct"
    same = [p for p in predicted if p[:2] == gold[:2]]
    if same:
        return f"type:{same[0][2]}"
    return "boundary" if any(p[0] < gold[1] and gold[0] < p[1] for p in predicted) else "missed"


def audit_labels(gold: Sequence[Sequence[str]], predicted: Sequence[Optional[Sequence[str]]],
                 labels: Sequence[str]) -> Dict[str, Any]:
    """Score the annotator's tags (``None``: a dropped answer, which predicts nothing) against gold tags.

    Returns overall figures (``ents_p/r/f``, token accuracy, sentences, dropped), ``per_type`` (``p``, ``r``,
    ``f``, ``p_ci``, ``r_ci``, counts, and the outcome of each gold entity of the type), ``confusion``
    (gold type -> predicted type on the same span, with ``(missed)``, and ``(spurious)`` for predicted entities
    that overlap no gold entity), and ``spurious`` entities against ``o_tokens`` (gold ``O`` tokens).
    """
    counts: Dict[str, Counter] = {label: Counter() for label in labels}
    confusion: Dict[str, Counter] = {label: Counter() for label in labels}
    used_gold: List[Sequence[str]] = []
    used_pred: List[Sequence[str]] = []
    dropped = o_tokens = spurious = 0
    for gold_tags, tags in zip(gold, predicted):
        if tags is None:
            dropped += 1
            tags = ["O"] * len(gold_tags)
        used_gold.append(gold_tags)
        used_pred.append(tags)
        gold_spans, pred_spans = iob_to_spans(gold_tags), iob_to_spans(tags)
        o_tokens += sum(tag == "O" for tag in gold_tags)
        for span in gold_spans:
            outcome = entity_outcome(span, pred_spans)
            if span[2] in counts:
                counts[span[2]]["gold"] += 1
                counts[span[2]][outcome.split(":")[0]] += 1
                confusion[span[2]][span[2] if outcome == "correct" else outcome[5:] if outcome.startswith("type:")
                                   else MISSED if outcome == "missed" else "(boundary)"] += 1
        for span in pred_spans:
            if span[2] in counts:
                counts[span[2]]["pred"] += 1
                counts[span[2]]["tp"] += span in gold_spans
            if not any(g[0] < span[1] and span[0] < g[1] for g in gold_spans):
                confusion.setdefault(SPURIOUS, Counter())[span[2]] += 1
                spurious += 1
    overall = tag_agreement(used_gold, used_pred) if used_gold else {}
    per_type = {label: _type_scores(c) for label, c in counts.items()}
    return {"sentences": len(used_gold), "dropped": dropped, "token_accuracy": overall.get("token_accuracy"),
            "ents_p": overall.get("ents_p"), "ents_r": overall.get("ents_r"), "ents_f": overall.get("ents_f"),
            "per_type": per_type, "confusion": {k: dict(v) for k, v in confusion.items() if v},
            "o_tokens": o_tokens, "spurious": spurious}


def _type_scores(c: Counter) -> Dict[str, Any]:
    tp, n_pred, n_gold = c["tp"], c["pred"], c["gold"]
    p = tp / n_pred if n_pred else None
    r = tp / n_gold if n_gold else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return {"p": p, "r": r, "f": f, "p_ci": _interval(tp, n_pred), "r_ci": _interval(tp, n_gold),
            "tp": tp, "n_pred": n_pred, "n_gold": n_gold,
            "outcomes": {k: c[k] for k in ("correct", "type", "boundary", "missed")}}


def unreliable_types(audit: Dict[str, Any], min_precision: float, min_recall: float = 0.0,
                     min_predicted: int = 5) -> List[str]:
    """The types whose audited precision (or recall) is shown below ``min_precision`` (``min_recall``): the upper
    end of the 95% interval lies below it. A type predicted fewer than ``min_predicted`` times is judged on
    recall alone (too few to say anything of its precision)."""
    out = []
    for label, s in audit["per_type"].items():
        low_p = s["n_pred"] >= min_predicted and s["p_ci"] is not None and s["p_ci"][1] < min_precision
        low_r = s["r_ci"] is not None and s["r_ci"][1] < min_recall
        if low_p or low_r:
            out.append(label)
    return out


def audit_lines(audit: Dict[str, Any]) -> List[str]:
    """A Markdown table of the audit, for the report."""
    lines = [f"Annotator audit on {audit['sentences']} gold sentences ({audit['dropped']} dropped): entity F1 "
             f"{_pct(audit['ents_f'])}, token accuracy {_pct(audit['token_accuracy'])}.", "",
             "| type | precision [95% CI] | recall [95% CI] | gold | predicted | wrong type | wrong boundary "
             "| missed |",
             "|---|---|---|---|---|---|---|---|"]
    for label, s in audit["per_type"].items():
        o = s["outcomes"]
        lines.append(f"| {label} | {_pct(s['p'])} {_ci(s['p_ci'])} | {_pct(s['r'])} {_ci(s['r_ci'])} | "
                     f"{s['n_gold']} | {s['n_pred']} | {o['type']} | {o['boundary']} | {o['missed']} |")
    return lines


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _ci(ci: Optional[List[float]]) -> str:
    return "" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
