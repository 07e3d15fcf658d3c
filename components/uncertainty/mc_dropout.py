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

A spacy-transformers ``Transformer`` upstream (the GPU learner, ``configs/learner-trf.cfg``) drops in PyTorch,
as does any PyTorch model wrapped in the NER's or its tok2vec's thinc model: while the passes run, its dropout
sites (PyTorch dropout modules, and the functional dropout of Hugging Face's layers such as SDPA attention's
``dropout_prob``) are in training mode and the rest stays in evaluation mode, still without gradients (thinc's
PyTorch shim would otherwise switch the whole model to evaluation mode for every prediction). ``rate`` None
keeps the model's own rates (its Hugging Face config's ``hidden_dropout_prob`` and
``attention_probs_dropout_prob``, what it was fine-tuned with; spaCy's ``training.dropout`` does not reach a
PyTorch model); a ``rate`` replaces those rates (other stochastic layers, such as layer drop, stay off). Each
pass's output is put in ``doc._.trf_data`` (what the NER's transformer listener reads) and the docs' own are put
back; a custom ``set_extra_annotations`` of the transformer runs on every pass and is not undone. Other
upstreams (curated transformers, custom components) are refused: use the ``beam`` or ``committee`` estimator
there.

Randomness: NumPy's global random state (thinc's dropout masks on CPU) and PyTorch's (CPU and every CUDA
device) are seeded with ``seed`` for the passes and restored after, so a batch scores the same every time (on
a GPU, up to CUDA's own nondeterminism). The masks are drawn per batch, so a sentence's score depends on the
batch it is scored in (the loop scores the pool in fixed batches); on a GPU, thinc's masks (CuPy's random
state) are not seeded. While the passes run, the model's dropout is on for any other user of it in the same
process.
"""
import sys
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator, List, Optional, Sequence, cast

import numpy as np
from spacy.language import Language
from spacy.pipeline import EntityRecognizer, Tok2Vec
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
    """Whether ``proc`` is spacy-transformers' ``Transformer`` component (a pipeline holding one has imported
    spacy-transformers already; nothing is imported here)."""
    module = sys.modules.get("spacy_transformers")
    return module is not None and isinstance(proc, module.Transformer)


def torch_shims(models: Sequence[Any]) -> List[Any]:
    """thinc's PyTorch shims anywhere in ``models`` (each once): what wraps a PyTorch model in a thinc model."""
    from thinc.shims import PyTorchShim

    found: List[Any] = []
    for model in models:
        for node in model.walk():
            for shim in node.shims:
                if isinstance(shim, PyTorchShim) and all(shim is not s for s in found):
                    found.append(shim)
    return found


# attributes that Hugging Face layers pass to functional dropout as a rate (e.g. SDPA attention's ``dropout_prob``)
FUNCTIONAL_RATES = ("dropout", "dropout_prob", "attention_dropout", "activation_dropout")


def _is_rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@contextmanager
def torch_dropout_at_prediction(shims: Sequence[Any], rate: Optional[float]) -> Iterator[int]:
    """Switch on the dropout of the PyTorch models behind ``shims`` while they predict, at their own rates or at
    ``rate``; yields how many dropout sites are on (rate > 0).

    Only the dropout sites go into training mode (``torch.nn`` dropout modules, and modules with a rate in one of
    :data:`FUNCTIONAL_RATES`); the rest of the model stays in evaluation mode (no batch-norm statistics updated,
    no layer drop). Each shim's ``predict`` is replaced on the instance by one that does what thinc's does
    (no gradients, the shim's autocast) without switching the model to evaluation mode first. Modes, rates and
    ``predict`` are put back on exit.
    """
    import torch

    saved_modes: List[Any] = []
    saved_rates: List[Any] = []
    patched: List[Any] = []
    try:
        on = 0
        for shim in shims:
            module = shim._model
            saved_modes += [(sub, sub.training) for sub in module.modules()]
            module.eval()
            for sub in module.modules():
                if isinstance(sub, torch.nn.modules.dropout._DropoutNd):
                    saved_rates.append((sub, "p", sub.p))
                    sub.p = sub.p if rate is None else rate
                    sub.training = True
                    on += sub.p > 0
                for attr in FUNCTIONAL_RATES:
                    value = sub.__dict__.get(attr)
                    if _is_rate(value):
                        saved_rates.append((sub, attr, value))
                        setattr(sub, attr, value if rate is None else rate)
                        sub.training = True  # what these layers check before they drop
                        on += getattr(sub, attr) > 0
            patched.append((shim, shim.__dict__.get("predict")))
            shim.predict = _predict_keeping_modes(shim)
        yield on
    finally:
        for shim, own in reversed(patched):
            if own is None:
                del shim.predict
            else:
                shim.predict = own
        for sub, attr, value in reversed(saved_rates):
            setattr(sub, attr, value)
        for sub, mode in reversed(saved_modes):
            sub.training = mode


def _predict_keeping_modes(shim: Any) -> Any:
    """thinc's ``PyTorchShim.predict`` without its ``eval()`` before and ``train()`` after the forward."""
    import torch

    def predict(inputs: Any) -> Any:
        with torch.no_grad():
            with torch.autocast(device_type="cuda", enabled=shim._mixed_precision):
                return shim._model(*inputs.args, **inputs.kwargs)
    return predict


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
    the pipeline's ``training.dropout`` for thinc's layers, a PyTorch model's own rates for it."""
    ner = cast(EntityRecognizer, nlp.get_pipe(ner_name))  # spaCy types every component as a bare callable
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
    models = [p.model for p in upstream] + [ner.model]
    shims = torch_shims(models)
    ensemble = Ensemble(len(docs), tags)
    try:
        with ExitStack() as stack:
            stack.enter_context(seeded_numpy(seed))
            n = stack.enter_context(dropout_at_prediction(models, thinc_rate))
            if shims:
                stack.enter_context(seeded_torch(seed))
                n += stack.enter_context(torch_dropout_at_prediction(shims, rate))
            if not n:
                raise ValueError(f"uncertainty: estimator 'mc_dropout' has nothing to drop: no dropout layer in "
                                 f"'{ner_name}' or what it listens to, or a rate of 0 (training.dropout "
                                 f"{thinc_rate}" + (", or the PyTorch model's own rates" if shims else "") +
                                 "); set mc_dropout, e.g. 0.1")
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
