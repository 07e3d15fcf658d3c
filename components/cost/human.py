"""What people would cost to label the same sentences: a documented, configurable model with ranges.

hours = words / words_per_hour x annotators_per_item x (1 + adjudication_overhead); cost = hours x hourly_usd.
Every input is a (low, high) range, and the cost is given as a range: ``low`` takes the cheap end of every
input (fast annotators, low rate, one annotator, no adjudication), ``high`` the dear end, ``central`` the
midpoint of each. The defaults and their sources are in :data:`DEFAULTS`; set your own.
"""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Tuple

from ..review.timing import FROM_SCRATCH_WORDS_PER_HOUR

Range = Tuple[float, float]


@dataclass(frozen=True)
class HumanCostModel:
    """The assumptions (each a ``(low, high)`` range) and where they come from."""

    words_per_hour: Range = FROM_SCRATCH_WORDS_PER_HOUR  # one range for annotating and, scaled, for reviewing
    hourly_usd: Range = (5.0, 20.0)
    annotators_per_item: Range = (1.0, 3.0)
    adjudication_overhead: Range = (0.0, 0.25)
    sources: Dict[str, str] = field(default_factory=lambda: dict(SOURCES))

    def check(self) -> None:
        """A ValueError naming the first range that is not ``0 < low <= high`` (overhead may be 0)."""
        for name in ("words_per_hour", "hourly_usd", "annotators_per_item", "adjudication_overhead"):
            low, high = getattr(self, name)
            if not (0 <= low <= high) or (name != "adjudication_overhead" and low <= 0):
                raise ValueError(f"human cost model: {name} must be a range 0 < low <= high, got ({low}, {high})")

    def to_dict(self) -> Dict[str, Any]:
        """The assumptions as written to ``metrics/cost.json``."""
        return asdict(self)


SOURCES: Dict[str, str] = {
    "words_per_hour": "2,000-5,500 words per hour: the range measured for expert NER annotation in a clinical "
                      "user study of cost-aware active learning (JAMIA 2019); MasakhaNER's papers state no "
                      "annotation speed. News text in the annotator's own language may be faster or slower",
    "hourly_usd": "an ASSUMPTION (5-20 USD per hour): no rate is published for MasakhaNER; set what you pay",
    "annotators_per_item": "an ASSUMPTION (1-3): one pass, up to three independent annotations per sentence as "
                           "gold-standard datasets are often built; set your own",
    "adjudication_overhead": "an ASSUMPTION (0-25%): extra time to resolve disagreements",
}
DEFAULTS = HumanCostModel()


def _mid(r: Range) -> float:
    return (r[0] + r[1]) / 2


def human_cost(words: int, model: HumanCostModel = DEFAULTS) -> Dict[str, float]:
    """``{"low", "central", "high"}`` USD and hours for ``words`` words (see the module docstring)."""
    model.check()

    def cost(wph: float, rate: float, people: float, overhead: float) -> Tuple[float, float]:
        hours = words / wph * people * (1 + overhead)
        return hours, hours * rate

    low_h, low = cost(model.words_per_hour[1], model.hourly_usd[0], model.annotators_per_item[0],
                      model.adjudication_overhead[0])
    mid_h, mid = cost(_mid(model.words_per_hour), _mid(model.hourly_usd), _mid(model.annotators_per_item),
                      _mid(model.adjudication_overhead))
    high_h, high = cost(model.words_per_hour[0], model.hourly_usd[1], model.annotators_per_item[1],
                        model.adjudication_overhead[1])
    return {"low": low, "central": mid, "high": high, "hours_low": low_h, "hours_central": mid_h,
            "hours_high": high_h}
