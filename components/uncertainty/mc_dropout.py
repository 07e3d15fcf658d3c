"""Monte Carlo dropout (Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016) for spaCy's NER.

The learner is run ``passes`` times with its dropout layers switched on at prediction time, and every pass is
the NER's greedy parse with the per-step action probabilities of :mod:`.greedy`. At token ``i``, pass ``t``
gives a distribution ``p_t(tag | i)`` over the IOB2 tags (the step's action probabilities, each action counted
as the tag it gives the token). From them (:mod:`.ensemble`):

- the *predictive* distribution ``p(tag | i) = mean_t p_t(tag | i)``, whose entropy ``H[p]`` is the token
  entropy (the doc's ``mean_entropy``, ``max_entropy``);
- the *mutual information* between the token's tag and the weights (BALD, Houlsby et al. 2011, as used for
  deep active learning by Gal, Islam & Ghahramani, ICML 2017): ``H[p] - mean_t H[p_t]``, high where the passes
  disagree rather than where each pass is unsure; the doc's ``bald`` is its mean over tokens;
- each pass's entities, as parses of weight ``1 / passes``: an entity's confidence is the share of passes
  that predict it exactly, and ``least_confidence`` is ``1 -`` the share of the most frequent parse.

Which layers drop, and at what rate: the layers whose forward applies dropout (thinc's ``Dropout`` and
``HashEmbed``) in the NER's upstream ``tok2vec`` component and in the NER model, at ``rate``, by default the
``training.dropout`` the pipeline was trained with (spaCy trains every such layer at that rate). They are
switched on by wrapping their forward, and switched off again afterwards; the tok2vec's output for each pass is
put in ``doc.tensor`` (what the NER's listener reads at prediction time) and the docs' own tensors are put
back. The parser's own hidden layers take no dropout in spaCy's training, and none here. A transformer
upstream (PyTorch dropout, ``doc._.trf_data``) is refused: use the ``beam`` or ``committee`` estimator there.

Randomness: NumPy's global random state (thinc's dropout masks on CPU) is seeded with ``seed`` for the passes
and restored after, so a batch scores the same every time. The masks are drawn per batch, so a sentence's
score depends on the batch it is scored in (the loop scores the pool in fixed batches); on a GPU (CuPy's
random state) the passes are not seeded. While the passes run, the model's dropout is on for any other user
of it in the same process.
"""
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np
from spacy.language import Language
from spacy.pipeline import Tok2Vec
from spacy.tokens import Doc

from .ensemble import Ensemble, EnsembleOutput
from .greedy import action_names, greedy_parses

DROPOUT_LAYERS = ("dropout", "hashembed")  # thinc layers whose forward drops (others may carry an unused rate)


def upstream_components(nlp: Language, ner_name: str) -> List[Any]:
    """The components whose output the NER listens to (its tok2vec or transformer), in pipeline order."""
    return [proc for _, proc in nlp.pipeline if ner_name in (getattr(proc, "listening_components", None) or [])]


def training_dropout(nlp: Language) -> float:
    """The ``training.dropout`` of the pipeline's config (0 when it has none)."""
    return float((nlp.config.get("training") or {}).get("dropout") or 0.0)


@contextmanager
def dropout_at_prediction(models: Sequence[Any], rate: float) -> Iterator[int]:
    """Switch on every dropout layer of ``models`` (see :data:`DROPOUT_LAYERS`) at ``rate``; yields how many,
    and puts their forwards and rates back on exit (each layer once, even when shared by two models)."""
    saved: List[Any] = []
    seen = set()
    try:
        for model in models:
            for node in model.walk():
                if node.name not in DROPOUT_LAYERS or "dropout_rate" not in node.attrs or id(node) in seen:
                    continue
                seen.add(id(node))
                saved.append((node, node._func, node.attrs["dropout_rate"]))
                node.attrs["dropout_rate"] = rate
                node._func = _always_train(node._func)
        yield len(saved) if rate > 0 else 0
    finally:
        for node, func, own in reversed(saved):
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
    """The Monte Carlo dropout estimate of each doc (entities cleared to missing by the caller); ``rate`` None:
    the pipeline's ``training.dropout``."""
    ner = nlp.get_pipe(ner_name)
    names = action_names(ner)
    upstream = upstream_components(nlp, ner_name)
    others = [type(p).__name__ for p in upstream if not isinstance(p, Tok2Vec)]
    if others:
        raise ValueError(f"uncertainty: estimator 'mc_dropout' needs a spaCy tok2vec under '{ner_name}', not "
                         f"{', '.join(others)} (its dropout is not thinc's); use estimator 'beam' or 'committee'")
    rate = training_dropout(nlp) if rate is None else rate
    tensors = [doc.tensor for doc in docs]
    ensemble = Ensemble(len(docs), tags)
    try:
        with seeded_numpy(seed), dropout_at_prediction([p.model for p in upstream] + [ner.model], rate) as n:
            if not n:
                raise ValueError(f"uncertainty: estimator 'mc_dropout' has nothing to drop: no dropout layer in "
                                 f"'{ner_name}' or its tok2vec, or a rate of 0 (training.dropout {rate}); set "
                                 "mc_dropout, e.g. 0.1")
            for _ in range(passes):
                for proc in upstream:
                    proc.set_annotations(docs, proc.predict(docs))
                ensemble.add(greedy_parses(ner, docs), names)
    finally:
        for doc, tensor in zip(docs, tensors):
            doc.tensor = tensor
    return ensemble.outputs()
