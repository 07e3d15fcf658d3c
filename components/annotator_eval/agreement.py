"""How consistent an LLM annotator is: the paper's consistency, Fleiss' kappa over runs, entity agreement.

Definitions follow arXiv 2404.02261's code (mkandai/llms-in-the-loop): ``calculate_consistency_score`` in
``src/utils/utils.py`` and the notebook ``12_iaa.ipynb``.
"""
from itertools import combinations
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..data.iob import iob_to_spans
from .recorded import SCHEMA, Record, in_schema, run_tags

PAPER_RUNS = 10  # each sentence was annotated 10 times


def record_consistency(record: Record, expected_runs: Optional[int] = None) -> float:
    """Token accuracy against gold (``O`` included) over a record's runs, 0-1.

    A run whose length differs from the sentence (or that is not a list) scores 0; an element without a
    tag never matches. The paper divides by the runs recorded; with ``expected_runs``, runs that are
    missing (a request that failed outright left none) count as runs scoring 0.
    """
    n = len(record.gold)
    correct = 0
    for run in record.runs:
        tags = run_tags(run)
        if tags is not None and len(tags) == n:
            correct += sum(t == g for t, g in zip(tags, record.gold))
    n_runs = max(len(record.runs), expected_runs or 0)
    return correct / (n * n_runs) if n_runs else 0.0


def consistency(records: Sequence[Record], expected_runs: Optional[int] = None,
                expected_records: Optional[int] = None) -> float:
    """The paper's "consistency" (%): the mean over records of :func:`record_consistency`.

    With ``expected_records``, records missing from the file count as records scoring 0.
    """
    n_records = max(len(records), expected_records or 0)
    if not n_records:
        return 0.0
    return 100 * sum(record_consistency(r, expected_runs) for r in records) / n_records


def kappa_exclusion(record: Record, runs: int = PAPER_RUNS, schema: Sequence[str] = SCHEMA) -> Optional[Dict[str, str]]:
    """Why a record cannot go into Fleiss' kappa (``{"reason", "detail"}``), or ``None`` when it can.

    The paper's rule: fewer than ``runs`` runs, an empty run, runs of unequal length (to each other, not to
    gold), or a tag outside the schema. Ours adds: more than ``runs`` runs (kappa needs the same number
    of raters per token) and a run that is not a list.
    """
    if len(record.runs) != runs:
        return {"reason": "run_count", "detail": f"{len(record.runs)} runs, not {runs}"}
    maybe_tags = [run_tags(run) for run in record.runs]
    all_tags = [tags for tags in maybe_tags if tags is not None]
    if len(all_tags) < len(maybe_tags):
        return {"reason": "not_a_list", "detail": "a run that is not a list"}
    lengths = sorted({len(tags) for tags in all_tags})
    if lengths[0] == 0:
        return {"reason": "empty_run", "detail": "an empty run"}
    if len(lengths) > 1:
        return {"reason": "unequal_length", "detail": "runs of lengths " + ", ".join(map(str, lengths))}
    outside = sorted({str(t) for tags in all_tags for t in tags if not in_schema(t, schema)})
    if outside:
        return {"reason": "out_of_schema", "detail": "tags outside the schema: " + ", ".join(outside)}
    return None


def _ratings(record: Record, schema: Sequence[str]) -> np.ndarray:
    """Tokens x runs matrix of category indices; an element without a tag counts as ``O`` (index 0)."""
    index = {tag: i for i, tag in enumerate(schema)}
    tags = [run_tags(run) or [] for run in record.runs]
    return np.array([[index.get(t, 0) if t is not None else 0 for t in run] for run in tags]).T


def fleiss_kappa_runs(records: Sequence[Record], runs: int = PAPER_RUNS,
                      schema: Sequence[str] = SCHEMA) -> Dict[str, Any]:
    """Fleiss' kappa over the runs at token level, pooled over the records :func:`kappa_exclusion` keeps.

    One row per token, one column per schema tag, cells = how many runs gave that tag (statsmodels'
    ``aggregate_raters`` and ``fleiss_kappa``). ``kappa`` is ``None`` when no record is kept or agreement
    by chance is already perfect (every run gave every token the same tag).
    """
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    excluded: List[Dict[str, Any]] = []
    kept: List[np.ndarray] = []
    for record in records:
        why = kappa_exclusion(record, runs, schema)
        if why is None:
            kept.append(_ratings(record, schema))
        else:
            excluded.append({"record": record.index, **why})
    kappa = None
    tokens = sum(len(r) for r in kept)
    if kept:
        table, _ = aggregate_raters(np.concatenate(kept), n_cat=len(schema))
        shares = table.sum(axis=0) / table.sum()
        if float((shares ** 2).sum()) < 1.0:
            kappa = float(fleiss_kappa(table, method="fleiss"))
    return {"kappa": kappa, "records_used": len(kept), "records_excluded": len(excluded), "excluded": excluded,
            "tokens": tokens, "runs": runs}


def _run_spans(run: Any, schema: Sequence[str]) -> set:
    tags = [t if isinstance(t, str) and t in schema else "O" for t in run_tags(run) or []]
    return set(iob_to_spans(tags))


def entity_agreement(records: Sequence[Record], runs: int = PAPER_RUNS,
                     schema: Sequence[str] = SCHEMA) -> Dict[str, Any]:
    """Entity-level agreement between runs, on the same records as Fleiss' kappa (no gold involved).

    ``pairwise_entity_f1``: F1 between two runs' entity sets (exact span and type), pooled (micro) over all
    run pairs of all records: sum of 2|A&B| over sum of |A|+|B|. ``unanimous_entity_share``: of the distinct
    entities any run found in a record, the share that every run found. ``None`` when no run found any.
    """
    overlap = size = unanimous = distinct = used = 0
    for record in records:
        if kappa_exclusion(record, runs, schema) is not None:
            continue
        used += 1
        spans = [_run_spans(run, schema) for run in record.runs]
        for a, b in combinations(spans, 2):
            overlap += 2 * len(a & b)
            size += len(a) + len(b)
        union = set().union(*spans)
        distinct += len(union)
        unanimous += len(set.intersection(*spans)) if spans else 0
    return {"pairwise_entity_f1": overlap / size if size else None,
            "unanimous_entity_share": unanimous / distinct if distinct else None,
            "distinct_entities": distinct, "records_used": used}
