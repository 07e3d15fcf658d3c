"""``spacy-llm-loop.Review.v1``: how much of each round's LLM labels a person reviews, which, who, and whether
the loop waits.

budget: ``"0"`` (no review), a share of the round's LLM-labelled sentences (``"10%"``), a count (``"20"``) or
    reviewer minutes (``"30min"``: as many of the most doubtful sentences as fit, at the central estimate of
    :mod:`.timing`).
rank: ``"doubt"`` (:mod:`.rank`), ``"residual"`` (only the doubt the label policy leaves in what is taught) or
    ``"random"`` (a seeded draw of the same size: the comparison).
reviewer: ``"prodigy"`` (a person, with Prodigy or anything that writes its JSONL) or ``"simulated"`` (the
    SIMULATED reviewer of the benchmarks: it answers with the gold labels).
wait: wait for the answers (the loop stops and is rerun once they are in), or train on what is answered and
    merge late answers in the next round.
"""
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

from spacy.util import registry

from .timing import review_seconds

REVIEW = "spacy-llm-loop.Review.v1"
RANKS = ("doubt", "residual", "random")
REVIEWERS = ("prodigy", "simulated")


@dataclass(frozen=True)
class ReviewSettings:
    """A parsed ``[review]`` block (see the module docstring)."""

    budget: str = "0"
    rank: str = "doubt"
    reviewer: str = "prodigy"
    wait: bool = True

    def __post_init__(self) -> None:
        parse_budget(self.budget)
        if self.rank not in RANKS:
            raise ValueError(f"review.rank must be one of {', '.join(RANKS)}; got '{self.rank}'")
        if self.reviewer not in REVIEWERS:
            raise ValueError(f"review.reviewer must be one of {', '.join(REVIEWERS)}; got '{self.reviewer}'")

    @property
    def active(self) -> bool:
        """Whether anything is reviewed at all."""
        return parse_budget(self.budget)[0] > 0

    @property
    def simulated(self) -> bool:
        """Whether the reviewer is the SIMULATED one."""
        return self.reviewer == "simulated"

    def n_to_review(self, n_labelled: int, words: Optional[list] = None) -> int:
        """How many of a round's ``n_labelled`` LLM-labelled sentences to review; with a minutes budget, ``words``
        is the word count of each sentence in review order."""
        value, unit = parse_budget(self.budget)
        if unit == "share":
            return min(n_labelled, math.floor(value * n_labelled + 0.5))
        if unit == "count":
            return min(n_labelled, int(value))
        spent, n = 0.0, 0
        for count in words or []:
            spent += review_seconds(count)["central"]
            if spent > 60 * value:
                break
            n += 1
        return n

    def tag(self) -> str:
        """The part of a run's folder name: ``rv10pct``, ``rv20``, ``rv30min``, then ``-random`` or ``-residual``,
        ``-simrev``.
        ``wait`` is not part of it: a run may stop waiting (or start) when it is resumed."""
        value, unit = parse_budget(self.budget)
        amount = {"share": f"{100 * value:g}pct", "count": f"{int(value)}", "minutes": f"{value:g}min"}[unit]
        return "rv" + amount + ("" if self.rank == "doubt" else f"-{self.rank}") + ("-simrev" if self.simulated else "")

    def to_dict(self) -> Dict[str, Any]:
        """As written to ``loop.json``."""
        return asdict(self)

    def identity(self) -> Dict[str, Any]:
        """What makes a reviewed run this run (``run.json``): not ``wait``, which may change on resume."""
        return {k: v for k, v in asdict(self).items() if k != "wait"}


def parse_budget(text: Any) -> tuple:
    """``(value, unit)`` with unit ``share``, ``count`` or ``minutes``; a ValueError with examples if unreadable."""
    raw = str(text).strip().lower()
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(%|min|minutes)?", raw)
    if not match:
        raise ValueError(f"cannot read review budget '{text}' (examples: 0, 10%, 20, 30min)")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        if number > 100:
            raise ValueError(f"review budget '{text}' is more than 100% of the round's sentences")
        return number / 100, "share"
    if unit in ("min", "minutes"):
        return number, "minutes"
    if not number.is_integer():
        raise ValueError(f"review budget '{text}': a count of sentences is a whole number (a share is '10%')")
    return number, "count"


def review_block(budget: str, rank: Optional[str] = None, reviewer: Optional[str] = None,
                 wait: Optional[bool] = None) -> Dict[str, Any]:
    """The ``[review]`` config block of the command-line options (unset ones take the defaults)."""
    block: Dict[str, Any] = {"@misc": REVIEW, "budget": str(budget)}
    for key, value in (("rank", rank), ("reviewer", reviewer), ("wait", wait)):
        if value is not None:
            block[key] = value
    return block


@registry.misc(REVIEW)
def make_review(budget: str = "0", rank: str = "doubt", reviewer: str = "prodigy", wait: bool = True) -> ReviewSettings:
    """Review settings (see the module docstring)."""
    return ReviewSettings(budget=str(budget), rank=rank, reviewer=reviewer, wait=bool(wait))
