"""``spacy-llm-loop.LabelPolicy.v1`` and the short names of its presets (``--label-policy disagree``)."""
import hashlib
import json
from typing import Any, Dict, List, Optional, Union, overload

from spacy.util import registry

from .rules import LabelPolicy

POLICY = "spacy-llm-loop.LabelPolicy.v1"
# Short name -> settings. `trust` is the paper's behaviour; the others are the rules of .rules, alone and combined.
PRESETS: Dict[str, Dict[str, Any]] = {
    "trust": {},
    "types": {"distrust": "audit"},
    "disagree": {"keep_above": 0.2},
    "disagree-both": {"keep_above": 0.2, "learner_adds_above": 0.9},
    "disagree-rejudge": {"keep_above": 0.2, "rejudge": True},
    "gold3": {"gold_weight": 3},
    "disagree-gold3": {"keep_above": 0.2, "gold_weight": 3},
    "disagree-both-gold3": {"keep_above": 0.2, "learner_adds_above": 0.9, "gold_weight": 3},
    "disagree05-gold3": {"keep_above": 0.05, "gold_weight": 3},
    "disagree05-audit-gold3": {"keep_above": 0.05, "keep_above_unreliable": 0.2, "gold_weight": 3},
    "disagree-doubto-gold3": {"keep_above": 0.2, "doubt_o_above": 0.05, "gold_weight": 3},
    "disagree05-audit-doubto-gold3": {"keep_above": 0.05, "keep_above_unreliable": 0.2, "doubt_o_above": 0.05,
                                      "gold_weight": 3},
    "combined": {"distrust": "audit", "keep_above": 0.2, "gold_weight": 3},
}
POLICY_NAMES = tuple(PRESETS)


def label_policy_block(name: str) -> Dict[str, Any]:
    """The config block of a preset's short name (a ValueError listing the names if unknown)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown label policy '{name}'; choose one of {', '.join(POLICY_NAMES)}")
    return {"@misc": POLICY, "name": name, **PRESETS[name]}


def policy_tag(policy: LabelPolicy) -> str:
    """The policy's part of a run's name and of the report's curves: its name when its settings are its preset's,
    else the name and a digest of the settings (``disagree-3f2a1c``), so that runs of two settings never share a
    folder or a curve."""
    preset = PRESETS.get(policy.name)
    if preset is not None and make_label_policy(name=policy.name, **preset) == policy:
        return policy.name
    digest = hashlib.sha256(json.dumps(policy.identity(), sort_keys=True).encode("utf-8")).hexdigest()[:6]
    return f"{policy.name}-{digest}"


@registry.misc(POLICY)
def make_label_policy(name: str = "trust", distrust: Union[str, List[str], None] = None, min_precision: float = 0.6,
                      keep_above: Optional[float] = None, learner_adds_above: Optional[float] = None,
                      gold_weight: int = 1, rejudge: bool = False,
                      keep_above_unreliable: Optional[float] = None,
                      doubt_o_above: Optional[float] = None) -> LabelPolicy:
    """A label policy (see :mod:`.rules`).

    name: its short name in run folders and reports.
    distrust: types whose entities become missing, or ``"audit"``: the types whose audited precision is shown
        below ``min_precision`` (the upper end of its 95% interval lies below it).
    keep_above: the learner's probability an answer's entity needs to be kept (null: every entity kept).
    learner_adds_above: the learner's probability at which its own entity, absent from the answer, makes those
        tokens missing (null: off).
    gold_weight: how many times the gold seed counts in each round's training data (rounds with annotated data).
    rejudge: every round, judge all earlier answers again with the newest model (not only the round's own).
    keep_above_unreliable: ``keep_above`` for the types the audit shows unreliable (null: ``keep_above`` for all).
    doubt_o_above: the learner's probability that a token lies inside some entity at which the answer's ``O`` there
        becomes missing (null: off).
    """
    return LabelPolicy(name=name, distrust=distrust if isinstance(distrust, str) else tuple(distrust or ()),
                       min_precision=_threshold(min_precision), keep_above=_threshold(keep_above),
                       learner_adds_above=_threshold(learner_adds_above), gold_weight=int(gold_weight),
                       rejudge=bool(rejudge), keep_above_unreliable=_threshold(keep_above_unreliable),
                       doubt_o_above=_threshold(doubt_o_above))


@overload
def _threshold(value: float) -> float:
    ...


@overload
def _threshold(value: None) -> None:
    ...


def _threshold(value: Optional[float]) -> Optional[float]:
    """A probability threshold rounded to 6 places: srsly's JSON reader gives 0.6000000000000001 for the 0.6 a
    run's ``loop.json`` holds, which would otherwise make a preset's run look like a policy of its own."""
    return None if value is None else round(float(value), 6)
