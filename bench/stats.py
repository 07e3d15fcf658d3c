"""The benchmarks' statistics, in one place: mean ± sd, paired and Welch 95% t-intervals, target verdicts.

Every comparison of two arms that share seeds is paired by seed; unpaired samples get Welch's interval.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
from scipy import stats


def mean_sd(values: Sequence[float]) -> str:
    """``mean ± sd (n=..)``."""
    if not len(values):
        return "-"
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.2f} ± {sd:.2f} (n={len(values)})"


def paired(a: Dict[int, float], b: Dict[int, float]) -> str:
    """Mean of ``a - b`` over the seeds both have, with a 95% t-interval: ``+1.23 [+0.10, +2.36] (n=5)``."""
    seeds = sorted(set(a) & set(b))
    diffs = np.array([a[s] - b[s] for s in seeds])
    if len(diffs) == 0:
        return "-"
    if len(diffs) == 1:
        return f"{diffs[0]:+.2f} (n=1)"
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=stats.sem(diffs)) \
        if diffs.std() > 0 else (diffs.mean(), diffs.mean())
    return f"{diffs.mean():+.2f} [{low:+.2f}, {high:+.2f}] (n={len(diffs)})"


def interval(values: Sequence[float]) -> Tuple[float, float, float]:
    """Mean and 95% t-interval."""
    array = np.asarray(values, dtype=float)
    if len(array) < 2 or array.std() == 0:
        return float(array.mean()), float(array.mean()), float(array.mean())
    low, high = stats.t.interval(0.95, len(array) - 1, loc=array.mean(), scale=stats.sem(array))
    return float(array.mean()), float(low), float(high)


def verdict(mean: float, low: float, high: float, target: float, n: int = 2) -> str:
    """``met`` when the interval lies at or above the target, ``missed`` when the mean is below it, else
    ``not shown`` (the mean reaches it, the interval does not); one seed gives no interval and no verdict."""
    if n < 2:
        return "n=1: no interval"
    if low >= target:
        return "**met**"
    return "missed" if mean < target else "not shown"


def share_cells(a: Dict[int, float], ref: Dict[int, float], target: float) -> str:
    """Two table cells: ``a`` as a share of ``ref`` over the seeds both have (%, 95% t-interval), and its verdict on
    ``target`` (%); ``- | -`` when they share no seed."""
    seeds = sorted(set(a) & set(ref))
    if not seeds:
        return "- | -"
    share = interval([100 * a[s] / ref[s] for s in seeds])
    return f"{share[0]:.1f}% [{share[1]:.1f}, {share[2]:.1f}] | {verdict(*share, target, len(seeds))}"


def gain_cells(a: Dict[int, float], ref: Dict[int, float], target: float) -> str:
    """Two table cells: ``a - ref`` over the seeds both have (95% t-interval), and its verdict on ``target``."""
    seeds = sorted(set(a) & set(ref))
    if not seeds:
        return "- | -"
    gain = interval([a[s] - ref[s] for s in seeds])
    return f"{gain[0]:+.2f} [{gain[1]:+.2f}, {gain[2]:+.2f}] | {verdict(*gain, target, len(seeds))}"


def welch(a: Sequence[float], b: Sequence[float]) -> str:
    """Mean of ``a`` minus mean of ``b`` with a 95% Welch interval (unpaired samples)."""
    if len(a) < 2 or len(b) < 2:
        return "-"
    diff = float(np.mean(a) - np.mean(b))
    if np.var(a) + np.var(b) == 0:
        return f"{diff:+.2f}"
    low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]"


def mean_over_rounds(f1: Dict[int, Dict[int, float]], rounds: Sequence[int]) -> Dict[int, float]:
    """Per seed, the mean of ``f1[round][seed]`` over ``rounds`` (only the seeds that finished all of them): what
    arms are compared on, paired by seed."""
    seeds = set.intersection(*(set(f1.get(k, {})) for k in rounds)) if rounds else set()
    return {s: float(np.mean([f1[k][s] for k in rounds])) for s in seeds}
