"""Gold-entity hardness for the SIMULATED annotator: how likely a fixed *reference learner* finds each gold entity.

Why: on the recorded GPT-4-Turbo answers, the real model misses or mislabels the gold entities a learner gives a
low probability far more often than the type-and-length tables of the error model do, and its wrong entities are
often spans the learner finds likely too (``docs/benchmarks/simulator_hardness.md``). A loop that judges LLM
labels with its learner is flattered by a simulator that errs at random. The hardness of a gold entity is the
reference learner's probability of its exact span and type (the share of its beam parses that contain it, as
:func:`..policy.judge.judge` computes it), cut into :data:`BUCKETS`; the error model draws the entity's outcome
from tables fitted per ``<type>:<length>:<bucket>`` (format ``spacy-llm-loop.error-profile.v2``).

A hardness file is JSONL, one sentence per line, keyed by :func:`.annotate.sentence_key` of its ``tokens``::

    {"id": "zul-train-17", "tokens": [...], "entities": [[start, end, label, p], ...],
     "candidates": [[start, end, label, p], ...]}

``entities``: the gold entities with p; ``candidates``: other spans the reference learners give p >=
:data:`CANDIDATE_MIN` (the learner's own wrong guesses: a real LLM's boundary, type and spurious errors often
coincide with them). :mod:`.reference` writes such files (``bench/hardness_file.py`` for a language's train split).
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union, cast

from ..errors import InputError
from .annotate import sentence_key

Span = Tuple[int, int, str]
Scored = Tuple[int, int, str, float]
CUTS = (0.2, 0.8)  # 0.2: the label policy's keep_above ("hard" is what the policy would drop)
BUCKETS = ("hard", "unsure", "easy")
CANDIDATE_MIN = 0.05  # a learner span below this is noise, not a guess the learner shares
KINDS = ("boundary", "type", "spurious")  # how a candidate relates to the gold entities
SCRIPT = "bench/hardness_file.py"


def hardness_bucket(p: float, cuts: Sequence[float] = CUTS, names: Sequence[str] = BUCKETS) -> str:
    """The bucket of the reference learners' probability ``p`` of a gold span: ``names[i]``, ``i`` the number of
    ``cuts`` at or below ``p`` (by default ``hard`` p < 0.2, ``unsure`` 0.2 <= p < 0.8, ``easy`` p >= 0.8).

    Why three: the mean of two learners' p is spread, and on the recordings the real GPT-4-Turbo gives a gold
    entity exactly in about 0.4 of its runs below 0.2 (what the label policy drops), about 0.6 between 0.2 and
    0.8 (what it keeps although the learners disagree) and about 0.9 above 0.8; a cut at 0.2 alone would mix the
    last two, whose errors are the ones the policy keeps (``docs/benchmarks/simulator_hardness.md``)."""
    if len(names) != len(cuts) + 1:
        raise ValueError(f"{len(cuts)} cuts need {len(cuts) + 1} bucket names, got {list(names)}")
    return names[sum(p >= cut for cut in cuts)]


def candidate_kind(candidate: Span, gold: Sequence[Span]) -> str:
    """``type`` (a gold span with another type), ``boundary`` (overlaps a gold entity) or ``spurious``."""
    if any(candidate[:2] == g[:2] for g in gold):
        return "type"
    if any(candidate[0] < g[1] and g[0] < candidate[1] for g in gold):
        return "boundary"
    return "spurious"


@dataclass
class Hardness:
    """Per sentence key: the gold spans' p and the reference learners' other likely spans (best first)."""

    entities: Dict[str, Dict[Span, float]] = field(default_factory=dict)
    candidates: Dict[str, List[Scored]] = field(default_factory=dict)
    cuts: Tuple[float, ...] = CUTS
    names: Tuple[str, ...] = BUCKETS
    source: str = ""

    def __len__(self) -> int:
        return len(self.entities)

    def __contains__(self, key: object) -> bool:
        return key in self.entities

    def p(self, key: str, span: Span) -> Optional[float]:
        """The reference learners' probability of gold ``span`` in sentence ``key``; None when not scored."""
        return self.entities.get(key, {}).get(cast(Span, tuple(span)))  # tuple(): a span read from JSON is a list

    def bucket(self, key: str, span: Span) -> Optional[str]:
        """:func:`hardness_bucket` of the gold ``span``; None when the sentence or span was not scored."""
        p = self.p(key, span)
        return None if p is None else hardness_bucket(p, self.cuts, self.names)

    def candidate(self, key: str, span: Span, kind: str) -> Optional[Scored]:
        """The likeliest candidate of ``kind`` for gold ``span``: ``type`` (same span, other label) or
        ``boundary`` (overlapping, other bounds, no other gold entity's span)."""
        gold = list(self.entities.get(key, {}))
        for candidate in self.candidates.get(key, []):
            start, end = candidate[0], candidate[1]
            if kind == "type" and (start, end) == span[:2] and candidate[2] != span[2]:
                return candidate
            if kind == "boundary" and (start, end) != span[:2] and start < span[1] and span[0] < end \
                    and candidate_kind(candidate[:3], [g for g in gold if g != tuple(span)]) == "spurious":
                return candidate
        return None

    def spurious(self, key: str) -> List[Scored]:
        """The candidates that overlap no gold entity (best first)."""
        gold = list(self.entities.get(key, {}))
        return [c for c in self.candidates.get(key, []) if candidate_kind(c[:3], gold) == "spurious"]

    def update(self, other: "Hardness") -> "Hardness":
        """This lookup with ``other``'s sentences added (``other`` wins on a shared key)."""
        self.entities.update(other.entities)
        self.candidates.update(other.candidates)
        return self


def hardness_row(tokens: Sequence[str], entities: Iterable[Sequence[Any]], candidates: Iterable[Sequence[Any]],
                 sentence_id: Optional[str] = None) -> Dict[str, Any]:
    """One line of a hardness file (p rounded to 4 digits, as :func:`..policy.judge.judge` rounds)."""
    row: Dict[str, Any] = {"id": sentence_id} if sentence_id is not None else {}
    row["tokens"] = list(tokens)
    row["entities"] = [[int(s), int(e), str(label), round(float(p), 4)] for s, e, label, p in entities]
    row["candidates"] = [[int(s), int(e), str(label), round(float(p), 4)] for s, e, label, p in candidates]
    return row


def from_rows(rows: Iterable[Dict[str, Any]], source: str = "", cuts: Sequence[float] = CUTS,
              names: Sequence[str] = BUCKETS) -> Hardness:
    """A :class:`Hardness` of hardness-file rows (no file)."""
    hardness = Hardness(cuts=tuple(cuts), names=tuple(names), source=source)
    for row in rows:
        key = sentence_key(row["tokens"])
        hardness.entities[key] = {(int(s), int(e), str(label)): float(p) for s, e, label, p in row["entities"]}
        scored = [(int(s), int(e), str(label), float(p)) for s, e, label, p in row.get("candidates", [])]
        hardness.candidates[key] = sorted(scored, key=lambda c: (-c[3], c[:3]))
    return hardness


def read_hardness(path: Union[str, Path], cuts: Sequence[float] = CUTS, names: Sequence[str] = BUCKETS) -> Hardness:
    """The hardness file at ``path``; an :class:`InputError` naming the file (and how to make it) when it is
    missing or a line is not a hardness row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"hardness file not found: make it with 'python {SCRIPT} <lang> --output {path}' (the "
                         "reference learners' probabilities of the train split's gold entities)", path)
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row.get("tokens"), list) or not isinstance(row.get("entities"), list):
                    raise ValueError("needs 'tokens' and 'entities' lists")
                for s, e, label, p in row["entities"] + row.get("candidates", []):
                    float(p)
            except (ValueError, TypeError, AttributeError) as err:
                raise InputError(f"not a hardness row ({err})", path, number) from None
            rows.append(row)
    return from_rows(rows, str(path), cuts, names)
