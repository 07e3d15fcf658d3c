"""Which of a round's LLM-labelled sentences a person should see first: by doubt, by residual doubt, or at random.

The doubt of a sentence is the expected number of its entities that are wrong or missing, as far as the run can
tell: for every entity the LLM gave, the chance the learner that chose the sentence gives it none (``1 - p``, from
the learner's judgement, ``judged.jsonl``); for every entity the learner predicts and the LLM did not give, the
learner's probability of it (an entity the LLM may have missed: the recall the label policy cannot recover);
and one for every LLM entity of a type the label policy distrusts (by the audit, or by name). Ties go to the longer
sentence, then the id. ``random`` draws the same number of sentences with the run's seed: the comparison the
benchmark makes, and the fallback when nothing is in doubt.

``residual`` counts only the doubt the label policy leaves in what the learner is taught: the ``1 - p`` of the LLM
entities the policy keeps, and the ``p`` of the learner's entities that the answer leaves out where the policy makes
no token missing (taught as ``O``, or as the answer's overlapping entity). What the policy already made missing teaches
nothing wrong, so it adds nothing (under ``rejudge`` a later round may still re-admit it, unreviewed). Why: with the
``doubt`` ranking a reviewer changes nearly every sentence sent, yet the learner gains little more than from a
random draw, and most of what that ranking counts is what the policy had already taken out of training.
"""
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..data.iob import iob_to_spans
from ..policy.rules import LabelPolicy, judged_entities
from .settings import RANKS

Scored = Tuple[int, int, str, float]


@dataclass
class Doubt:
    """One sentence's doubt and why (token ranges ``[start, end, label, p]``)."""

    id: str
    score: float
    llm_doubted: List[List[Any]] = field(default_factory=list)
    learner_only: List[List[Any]] = field(default_factory=list)
    distrusted: List[List[Any]] = field(default_factory=list)
    missing: Optional[List[List[Any]]] = None  # ``residual``: the token ranges the policy made missing

    def why(self) -> Dict[str, Any]:
        """What the review task's meta says about why the sentence was chosen."""
        out = {"doubt": round(self.score, 4), "llm_entities_the_learner_doubts": self.llm_doubted,
               "learner_entities_the_llm_missed": self.learner_only, "entities_of_distrusted_types": self.distrusted}
        return out if self.missing is None else {**out, "made_missing_by_the_label_policy": self.missing}


def doubt(sid: str, tags: Sequence[str], judgement: Optional[Mapping[str, Any]],
          distrusted: Sequence[str] = ()) -> Doubt:
    """The doubt of one answer (see the module docstring); without a judgement only distrusted types count."""
    out = Doubt(sid, 0.0)
    llm = [tuple(e) for e in (judgement or {}).get("llm", [])] or [(s, e, t, None) for s, e, t in iob_to_spans(tags)]
    given = {(s, e, t) for s, e, t, _ in llm}
    for s, e, t, p in llm:
        if p is not None:
            out.score += 1.0 - p
            if p < 0.5:
                out.llm_doubted.append([s, e, t, p])
        if t in distrusted:
            out.score += 1.0
            out.distrusted.append([s, e, t, p])
    for s, e, t, p in (judgement or {}).get("learner", []):
        if (s, e, t) not in given:
            out.score += p
            if p >= 0.5:
                out.learner_only.append([s, e, t, p])
    return out


def residual_doubt(sid: str, tags: Sequence[str], judgement: Optional[Mapping[str, Any]], policy: LabelPolicy,
                   distrusted: Sequence[str] = (), unreliable: Sequence[str] = ()) -> Doubt:
    """The doubt of one answer that the label policy leaves in what the learner is taught (``residual``, see the
    module docstring); without a judgement nothing is in doubt."""
    if judgement is None:
        return Doubt(sid, 0.0, missing=[])
    decision = policy.apply(tags, dict(judgement), distrusted, unreliable)
    out = Doubt(sid, 0.0, missing=[list(m) for m in decision.missing])
    untaught = {i for s, e, _ in decision.missing for i in range(s, e)}
    judged = judged_entities(dict(judgement))
    for s, e, t in decision.ents:
        p = judged.get((s, e, t), 0.0)
        out.score += 1.0 - p
        if p < 0.5:
            out.llm_doubted.append([s, e, t, p])
    given = set(iob_to_spans(list(tags)))
    for s, e, t, p in judgement.get("learner", []):
        if (s, e, t) not in given and not untaught.intersection(range(s, e)):
            out.score += p
            if p >= 0.5:
                out.learner_only.append([s, e, t, p])
    return out


def review_order(answers: Sequence[Tuple[str, Sequence[str]]], judgements: Mapping[str, Mapping[str, Any]],
                 distrusted: Sequence[str], rank: str, seed: int, policy: Optional[LabelPolicy] = None,
                 unreliable: Sequence[str] = ()) -> Tuple[List[Doubt], str]:
    """Every answer ``(id, tags)`` with its doubt, in the order a person should review them, and the ranking used:
    ``doubt`` and ``residual`` fall back to ``random`` when no answer has any doubt (for ``doubt``: no judgement
    and no distrusted type; for ``residual``: no judgement, as in a run without a gold seed), since ranking by
    length alone would only pick the longest sentences. ``residual`` needs the run's label ``policy`` (and the
    audit's ``unreliable`` types)."""
    if rank not in RANKS:
        raise ValueError(f"unknown review ranking '{rank}' ({', '.join(RANKS)})")
    if rank == "residual":
        policy = policy or LabelPolicy()
        doubts = [residual_doubt(sid, tags, judgements.get(sid), policy, distrusted, unreliable)
                  for sid, tags in answers]
    else:
        doubts = [doubt(sid, tags, judgements.get(sid), distrusted) for sid, tags in answers]
    if rank == "random" or not any(d.score > 0 for d in doubts):
        random.Random(seed).shuffle(doubts)
        return doubts, "random"
    length = {sid: len(tags) for sid, tags in answers}
    return sorted(doubts, key=lambda d: (-d.score, -length[d.id], d.id)), rank
