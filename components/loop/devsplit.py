"""Where the learner's dev data (early stopping, best-model choice) comes from.

In a real low-resource project the dev labels cost as much as the training labels, so by
default (``loop.dev = "labelled"``) the learner's dev set is carved out of the labelled set
of each round and counted in its labelled sentences: a share ``loop.dev_share`` of it, never
fewer than ``loop.dev_min`` sentences (and never more than half). A sentence that went to dev
stays in dev in every later round; each round adds new labelled sentences to dev until the
share is met again, choosing them by a seeded hash of their ids, so the split is
reproducible and does not depend on the order answers arrived in.

``loop.dev = "seed"`` carves the dev set out of the gold seed alone, once, and trains on every later
sentence: early stopping and the best-model choice then rest on gold labels, never on an annotator's
answers that a label policy doubts (a noisy dev rewards the model that repeats the annotator's errors).
It needs a gold seed, and its dev set is round 0's under ``labelled``.

``loop.dev = "oracle"`` uses the dataset's full gold dev split instead (free labels the
learning curves do not count); reports mark such runs "oracle dev".
"""
import hashlib
import math
from typing import List, Literal, Sequence, Set, cast

DevSource = Literal["labelled", "seed", "oracle"]
DEV_SOURCES = ("labelled", "seed", "oracle")


def check_dev_source(value: str) -> DevSource:
    """``value`` if it is a dev source, else a ValueError naming the choices."""
    if value not in DEV_SOURCES:
        raise ValueError(f"loop.dev must be one of {', '.join(DEV_SOURCES)}; got '{value}'")
    return cast(DevSource, value)


def dev_target(n_labelled: int, share: float, minimum: int) -> int:
    """How many of ``n_labelled`` sentences the learner's dev set holds."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"loop.dev_share must be between 0 and 1, got {share}")
    return min(n_labelled // 2, max(minimum, math.ceil(share * n_labelled)))


def _rank(sentence_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{sentence_id}".encode("utf-8")).hexdigest()


def split_dev(rounds: Sequence[Sequence[str]], share: float, minimum: int, seed: int) -> Set[str]:
    """The dev sentence ids, given the ids labelled in each round (round 0 = the seed set) in order.

    Round by round, the dev set grows to :func:`dev_target` of everything labelled so far, taking
    the new round's sentences with the lowest seeded hash; earlier dev sentences stay in dev.
    """
    dev: List[str] = []
    n_labelled = 0
    for ids in rounds:
        n_labelled += len(ids)
        need = dev_target(n_labelled, share, minimum) - len(dev)
        if need > 0:
            dev.extend(sorted(ids, key=lambda sid: _rank(sid, seed))[:need])
    return set(dev)
