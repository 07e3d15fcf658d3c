"""A gold annotator that is slow and logs every request, for the kill-and-resume tests.

Loaded with ``--code``; the log file comes from the environment so that resumed
runs keep the same config (and so the same run identity).
"""
import os
import time
from typing import Iterator, List, Sequence

from spacy.util import registry

from spacy_llm_loop.annotators.base import Annotation, AnnotationRequest
from spacy_llm_loop.annotators.gold import GoldAnnotator
from spacy_llm_loop.annotators.llm import group_by_prompt


class SlowLoggingGold(GoldAnnotator):
    """Gold labels, ``delay`` seconds each, every request id appended to ``$SLOW_GOLD_LOG``."""

    name = "slow-gold"

    def __init__(self, path: str, delay: float) -> None:
        super().__init__(path)
        self.delay = delay

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        for request in requests:
            with open(os.environ["SLOW_GOLD_LOG"], "a", encoding="utf-8") as f:
                f.write(request.id + "\n")
            time.sleep(self.delay)
            yield from super().__call__([request])


@registry.misc("test.SlowLoggingGold.v1")
def make_slow_gold(path: str, delay: float = 0.05) -> SlowLoggingGold:
    return SlowLoggingGold(path, delay)


class BrokenAnnotator(GoldAnnotator):
    """Answers every other request with tags of the wrong length and one with an invalid IOB sequence."""

    name = "broken"

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        for i, answer in enumerate(super().__call__(requests)):
            if i % 2 == 1:
                answer.tags = answer.tags[:-1]
            elif i == 2:
                answer.tags = ["I-PER"] + answer.tags[1:]
            yield answer


@registry.misc("test.BrokenAnnotator.v1")
def make_broken(path: str) -> BrokenAnnotator:
    return BrokenAnnotator(path)


class ForgetfulAnnotator(GoldAnnotator):
    """Answers only the first request it gets."""

    name = "forgetful"

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        yield from super().__call__(requests[:1])


@registry.misc("test.ForgetfulAnnotator.v1")
def make_forgetful(path: str) -> ForgetfulAnnotator:
    return ForgetfulAnnotator(path)


class CrashMidGroupAnnotator(GoldAnnotator):
    """Answers in groups of 2 (as a 2-sentence prompt would) and dies after the 5th answer, mid-group."""

    name = "crashing"

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        for i, answer in enumerate(super().__call__(requests)):
            answer.meta = {"prompt_hash": f"group-{i // 2}", "group_size": 2}
            if i == 5:
                raise RuntimeError("killed mid-group")
            yield answer

    def batches(self, requests: Sequence[AnnotationRequest]) -> Iterator[List[Annotation]]:
        return group_by_prompt(self(requests))  # as the LLM annotator groups a multi-sentence prompt's answers


@registry.misc("test.CrashMidGroupAnnotator.v1")
def make_crashing(path: str) -> CrashMidGroupAnnotator:
    return CrashMidGroupAnnotator(path)


class BudgetedGold(GoldAnnotator):
    """Gold labels for at most ``budget_usd`` requests per call (one 'dollar' each), then out of budget."""

    name = "budgeted"

    def __init__(self, path: str, budget_usd: float) -> None:
        super().__init__(path)
        self.budget = int(budget_usd)
        self.budget_exhausted = False

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        yield from super().__call__(requests[:self.budget])
        self.budget_exhausted = len(requests) > self.budget


@registry.misc("test.BudgetedGold.v1")
def make_budgeted(path: str, budget_usd: float = 10.0) -> BudgetedGold:
    return BudgetedGold(path, budget_usd)
