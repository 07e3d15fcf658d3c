"""Seed-set samplers: which gold sentences the first learner is trained on.

``EntityRichSeed`` is the sampler of arXiv 2404.02261's code: sentences with at
least one entity whose entity tokens make up 5-50% of the sentence, drawn at
random (topped up with random sentences if too few qualify). ``RandomSeed``
draws uniformly. A seed sampler is a strategy for round 0, so it lives with the
strategies, below the loop and the annotator evaluation, which both draw seeds.
"""
import random
from typing import Dict, List, Protocol, Sequence, Union

from spacy.tokens import Doc
from spacy.util import registry

from ..data.corpus import entity_shares
from .base import QuerySize

SEED_SAMPLER_NAMES: Dict[str, str] = {
    "entity-rich": "spacy-llm-loop.EntityRichSeed.v1",
    "random": "spacy-llm-loop.RandomSeed.v1",
}


class SeedSampler(Protocol):
    """Picks the indices of the seed sentences."""

    name: str

    def __call__(self, docs: Sequence[Doc], seed: int) -> List[int]:
        ...


def seed_sampler_block(name: str, size: str) -> Dict[str, str]:
    """The config block for a sampler's short name and a size such as ``5%`` or ``200``."""
    if name not in SEED_SAMPLER_NAMES:
        raise ValueError(f"Unknown seed sampler '{name}'; choose one of {', '.join(SEED_SAMPLER_NAMES)}")
    return {"@misc": SEED_SAMPLER_NAMES[name], "size": size}


class RandomSeed:
    """A uniform random sample of ``size`` sentences."""

    name = "random"

    def __init__(self, size: Union[str, int, float]) -> None:
        self.size = QuerySize.parse(size)

    def n_items(self, n_docs: int) -> int:
        """The number of seed sentences for a corpus of ``n_docs``."""
        n = self.size.n_items(n_docs)
        if n is None:
            raise ValueError("A seed size must be a count or a fraction, not a token budget")
        return min(n, n_docs)

    def __call__(self, docs: Sequence[Doc], seed: int) -> List[int]:
        return sorted(random.Random(seed).sample(range(len(docs)), self.n_items(len(docs))))


class EntityRichSeed(RandomSeed):
    """Sentences with entities making up ``min_share``-``max_share`` of their tokens (the paper's sampler)."""

    name = "entity-rich"

    def __init__(self, size: Union[str, int, float], min_share: float = 0.05, max_share: float = 0.5) -> None:
        super().__init__(size)
        self.min_share, self.max_share = min_share, max_share

    def __call__(self, docs: Sequence[Doc], seed: int) -> List[int]:
        rng = random.Random(seed)
        n = self.n_items(len(docs))
        rich = [i for i, share in enumerate(entity_shares(docs)) if share and self.min_share <= share <= self.max_share]
        chosen = rng.sample(rich, min(n, len(rich)))
        if len(chosen) < n:
            rest = sorted(set(range(len(docs))) - set(chosen))
            chosen += rng.sample(rest, n - len(chosen))
        return sorted(chosen)


@registry.misc("spacy-llm-loop.RandomSeed.v1")
def make_random_seed(size: Union[str, int, float] = "5%") -> RandomSeed:
    """Uniform random seed set of ``size`` (``5%``, ``0.05`` or a count)."""
    return RandomSeed(size)


@registry.misc("spacy-llm-loop.EntityRichSeed.v1")
def make_entity_rich_seed(size: Union[str, int, float] = "5%", min_share: float = 0.05,
                          max_share: float = 0.5) -> EntityRichSeed:
    """The paper's entity-rich seed sampler."""
    return EntityRichSeed(size, min_share, max_share)
