"""Monte Carlo dropout (Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016) for spaCy's NER.

The learner is run ``passes`` times with its dropout layers switched on at prediction time (each at the rate it
was trained with, or at ``rate``), and every pass is the NER's greedy parse with the per-step action
probabilities of :mod:`.greedy`. At token ``i``, pass ``t`` gives a distribution ``p_t(tag | i)`` over the IOB2
tags (the step's action probabilities, each action counted as the tag it gives the token). From them:

- the *predictive* distribution ``p(tag | i) = mean_t p_t(tag | i)``, whose entropy ``H[p]`` is the token
  entropy (the doc's ``mean_entropy``, ``max_entropy``);
- the *mutual information* between the token's tag and the weights (BALD, Houlsby et al. 2011, as used for
  deep active learning by Gal, Islam & Ghahramani, ICML 2017): ``H[p] - mean_t H[p_t]``, high where the passes
  disagree rather than where each pass is unsure; the doc's ``bald`` is its mean over tokens;
- each pass's entities, as parses of weight ``1 / passes``: an entity's confidence is the share of passes
  that predict it exactly, and ``least_confidence`` is ``1 -`` the share of the most frequent parse.

Dropout is switched on by wrapping the forward of every layer with a ``dropout_rate`` (thinc's ``Dropout`` and
``HashEmbed``) in the upstream tok2vec and the NER model, and switched off again afterwards; the tok2vec's
output for each pass is put in ``doc.tensor`` (what the NER's listener reads at prediction time) and the
docs' own tensors are put back. NumPy's global random state (thinc's dropout masks) is seeded with ``seed``
for the passes and restored, so a batch scores the same every time.
"""
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc

from .ensemble import Ensemble, EnsembleOutput
from .greedy import greedy_parses


def upstream_components(nlp: Language, ner_name: str) -> List[Any]:
    """The components whose output the NER listens to (its tok2vec or transformer), in pipeline order."""
    return [proc for _, proc in nlp.pipeline if ner_name in (getattr(proc, "listening_components", None) or [])]


@contextmanager
def dropout_at_prediction(models: Sequence[Any], rate: Optional[float] = None) -> Iterator[int]:
    """Switch on every layer with a ``dropout_rate`` in ``models`` (at ``rate`` when given, else where its own
    rate is above 0); yields how many layers were switched on, and switches them off again on exit."""
    saved = []
    try:
        for model in models:
            for node in model.walk():
                if "dropout_rate" not in node.attrs:
                    continue
                own = node.attrs["dropout_rate"]
                if (rate if rate is not None else own or 0.0) <= 0.0:
                    continue
                saved.append((node, node._func, own))
                if rate is not None:
                    node.attrs["dropout_rate"] = rate
                node._func = _always_train(node._func)
        yield len(saved)
    finally:
        for node, func, own in saved:
            node._func = func
            node.attrs["dropout_rate"] = own


def _always_train(forward: Any) -> Any:
    def train_forward(model: Any, X: Any, is_train: bool) -> Any:
        return forward(model, X, True)
    return train_forward


@contextmanager
def seeded_numpy(seed: int) -> Iterator[None]:
    """NumPy's global random state seeded with ``seed`` inside, the caller's state restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def mc_dropout_estimate(nlp: Language, ner_name: str, docs: List[Doc], tags: Sequence[str], *, passes: int,
                        rate: Optional[float] = None, seed: int = 0) -> List[EnsembleOutput]:
    """The Monte Carlo dropout estimate of each doc (entities cleared to missing by the caller)."""
    ner = nlp.get_pipe(ner_name)
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    upstream = upstream_components(nlp, ner_name)
    tensors = [doc.tensor for doc in docs]
    ensemble = Ensemble(len(docs), tags)
    try:
        with seeded_numpy(seed), dropout_at_prediction([p.model for p in upstream] + [ner.model], rate) as n:
            if not n:
                raise ValueError(f"uncertainty: estimator 'mc_dropout' found no dropout layer in '{ner_name}' or "
                                 "the tok2vec it listens to; train with training.dropout > 0 or set mc_dropout")
            for _ in range(passes):
                for proc in upstream:
                    proc.set_annotations(docs, proc.predict(docs))
                ensemble.add(greedy_parses(ner, docs), names)
    finally:
        for doc, tensor in zip(docs, tensors):
            doc.tensor = tensor
    return ensemble.outputs()
