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
back. The parser's own hidden layers take no dropout in spaCy's training, and none here.

A spacy-transformers ``Transformer`` upstream (the GPU learner, ``configs/learner-trf.cfg``) drops in PyTorch:
its model is kept in training mode while the passes run (thinc's PyTorch shim would otherwise switch it to
evaluation mode for every prediction), still without gradients, so every PyTorch dropout module and the
functional dropout of Hugging Face's layers (SDPA attention's ``dropout_prob`` and the like) are on. ``rate``
None keeps the model's own rates (its Hugging Face config's ``hidden_dropout_prob`` and
``attention_probs_dropout_prob``, what it was fine-tuned with; spaCy's ``training.dropout`` does not reach a
PyTorch model); a ``rate`` sets them all to it. Each pass's output
is put in ``doc._.trf_data`` (what the NER's transformer listener reads) and the docs' own are put back. Other
upstreams (curated transformers, custom layers) are refused: use the ``beam`` or ``committee`` estimator there.

Randomness: NumPy's global random state (thinc's dropout masks on CPU) and PyTorch's (CPU and every CUDA
device) are seeded with ``seed`` for the passes and restored after, so a batch scores the same every time (on
a GPU, up to CUDA's own nondeterminism). The masks are drawn per batch, so a sentence's score depends on the
batch it is scored in (the loop scores the pool in fixed batches); on a GPU, thinc's masks (CuPy's random
state) are not seeded. While the passes run, the model's dropout is on for any other user of it in the same
process.
"""
from contextlib import ExitStack, contextmanager
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


def is_spacy_transformer(proc: Any) -> bool:
    """Whether ``proc`` is spacy-transformers' ``Transformer`` component (without importing it when absent)."""
    try:
        from spacy_transformers import Transformer
    except ImportError:  # pragma: no cover - spacy-transformers is optional
        return False
    return isinstance(proc, Transformer)


def torch_modules(models: Sequence[Any]) -> List[Any]:
    """The PyTorch modules wrapped by thinc's PyTorch shims anywhere in ``models`` (each once)."""
    from thinc.shims import PyTorchShim

    found: List[Any] = []
    for model in models:
        for node in model.walk():
            for shim in node.shims:
                if isinstance(shim, PyTorchShim) and all(shim._model is not m for m in found):
                    found.append(shim._model)
    return found


# float attributes that Hugging Face layers pass to functional dropout (e.g. SDPA attention's ``dropout_prob``)
FUNCTIONAL_RATES = ("dropout", "dropout_prob", "attention_dropout", "activation_dropout")


@contextmanager
def torch_dropout_at_prediction(modules: Sequence[Any], rate: Optional[float]) -> Iterator[int]:
    """Keep ``modules`` in training mode (dropout on) while thinc's shim predicts, at their own rates or at
    ``rate``; yields how many dropout sites are on (rate > 0). Modes, rates and ``eval`` are put back on exit."""
    import torch

    saved_modes = [(module, module.training) for module in modules]
    saved_rates: List[Any] = []
    try:
        on = 0
        for module in modules:
            module.train(True)
            module.eval = _no_eval(module)  # PyTorchShim.predict calls eval() before every forward
            for sub in module.modules():
                if isinstance(sub, torch.nn.modules.dropout._DropoutNd):
                    saved_rates.append((sub, "p", sub.p))
                    sub.p = sub.p if rate is None else rate
                    on += sub.p > 0
                for attr in FUNCTIONAL_RATES:
                    value = sub.__dict__.get(attr)
                    if isinstance(value, float):
                        saved_rates.append((sub, attr, value))
                        setattr(sub, attr, value if rate is None else rate)
                        on += getattr(sub, attr) > 0
        yield on
    finally:
        for sub, attr, value in reversed(saved_rates):
            setattr(sub, attr, value)
        for module, mode in saved_modes:
            module.__dict__.pop("eval", None)
            module.train(mode)


def _no_eval(module: Any) -> Any:
    def keep_training() -> Any:
        return module
    return keep_training


@contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """PyTorch's CPU and CUDA random states seeded with ``seed`` inside, the caller's states restored after."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


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
    transformers = [p for p in upstream if is_spacy_transformer(p)]
    others = [type(p).__name__ for p in upstream if not isinstance(p, Tok2Vec) and not is_spacy_transformer(p)]
    if others:
        raise ValueError(f"uncertainty: estimator 'mc_dropout' needs a spaCy tok2vec or a spacy-transformers "
                         f"transformer under '{ner_name}', not {', '.join(others)} (its dropout is neither thinc's "
                         "nor a Hugging Face model's); use estimator 'beam' or 'committee'")
    thinc_rate = training_dropout(nlp) if rate is None else rate
    tensors = [doc.tensor for doc in docs]
    trf_data = [doc._.trf_data for doc in docs] if transformers else []
    ensemble = Ensemble(len(docs), tags)
    try:
        with ExitStack() as stack:
            stack.enter_context(seeded_numpy(seed))
            n = stack.enter_context(dropout_at_prediction(
                [p.model for p in upstream if not is_spacy_transformer(p)] + [ner.model], thinc_rate))
            if transformers:
                stack.enter_context(seeded_torch(seed))
                n += stack.enter_context(torch_dropout_at_prediction(torch_modules([p.model for p in transformers]),
                                                                     rate))
            if not n:
                raise ValueError(f"uncertainty: estimator 'mc_dropout' has nothing to drop: no dropout layer in "
                                 f"'{ner_name}' or what it listens to, or a rate of 0 (training.dropout "
                                 f"{thinc_rate}); set mc_dropout, e.g. 0.1")
            for _ in range(passes):
                for proc in upstream:
                    proc.set_annotations(docs, proc.predict(docs))
                ensemble.add(greedy_parses(ner, docs), names)
    finally:
        for doc, tensor in zip(docs, tensors):
            doc.tensor = tensor
        for doc, data in zip(docs, trf_data):
            doc._.trf_data = data
    return ensemble.outputs()
