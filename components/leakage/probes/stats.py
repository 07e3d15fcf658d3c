"""Proportions with exact intervals, the one-sided tests the probes pre-state, and the chance correction.

Intervals are Clopper-Pearson ("exact"): conservative, valid at every sample size and at rates of 0
or 1, where Wald intervals fail. Tests are one-sided because only *more* recognition than a model
that does not know the data is evidence of memorisation.
"""
import math
from typing import Any, Dict, Sequence

import numpy as np
from scipy.stats import binomtest, wilcoxon

LEVEL = 0.95


def proportion(successes: int, trials: int, level: float = LEVEL) -> Dict[str, Any]:
    """``successes / trials`` with its Clopper-Pearson interval; no trials: value None, interval [0, 1]."""
    if trials == 0:
        return {"value": None, "successes": 0, "trials": 0,
                "interval": {"method": "clopper-pearson", "level": level, "low": 0.0, "high": 1.0}}
    ci = binomtest(successes, trials).proportion_ci(confidence_level=level, method="exact")
    return {"value": successes / trials, "successes": successes, "trials": trials,
            "interval": {"method": "clopper-pearson", "level": level, "low": float(ci.low), "high": float(ci.high)}}


def binomial_greater(successes: int, trials: int, null_rate: float) -> Dict[str, Any]:
    """Exact one-sided binomial test of H0: rate <= ``null_rate`` against rate > ``null_rate``."""
    if not 0.0 <= null_rate < 1.0:
        raise ValueError(f"the null rate must be in [0, 1), got {null_rate}")
    p = float(binomtest(successes, trials, null_rate, alternative="greater").pvalue) if trials else 1.0
    return {"name": "exact binomial test (scipy.stats.binomtest), one-sided", "null": f"rate <= {null_rate:g}",
            "alternative": "greater", "null_rate": null_rate, "p_value": p}


def share_from_rate(rate: Dict[str, Any], chance: float) -> Dict[str, Any]:
    """The memorised share ``p`` from a quiz rate ``r = p + (1 - p) * chance``: ``p = (r - chance) / (1 - chance)``.

    The map is increasing, so the rate's interval endpoints map to an interval for ``p`` with the same
    coverage; everything is clipped to [0, 1] (the unclipped estimate is kept, it can be negative).
    """
    if not 0.0 <= chance < 1.0:
        raise ValueError(f"the chance rate must be in [0, 1), got {chance}")

    def to_share(r: float) -> float:
        return (r - chance) / (1.0 - chance)

    raw = to_share(rate["value"]) if rate["value"] is not None else None
    return {"estimate": None if raw is None else min(max(raw, 0.0), 1.0), "estimate_unclipped": raw,
            "low": max(to_share(rate["interval"]["low"]), 0.0),
            "high": min(max(to_share(rate["interval"]["high"]), 0.0), 1.0),
            "level": rate["interval"]["level"], "formula": f"(rate - {chance:g}) / (1 - {chance:g})"}


def share_from_proportion(share: Dict[str, Any], formula: str) -> Dict[str, Any]:
    """A proportion read directly as the memorised share (no chance correction), in the same shape."""
    return {"estimate": share["value"], "estimate_unclipped": share["value"], "low": share["interval"]["low"],
            "high": share["interval"]["high"], "level": share["interval"]["level"], "formula": formula}


def wilcoxon_greater(first: Sequence[float], second: Sequence[float]) -> Dict[str, Any]:
    """Paired one-sided Wilcoxon signed-rank test of H0: ``first - second`` is symmetric about <= 0.

    Zero differences are dropped (``zero_method="wilcox"``); with no non-zero difference the p-value is 1.
    """
    diff = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    nonzero = int(np.count_nonzero(diff))
    p = float(wilcoxon(diff, alternative="greater", zero_method="wilcox").pvalue) if nonzero else 1.0
    return {"name": "Wilcoxon signed-rank test (scipy.stats.wilcoxon, zero_method='wilcox'), one-sided",
            "null": "guided - general similarity symmetric about 0", "alternative": "greater",
            "pairs": int(diff.size), "nonzero_pairs": nonzero,
            "median_difference": float(np.median(diff)) if diff.size else None,
            "p_value": 1.0 if math.isnan(p) else p}
