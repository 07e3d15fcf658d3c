"""Per-step action log-probabilities of the NER model's greedy parse, for MNLP.

spaCy's transition-based NER scores every action at every step and takes the
best valid one; its training loss is a softmax over those scores. The beam
search only keeps the sums of raw scores, so the per-step probabilities are
re-computed here: the greedy parse is replayed with the NER model's own step
model (``ner.model.predict(docs).predict(states)``), and at each step the
chosen action's log-probability is taken over the actions valid there.
The replayed parse is the one the NER component predicts (same model, same
argmax over valid actions); the NER takes one action per token.
"""
from typing import List, Sequence

import numpy as np
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc

from .measures import log_softmax_valid


def greedy_step_logprobs(ner: EntityRecognizer, docs: Sequence[Doc]) -> List[List[float]]:
    """For each doc, the log-probability of every action of the greedy parse, in order.

    The docs' preset entities constrain the parse as they do the NER's own; the
    uncertainty component calls this with them cleared to missing.
    """
    moves = ner.moves
    names = [moves.get_class_name(i) for i in range(moves.n_moves)]
    step_model = ner.model.predict(list(docs))
    states = moves.init_batch(list(docs))
    logprobs: List[List[float]] = [[] for _ in docs]
    active = [i for i, state in enumerate(states) if not state.is_final()]
    try:
        while active:
            scores = ner.model.ops.to_numpy(step_model.predict([states[i] for i in active]))
            for row, i in zip(scores, active):
                valid = np.array([moves.is_valid(states[i], name) for name in names])
                step = log_softmax_valid(row, valid)
                best = int(np.argmax(step))
                logprobs[i].append(float(step[best]))
                moves.apply_transition(states[i], names[best])
            active = [i for i in active if not states[i].is_final()]
    finally:
        step_model.clear_memory()
    return logprobs
