"""Entity-level precision, recall and F1 of recorded runs against gold, with bootstrap confidence intervals.

Exact span and type over IOB2 tags (conlleval's reading, as in :func:`..evaluation.metrics.tag_agreement`,
which gives the overall figures). A run is scored as the loop would use it: a run of the wrong length
(dropped by the loop) predicts no entity, so its gold entities are all missed; a tag outside the schema
or an element without a tag reads as ``O``.
"""
from typing import Any, Dict, List, Sequence

import numpy as np

from ..data.iob import MASAKHANER_LABELS, iob_to_spans
from ..evaluation.metrics import tag_agreement
from .recorded import SCHEMA, Record, run_tags

N_BOOTSTRAP = 1000
SEED = 0


def usable_tags(run: Any, n_tokens: int, schema: Sequence[str] = SCHEMA) -> List[str]:
    """The tags the loop would take from a run: all ``O`` for a wrong-length run, unknown tags as ``O``."""
    tags = run_tags(run)
    if tags is None or len(tags) != n_tokens:
        return ["O"] * n_tokens
    return [t if isinstance(t, str) and t in schema else "O" for t in tags]


def span_counts(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """``(len(labels), 3)`` array: true positives, predicted and gold entities per label."""
    gold_spans, pred_spans = set(iob_to_spans(gold)), set(iob_to_spans(pred))
    counts = np.zeros((len(labels), 3), dtype=np.int64)
    for i, label in enumerate(labels):
        g = {s for s in gold_spans if s[2] == label}
        p = {s for s in pred_spans if s[2] == label}
        counts[i] = (len(g & p), len(p), len(g))
    return counts


def _prf(counts: np.ndarray) -> np.ndarray:
    """P, R, F along the last axis of ``(..., 3)`` counts (0 where undefined, as tag_agreement does)."""
    tp, n_pred, n_gold = (counts[..., i].astype(float) for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_pred > 0, tp / n_pred, 0.0)
        r = np.where(n_gold > 0, tp / n_gold, 0.0)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return np.stack([p, r, f], axis=-1)


def _scores(point: np.ndarray, boot: np.ndarray, counts: np.ndarray) -> Dict[str, Any]:
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    result: Dict[str, Any] = {}
    for j, name in enumerate("prf"):
        result[name] = float(point[j])
        result[f"{name}_ci"] = [float(low[j]), float(high[j])]
    result.update(tp=int(counts[0]), n_pred=int(counts[1]), n_gold=int(counts[2]))
    return result


def entity_scores(records: Sequence[Record], first_run_only: bool = False, n_bootstrap: int = N_BOOTSTRAP,
                  seed: int = SEED, labels: Sequence[str] = MASAKHANER_LABELS) -> Dict[str, Any]:
    """Overall and per-type P/R/F of the runs (or of each record's first run) against gold.

    All runs are pooled: each run is compared with gold, so a sentence's gold entities count once per
    run. The 95% intervals are percentile bootstrap intervals over sentences (records resampled with
    replacement, a record carrying all its runs; ``n_bootstrap`` samples, ``numpy`` generator ``seed``).
    """
    if not records:
        raise ValueError("no records to score")
    per_record = np.zeros((len(records), len(labels), 3), dtype=np.int64)
    gold_seqs: List[List[str]] = []
    pred_seqs: List[List[str]] = []
    for k, record in enumerate(records):
        for run in record.runs[:1] if first_run_only else record.runs:
            pred = usable_tags(run, len(record.gold))
            per_record[k] += span_counts(record.gold, pred, labels)
            gold_seqs.append(record.gold)
            pred_seqs.append(pred)
    flat = np.concatenate([per_record, per_record.sum(axis=1, keepdims=True)], axis=1)  # last row: overall
    total = flat.sum(axis=0)
    rng = np.random.default_rng(seed)
    n = len(records)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_bootstrap)
    boot = _prf((weights @ flat.reshape(n, -1)).reshape(n_bootstrap, len(labels) + 1, 3))
    point = _prf(total)
    overall = tag_agreement(gold_seqs, pred_seqs)  # the project's entity scoring gives the point estimate
    point[-1] = (overall["ents_p"], overall["ents_r"], overall["ents_f"])
    result = _scores(point[-1], boot[:, -1], total[-1])
    result["runs_scored"] = len(pred_seqs)
    result["per_type"] = {label: _scores(point[i], boot[:, i], total[i]) for i, label in enumerate(labels)}
    return result
