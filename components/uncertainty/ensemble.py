"""Several greedy parses of one doc -> one estimate: the shared arithmetic of Monte Carlo dropout and committees.

Each *member* (a dropout pass, or one learner of a committee) gives, per token, a distribution over the IOB2
tags (its greedy parse's per-step action probabilities, each action counted as the tag it gives its token) and
the entities of its parse. The estimate is the members' mean distribution (the *consensus*: its entropy is the
token entropy), the members' mean token entropy (so that ``H[mean] - mean H``, BALD's mutual information or a
committee's Jensen-Shannon disagreement, can be taken), the distinct parses with the share of members that
predict each, and the members' chosen-action log-probabilities (for MNLP, their mean).
"""
from collections import Counter
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

from .greedy import GreedyParse, action_tags, parse_entities
from .measures import token_entropy

Entities = List[Tuple[int, int, str]]


class EnsembleOutput(NamedTuple):
    """One doc's estimate from several members."""

    marginals: np.ndarray  # (n_tokens, n_tags): the members' mean tag distribution
    expected_entropy: np.ndarray  # (n_tokens,): the members' mean token entropy
    parses: List[Tuple[float, Entities]]  # distinct member parses, most frequent first, with their share
    step_logprobs: List[float]  # every member's chosen-action log-probabilities, member after member


def tag_matrix(action_names: Sequence[str], tags: Sequence[str]) -> np.ndarray:
    """``(n_actions, n_tags)``: 1 where an action gives its token that tag (a label outside ``tags`` counts as O)."""
    index: Dict[str, int] = {tag: i for i, tag in enumerate(tags)}
    matrix = np.zeros((len(action_names), len(tags)))
    for a, tag in enumerate(action_tags(action_names)):
        matrix[a, index.get(tag, index["O"])] = 1.0
    return matrix


class Ensemble:
    """Collects the members' parses of a batch of docs, then aggregates them per doc."""

    def __init__(self, n_docs: int, tags: Sequence[str]) -> None:
        self.tags = list(tags)
        self.probs: List[List[np.ndarray]] = [[] for _ in range(n_docs)]
        self.parses: List[Counter] = [Counter() for _ in range(n_docs)]
        self.steps: List[List[float]] = [[] for _ in range(n_docs)]

    def add(self, parses: Sequence[GreedyParse], action_names: Sequence[str]) -> None:
        """One member's greedy parses of the batch (in doc order), with that member's action names."""
        to_tag = tag_matrix(action_names, self.tags)
        for i, parse in enumerate(parses):
            self.probs[i].append(np.exp(parse.logprobs) @ to_tag if parse.actions else np.zeros((0, len(self.tags))))
            self.parses[i][tuple(parse_entities(parse.actions, action_names))] += 1
            self.steps[i].extend(parse.step_logprobs)

    def outputs(self) -> List[EnsembleOutput]:
        """The estimate of every doc."""
        result = []
        for probs, counts, steps in zip(self.probs, self.parses, self.steps):
            stack = np.stack(probs)
            n = len(probs)
            expected = np.mean([token_entropy(p) for p in stack], axis=0) if stack.shape[1] else np.zeros(0)
            shares = [(count / n, list(ents)) for ents, count in counts.most_common()]
            result.append(EnsembleOutput(stack.mean(axis=0), expected, shares, steps))
        return result
