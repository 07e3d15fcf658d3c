"""Per-step action log-probabilities of the NER model's greedy parse, for MNLP and Monte Carlo dropout.

spaCy's transition-based NER scores every action at every step and takes the
best valid one; its training loss is a softmax over those scores. The beam
search only keeps the sums of raw scores, so the per-step probabilities are
re-computed here: the greedy parse is replayed with the NER model's own step
model (``ner.model.predict(docs).predict(states)``), and at each step the
actions' log-probabilities are taken over the actions valid there, and the best
valid one is applied. The replayed parse is the one the NER component predicts
(same model, same argmax over valid actions); the NER takes one action per
token, so step ``i`` is token ``i``.

Which actions are valid is asked of spaCy (``moves.is_valid``) once per *context*, then reused: for the BILUO
system an action's validity is a function of the open entity's label, whether the token is the last one, the
token's and the next token's preset ``ent_iob``/``ent_type``, the next token's sentence start and whether the
token is whitespace (spaCy's ``ner.pyx``), and these make the cache key. Asking for every action at every step
cost most of the replay's time.
"""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc

from .measures import log_softmax_valid_rows


class GreedyParse(NamedTuple):
    """One doc's greedy parse: each step's log-probabilities over all actions (``-inf`` where invalid) and the
    action taken."""

    logprobs: np.ndarray  # (n_steps, n_moves)
    actions: List[int]

    @property
    def step_logprobs(self) -> List[float]:
        """The log-probability of the action taken at each step."""
        return [float(self.logprobs[i, a]) for i, a in enumerate(self.actions)]


def greedy_parses(ner: EntityRecognizer, docs: Sequence[Doc]) -> List[GreedyParse]:
    """The greedy parse of each doc, with every step's action distribution.

    The docs' preset entities constrain the parse as they do the NER's own; the
    uncertainty component calls this with them cleared to missing.
    """
    moves = ner.moves
    names = action_names(ner)
    opens = [name[2:] if name.startswith(("B-", "I-")) else None for name in names]  # the entity open after it
    cache: Dict[Tuple, np.ndarray] = {}
    step_model = ner.model.predict(list(docs))
    states = moves.init_batch(list(docs))
    rows: List[List[np.ndarray]] = [[] for _ in docs]
    actions: List[List[int]] = [[] for _ in docs]
    open_label: List[Optional[str]] = [None for _ in docs]
    active = [i for i, state in enumerate(states) if not state.is_final()]
    try:
        while active:
            scores = ner.model.ops.to_numpy(step_model.predict([states[i] for i in active]))
            valid = np.empty(scores.shape, dtype=bool)
            for r, i in enumerate(active):
                key = _context(docs[i], len(actions[i]), open_label[i])
                mask = cache.get(key)
                if mask is None:
                    mask = cache[key] = np.array([moves.is_valid(states[i], name) for name in names])
                valid[r] = mask
            steps = log_softmax_valid_rows(scores, valid)
            for step, i in zip(steps, active):
                best = int(np.argmax(step))
                rows[i].append(step)
                actions[i].append(best)
                open_label[i] = opens[best]
                moves.apply_transition(states[i], names[best])
            active = [i for i in active if not states[i].is_final()]
    finally:
        step_model.clear_memory()
    return [GreedyParse(np.array(r).reshape(len(r), len(names)), a) for r, a in zip(rows, actions)]


def _context(doc: Doc, j: int, open_label: Optional[str]) -> Tuple[Any, ...]:
    """What the validity of every BILUO action at token ``j`` depends on (see the module docstring)."""
    token = doc[j]
    if j + 1 < len(doc):
        following = doc[j + 1]
        after: Tuple[Any, ...] = (following.ent_iob, following.ent_type, following.is_sent_start is True)
    else:
        after = (None,)
    return (open_label, token.ent_iob, token.ent_type, token.is_space, *after)


def greedy_step_logprobs(ner: EntityRecognizer, docs: Sequence[Doc]) -> List[List[float]]:
    """For each doc, the log-probability of every action of the greedy parse, in order."""
    return [parse.step_logprobs for parse in greedy_parses(ner, docs)]


def action_names(ner: EntityRecognizer) -> List[str]:
    """The NER's action names (``B-PER``, ``L-LOC``, ``O``, ...) in the order of its scores."""
    return [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]


def action_tags(action_names: Sequence[str]) -> List[str]:
    """The IOB2 tag each BILUO action gives its token: ``B-X``/``U-X`` -> ``B-X``, ``I-X``/``L-X`` -> ``I-X``,
    ``O`` (and the label-less ``U-`` of missing entities) -> ``O``."""
    tags = []
    for name in action_names:
        move, _, label = name.partition("-")
        if not label or move not in "BILU":
            tags.append("O")
        else:
            tags.append(("B-" if move in "BU" else "I-") + label)
    return tags


def parse_entities(actions: Sequence[int], action_names: Sequence[str]) -> List[Tuple[int, int, str]]:
    """The entities ``(start, end, label)`` of a BILUO action sequence (one action per token)."""
    ents, start = [], None
    for i, action in enumerate(actions):
        move, _, label = action_names[action].partition("-")
        if move == "U" and label:
            ents.append((i, i + 1, label))
        elif move == "B":
            start = i
        elif move == "L" and start is not None:
            ents.append((start, i + 1, label))
            start = None
    return ents
