"""Uncertainty weighed against the annotator's expected label quality.

After LLMaAA (Zhang et al., "LLMaAA: Making Large Language Models as Active Annotators", Findings of EMNLP 2023,
arXiv 2310.19596): an LLM annotator errs, most where sentences are hard, so a query spent where its labels will be
wrong teaches little. The score is the learner's mean token entropy times ``exp(-weight * E)``, where ``E`` is the
number of wrong entities the annotator is expected to give the sentence, from its audit on the gold seed: for each
entity the learner predicts there (with confidence ``c``), ``c * (1 - the audited precision of its type)``, plus
the audit's spurious entities per gold ``O`` token times the sentence's length. Without an audit (an oracle, or no
gold seed), ``E`` is 0 and the strategy is mean entropy.
"""
import math
from typing import AbstractSet, Any, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np
from spacy.tokens import Doc

from .base import QuerySize, Selection, record_scores, top_selection

CONFIDENCE_KEY = "ent_confidence"  # doc._.uncertainty: "start:end:label" -> the learner's confidence


class QualityWeightedStrategy:
    """Mean entropy times the annotator's expected label quality (see the module docstring)."""

    needs_model = True

    def __init__(self, name: str = "entropy-quality", weight: float = 1.0) -> None:
        if weight < 0:
            raise ValueError(f"strategy '{name}': weight must be 0 or more, got {weight}")
        self.name, self.weight = name, weight
        self.precision: Dict[str, float] = {}
        self.spurious_rate = 0.0

    def use_audit(self, audit: Optional[Dict[str, Any]]) -> None:
        """Read the per-type precision and the spurious-entity rate off the annotator's audit (None: no audit)."""
        if not audit:
            self.precision, self.spurious_rate = {}, 0.0
            return
        self.precision = {label: s["p"] for label, s in audit["per_type"].items() if s.get("p") is not None}
        self.spurious_rate = audit.get("spurious", 0) / max(1, audit.get("o_tokens", 0))

    def expected_errors(self, doc: Doc) -> float:
        """``E`` for one scored pool doc."""
        return self._expected(doc._.get("uncertainty") or {}, len(doc))

    def _expected(self, scores: Mapping[str, Any], n_tokens: int) -> float:
        """``E`` from a sentence's scores (``doc._.uncertainty`` or its saved record) and its length."""
        errors = self.spurious_rate * n_tokens if self.precision else 0.0
        for key, confidence in (scores.get(CONFIDENCE_KEY) or {}).items():
            label = key.rsplit(":", 1)[-1]
            errors += float(confidence) * (1.0 - self.precision.get(label, 1.0))
        return errors

    def _score(self, scores: Optional[Mapping[str, Any]], n_tokens: int, missing: str) -> float:
        """One sentence's weighted entropy; ``missing``: the error that names it when it has no entropy."""
        if not scores or "mean_entropy" not in scores:
            raise ValueError(missing)
        return float(scores["mean_entropy"]) * math.exp(-self.weight * self._expected(scores, n_tokens))

    def __call__(self, pool: Sequence[Doc], size: QuerySize, *, exclude: AbstractSet[int] = frozenset(),
                 reference_size: Optional[int] = None, seed: int = 0) -> Selection:
        scores = [self._score(doc._.get("uncertainty") if doc.has_extension("uncertainty") else None, len(doc),
                              f"Pool item {i} ({doc.text[:40]!r}) has no mean_entropy in doc._.uncertainty")
                  for i, doc in enumerate(pool)]
        return top_selection(self.name, scores, [len(d) for d in pool], size, exclude, reference_size, seed)

    def select_scores(self, records: Iterable[Mapping[str, Any]], lengths: Sequence[int], size: QuerySize, *,
                      reference_size: Optional[int] = None, seed: int = 0,
                      vectors: Optional[np.ndarray] = None) -> Selection:
        """The same choice from the saved score records (their ``ent_confidence``) and lengths, without Docs."""
        scores = record_scores(records, lengths, lambda i, record, n_tokens: self._score(
            record, n_tokens, f"Pool item {i} ({record.get('id')}) has no mean_entropy in its score record"))
        return top_selection(self.name, scores, lengths, size, frozenset(), reference_size, seed)
