"""Deterministic draws for the error model: hash-seeded numpy Generators and smoothed outcome tables.

Every unit draws from a fixed number of uniforms, so what one unit does never shifts another's draws.
A condition's counts are smoothed towards its family's (all conditions summed) with weight ``smoothing``
(a Dirichlet prior): a gold type or token shape seen rarely borrows from the others, one never seen
uses the family's distribution outright. A *conditioned* cell (a v2 profile's ``<type>:<length>:<bucket>``,
see :mod:`.hardness`) is smoothed the same way one level down, towards its bucket-free condition's smoothed
distribution with weight ``conditioned_smoothing``: a bucket seen rarely keeps close to the v1 behaviour.
"""
import hashlib
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .units import Tables

Distribution = Tuple[List[str], np.ndarray]  # outcomes and their cumulative probabilities


def generator(*parts: Any) -> np.random.Generator:
    """A numpy Generator seeded by the BLAKE2 hash of ``parts`` (JSON), the same on every platform."""
    blob = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.blake2b(blob, digest_size=16).digest(), "little"))


def pick(distribution: Optional[Distribution], u: float, default: str,
         allowed: Optional[Callable[[str], bool]] = None) -> str:
    """The outcome at quantile ``u`` (0-1) of ``distribution`` restricted to the ``allowed`` outcomes
    (renormalised); ``default`` when none is left."""
    if distribution is None:
        return default
    outcomes, cumulative = distribution
    if allowed is not None:
        keep = np.array([allowed(o) for o in outcomes])
        if not keep.all():
            if not keep.any():
                return default
            weights = np.diff(cumulative, prepend=0.0)[keep]
            outcomes, cumulative = [o for o, k in zip(outcomes, keep) if k], np.cumsum(weights) / weights.sum()
    return outcomes[min(int(np.searchsorted(cumulative, u, side="right")), len(outcomes) - 1)]


def _normalised(counts: Dict[str, float]) -> Dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _smoothed(cell: Dict[str, float], family: Dict[str, float], weight: float) -> Optional[Distribution]:
    prior = _normalised(family)
    n = sum(cell.values())
    if n + weight <= 0:
        cell, n, weight = prior, 1.0, 0.0  # nothing seen in this condition and no smoothing: the family's
    mixed = {k: (cell.get(k, 0) + weight * prior.get(k, 0.0)) / (n + weight) for k in set(cell) | set(prior)}
    mixed = {k: v for k, v in sorted(mixed.items()) if v > 0}
    if not mixed:
        return None
    return list(mixed), np.cumsum(list(mixed.values())) / sum(mixed.values())


def _probabilities(distribution: Optional[Distribution]) -> Dict[str, float]:
    if distribution is None:
        return {}
    outcomes, cumulative = distribution
    return dict(zip(outcomes, np.diff(cumulative, prepend=0.0).tolist()))


class OutcomeTables:
    """Smoothed ``base``, ``variation`` and ``alternative`` distributions by family and condition (cached).

    ``conditioned``: tables of finer conditions (``<condition>:<bucket>``), read by :meth:`get_conditioned`.
    """

    def __init__(self, tables: Tables, smoothing: float, conditioned: Optional[Tables] = None,
                 conditioned_smoothing: float = 0.0) -> None:
        self.tables, self.smoothing = tables, smoothing
        self.conditioned, self.conditioned_smoothing = conditioned or {}, conditioned_smoothing
        self._cache: Dict[Tuple[str, ...], Optional[Distribution]] = {}

    def get_conditioned(self, family: str, condition: str, bucket: str, key: str,
                        kind: Optional[str] = None) -> Optional[Distribution]:
        """The distribution of ``key`` in ``<condition>:<bucket>``, smoothed towards :meth:`get`'s for
        ``condition`` (which it is outright when the bucket has no cell)."""
        index = (family, f"{condition}:{bucket}", key, kind or "", "conditioned")
        if index not in self._cache:
            prior = self.get(family, condition, key, kind)
            cell = self.conditioned.get(family, {}).get(f"{condition}:{bucket}")
            counts = {} if cell is None else cell[key] if kind is None else cell[key].get(kind, {})
            self._cache[index] = _smoothed(dict(counts), _probabilities(prior), self.conditioned_smoothing) \
                if counts else prior
        return self._cache[index]

    def get(self, family: str, condition: str, key: str, kind: Optional[str] = None) -> Optional[Distribution]:
        """The distribution of ``key`` (``base``; ``variation``/``alternative`` of class ``kind``)."""
        index = (family, condition, key, kind or "")
        if index not in self._cache:
            self._cache[index] = _smoothed(self._counts(family, condition, key, kind),
                                           self._counts(family, None, key, kind), self.smoothing)
        return self._cache[index]

    def _counts(self, family: str, condition: Optional[str], key: str, kind: Optional[str]) -> Dict[str, float]:
        cells = self.tables.get(family, {})
        chosen = [cells[condition]] if condition is not None and condition in cells else \
            [] if condition is not None else list(cells.values())
        total: Dict[str, float] = {}
        for cell in chosen:
            counts = cell[key] if kind is None else cell[key].get(kind, {})
            for outcome, n in counts.items():
                total[outcome] = total.get(outcome, 0) + n
        return total
