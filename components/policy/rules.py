"""Label policies: what the learner is taught from an annotator's answer, token by token.

spaCy's NER learns from partial annotation: a token whose entity annotation is *missing* carries no loss (``-``
in BILUO; ``Doc.set_ents(..., missing=...)``). A policy keeps the answer's entities it trusts and marks the rest
missing, never inventing an entity. The rules, each off unless set:

- ``distrust``: entities of these types (``"audit"``: the types the audit shows unreliable, see
  :func:`..audit.unreliable_types`) become missing, and so do the learner's own predictions of them (p >= 0.5);
  the answer's ``O`` tokens stay ``O``, so where the annotator missed such an entity the learner is still taught
  "not an entity" (a type is not learnt from gold sentences alone);
- ``keep_above``: an entity the learner finds less likely than this (its probability of the exact span and type,
  :mod:`.judge`) becomes missing, together with the learner's entities overlapping it;
- ``keep_above_unreliable``: the same threshold for the entities of the types the audit shows unreliable (see
  ``distrust``), so that a lower ``keep_above`` can let in more of the types the annotator gets right;
- ``learner_adds_above``: an entity the learner predicts with at least this probability and the answer leaves
  out becomes missing (the answer's ``O`` there is in doubt);
- ``doubt_o_above``: an answer's ``O`` token that the learner puts inside some entity with at least this
  probability (summed over its parses, whatever the span or type) becomes missing. An entity the annotator missed is
  otherwise taught as "not an entity", which holds the learner's recall near its seed's; this is negative sampling
  for partially annotated NER (Li et al., ICLR 2021, arXiv 2012.05426) with the learner choosing which ``O`` to
  leave out instead of chance. Screened with the SIMULATED annotator it costs more precision than it buys recall
  (those ``O`` tokens are where the learner over-predicts; docs/label-policies.md), so it stays opt-in;
- ``gold_weight``: gold (the seed) and reviewed sentences count this many times in each round's training data
  from round 1 (applied by the loop);
- ``rejudge``: every round, all earlier answers are judged again by the newest model (the loop's part), so an
  entity an early, weak learner doubted can be taught once a later learner finds it likely. A later model has
  learnt the entities it was taught, and never the ones made missing, so this mostly re-admits.

Gold and reviewed sentences are never given to a policy. ``trust`` (all off) is the paper's behaviour.
"""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..data.iob import iob_to_spans

Span = Tuple[int, int, str]
Missing = Tuple[int, int, str]  # start, end (exclusive), reason
LEARNER_TYPE_MIN = 0.5  # a learner entity of a distrusted type this likely makes its tokens missing


@dataclass(frozen=True)
class Decision:
    """What the learner is taught for one sentence: the entities kept and the token ranges made missing."""

    ents: List[Span]
    missing: List[Missing]
    removed: List[Span] = field(default_factory=list)  # the answer's entities not kept

    @property
    def n_missing(self) -> int:
        """Tokens made missing."""
        return sum(e - s for s, e, _ in self.missing)

    def to_meta(self) -> Dict[str, Any]:
        """The record kept in the sentence's ``meta["label_policy"]`` (Prodigy export, ``labelled.jsonl``)."""
        return {"missing": [list(m) for m in self.missing], "removed": [list(r) for r in self.removed]}


@dataclass(frozen=True)
class LabelPolicy:
    """A label policy (see the module docstring); ``name`` is its short name in run folders and reports."""

    name: str = "trust"
    distrust: Union[str, Tuple[str, ...]] = ()
    min_precision: float = 0.6
    keep_above: Optional[float] = None
    learner_adds_above: Optional[float] = None
    gold_weight: int = 1
    rejudge: bool = False
    keep_above_unreliable: Optional[float] = None
    doubt_o_above: Optional[float] = None

    def __post_init__(self) -> None:
        if isinstance(self.distrust, str) and self.distrust not in ("audit", ""):
            raise ValueError(f"label policy '{self.name}': distrust must be 'audit' or a list of types, "
                             f"got '{self.distrust}'")
        for key in ("keep_above", "learner_adds_above", "keep_above_unreliable", "doubt_o_above"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"label policy '{self.name}': {key} must lie in [0, 1] or be null, got {value}")
        if self.doubt_o_above is not None and self.doubt_o_above <= 0.0:
            raise ValueError(f"label policy '{self.name}': doubt_o_above must lie in (0, 1] (0 would make every O "
                             f"missing), got {self.doubt_o_above}")
        if not 0.0 <= self.min_precision <= 1.0:
            raise ValueError(f"label policy '{self.name}': min_precision must lie in [0, 1], got {self.min_precision}")
        if int(self.gold_weight) < 1:
            raise ValueError(f"label policy '{self.name}': gold_weight must be 1 or more, got {self.gold_weight}")

    @property
    def is_trust(self) -> bool:
        """Whether the policy changes nothing (the paper's behaviour)."""
        return not self.needs_judge and self.gold_weight == 1 and not self.rejudge

    @property
    def needs_judge(self) -> bool:
        """Whether the learner's judgement of each answer is read."""
        return bool(self.distrust) or self.keep_above is not None or self.learner_adds_above is not None \
            or self.keep_above_unreliable is not None or self.doubt_o_above is not None

    @property
    def needs_audit(self) -> bool:
        """Whether the audit's unreliable types decide anything (the distrusted types, or their threshold)."""
        return self.distrust == "audit" or self.keep_above_unreliable is not None

    def identity(self) -> Dict[str, Any]:
        """The settings, for ``run.json`` (a run resumes only with the same policy)."""
        data = asdict(self)
        data["distrust"] = data["distrust"] if isinstance(data["distrust"], str) else list(data["distrust"])
        for later in ("keep_above_unreliable", "doubt_o_above"):  # later settings: runs written before them
            if data[later] is None:  # resume as they were
                del data[later]
        return data

    def distrusted(self, audit_types: Optional[Sequence[str]]) -> Tuple[str, ...]:
        """The types distrusted: the configured list, or under ``"audit"`` the audit's unreliable types."""
        if self.distrust == "audit":
            return tuple(audit_types or ())
        return tuple(self.distrust or ())

    def threshold(self, label: str, unreliable: Sequence[str] = ()) -> Optional[float]:
        """The learner's probability an entity of type ``label`` needs to be kept (None: kept whatever it is);
        ``unreliable``: the audit's unreliable types."""
        if self.keep_above_unreliable is not None and label in unreliable:
            return self.keep_above_unreliable
        return self.keep_above

    def apply(self, tags: Sequence[str], judgement: Optional[Dict[str, Any]],
              distrusted: Sequence[str] = (), unreliable: Sequence[str] = ()) -> Decision:
        """The :class:`Decision` for one answer (IOB2 ``tags``) given the learner's ``judgement`` (None: no model
        judged it, e.g. a seed the annotator labelled; then only the type rule applies, to the answer's
        entities). ``unreliable``: the audit's unreliable types (for ``keep_above_unreliable``)."""
        n = len(tags)
        llm = iob_to_spans(list(tags))
        reason: List[Optional[str]] = [None] * n

        def mark(start: int, end: int, why: str) -> None:
            for i in range(start, end):
                reason[i] = reason[i] or why

        judged = judged_entities(judgement)
        learner = [(int(s), int(e), str(lab), float(p)) for s, e, lab, p in (judgement or {}).get("learner", [])]
        for s, e, label in llm:
            if label in distrusted:
                mark(s, e, f"type:{label}")
        for s, e, label, p in learner:
            if label in distrusted and p >= LEARNER_TYPE_MIN:
                mark(s, e, f"learner-type:{label}")
        if judgement is not None:
            for s, e, label in llm:
                threshold = self.threshold(label, unreliable)
                if threshold is not None and judged.get((s, e, label), 0.0) < threshold:
                    mark(s, e, "learner-rejects")
                    for ls, le, _, _ in learner:
                        if ls < e and s < le:
                            mark(ls, le, "learner-rejects")
        if judgement is not None and self.learner_adds_above is not None:
            for s, e, label, p in learner:
                if p >= self.learner_adds_above and (s, e, label) not in llm:
                    mark(s, e, "learner-adds")
        if judgement is not None and self.doubt_o_above is not None:
            in_entity = judgement.get("in_entity")
            if in_entity is None or len(in_entity) != n:
                raise ValueError(f"label policy '{self.name}': doubt_o_above needs each token's 'in_entity' in the "
                                 f"judgement of sentence '{judgement.get('id')}' (judged by an older version?)")
            for i, (tag, p) in enumerate(zip(tags, in_entity)):
                if tag == "O" and p >= self.doubt_o_above:
                    mark(i, i + 1, "learner-doubts-o")
        for s, e, _ in llm:  # an entity cut by a missing stretch is not taught by halves
            if any(reason[s:e]) and not all(reason[s:e]):
                for i in range(s, e):
                    reason[i] = reason[i] or "overlap"
        kept = [span for span in llm if not any(reason[span[0]:span[1]])]
        return Decision(kept, _ranges(reason), [span for span in llm if span not in kept])


def judged_entities(judgement: Optional[Dict[str, Any]]) -> Dict[Tuple[Any, ...], float]:
    """The learner's probability of each entity of the answer, by ``(start, end, label)`` (empty without a
    judgement)."""
    return {tuple(x[:3]): float(x[3]) for x in (judgement or {}).get("llm", [])}


def _ranges(reason: Sequence[Optional[str]]) -> List[Missing]:
    """Maximal runs of tokens with the same reason."""
    out: List[Missing] = []
    for i, why in enumerate(reason):
        if why is None:
            continue
        if out and out[-1][1] == i and out[-1][2] == why:
            out[-1] = (out[-1][0], i + 1, why)
        else:
            out.append((i, i + 1, why))
    return out
