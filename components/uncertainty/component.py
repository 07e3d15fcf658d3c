"""The ``uncertainty`` component: how sure the pipeline's NER model is, on every doc.

Method (the one Prodigy's ``ner.teach`` uses): the NER component's beam search
(``beam_width`` parses, pruned at ``beam_density``) is run over the doc with the
entities left open. Each parse gets a *beam-relative* probability: the softmax,
over the parses left in the beam, of their summed raw action scores (what
``Beam.probs`` gives). These are not the model's probabilities of the parses:
they are normalised over the beam only, so they depend on ``beam_width``. Read
as IOB2 sequences, the parses give a distribution over the IOB tags at every
token (its *marginals*), and from those the doc-level measures of
:mod:`.measures`: mean and max token entropy, and least confidence
(``1 - p(best parse)``, beam-relative). MNLP instead uses the model's own
per-step action probabilities (softmax of the step's scores over the valid
actions) along the greedy parse (:mod:`.greedy`): the mean log-probability of
its actions, one per token. The entities the NER component set are left as they
are; each gets a confidence: the beam-relative probability of the parses that
contain it exactly.

On each doc it sets ``doc._.uncertainty``, a dict with the doc measures
(``mean_entropy``, ``max_entropy``, ``least_confidence``, ``mnlp``), the
per-token ``token_entropy`` list and, when ``store_marginals`` is on,
``marginals`` (a list of per-token probability lists, in ``tags`` order); and
``span._.confidence`` on each entity in ``doc.ents``. The component has no
weights of its own: it is saved with the pipeline and works after
``spacy.load``. Its one piece of state is an optional calibration of entity
confidence (Platt scaling fitted on the learner's dev data, :mod:`.calibration`);
with it, ``doc._.uncertainty["ent_confidence_calibrated"]`` holds the calibrated
values and ``span._.confidence`` returns them.

``estimator`` chooses where the distributions come from: ``"beam"`` (above, the default) or
``"mc_dropout"`` (:mod:`.mc_dropout`: ``mc_passes`` greedy parses with the learner's dropout on at prediction
time; the marginals are their mean, entity confidence is the share of passes that predict the entity, and
``doc._.uncertainty["bald"]`` adds the mean token mutual information). MNLP stays the deterministic greedy
parse's under ``"beam"``; under ``"mc_dropout"`` it is the mean over the passes. ``"committee"``
(:mod:`.committee`) does the same with the pipeline's NER and ``committee_size - 1`` more learners trained on
bootstrap resamples (the loop trains them; they are saved in the component's ``committee/`` folder and come
back with ``spacy.load``); its ``bald`` is the committee's disagreement.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union, cast

import numpy as np
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch
from thinc.api import Config
from thinc.types import Ints2d

from ..data.iob import iob_tagset
from ..fileio import write_json
from .calibration import calibrate
from .committee import committee_estimate
from .greedy import greedy_step_logprobs
from .mc_dropout import mc_dropout_estimate
from .measures import doc_scores, mutual_information, parses_to_marginals, span_confidences, token_entropy
from .scorer import make_uncertainty_scorer  # noqa: F401  (registers the default scorer)

EXTENSION = "uncertainty"
CALIBRATION_FILE = "calibration.json"
Parses = List[Tuple[float, List[Tuple[int, int, str]]]]

ESTIMATORS = ("beam", "mc_dropout", "committee")
COMMITTEE_DIR = "committee"

DEFAULT_CONFIG: Dict[str, Any] = {
    "ner_component": "ner",
    "beam_width": 16,
    "beam_density": 0.0001,
    "store_marginals": False,
    "estimator": "beam",
    "mc_passes": 8,
    "mc_dropout": None,
    "mc_seed": 0,
    "committee_size": 3,
    "scorer": {"@scorers": "spacy-llm-loop.uncertainty_scorer.v1"},
}


@Language.factory(
    "uncertainty",
    assigns=["doc._.uncertainty", "span._.confidence"],
    requires=["doc.ents"],
    default_config=DEFAULT_CONFIG,
    default_score_weights={"uncertainty_auroc": 0.0},
)
def make_uncertainty(
    nlp: Language,
    name: str,
    ner_component: str,
    beam_width: int,
    beam_density: float,
    store_marginals: bool,
    scorer: Optional[Callable],
    estimator: str = "beam",
    mc_passes: int = 8,
    mc_dropout: Optional[float] = None,
    mc_seed: int = 0,
    committee_size: int = 3,
) -> "Uncertainty":
    """Build the :class:`Uncertainty` component (config: see ``DEFAULT_CONFIG``; ``mc_dropout`` null: the rates
    the learner was trained with)."""
    return Uncertainty(nlp, name, ner_component=ner_component, beam_width=beam_width,
                       beam_density=beam_density, store_marginals=store_marginals, scorer=scorer,
                       estimator=estimator, mc_passes=mc_passes, mc_dropout=mc_dropout, mc_seed=mc_seed,
                       committee_size=committee_size)


def load_members(folder: Path, size: int) -> List[Language]:
    """Members ``member-1 .. member-<size-1>`` of a committee of ``size`` saved in ``folder``, without their own
    uncertainty component; the ones missing are left out (scoring then says how many are missing)."""
    paths = [folder / f"member-{k}" for k in range(1, size)]
    return [spacy.load(p, exclude=["uncertainty"]) for p in paths if (p / "config.cfg").exists()]


def install_extensions() -> None:
    """Register ``doc._.uncertainty`` and ``span._.confidence`` once."""
    if not Doc.has_extension(EXTENSION):
        Doc.set_extension(EXTENSION, default=None)
    if not Span.has_extension("confidence"):
        Span.set_extension("confidence", getter=_span_confidence)


def _span_confidence(span: Span) -> Optional[float]:
    """The entity's calibrated confidence when the pipeline has a calibration, else its raw one (beam-relative, or
    the share of dropout passes or committee members that predict it)."""
    scores = span.doc._.get(EXTENSION)
    if not scores:
        return None
    table = scores.get("ent_confidence_calibrated") or scores["ent_confidence"]
    return table.get(f"{span.start}:{span.end}:{span.label_}")


class NEROutput(NamedTuple):
    """What :meth:`Uncertainty.predict` reads off the NER model for one doc."""

    parses: Parses  # the beam's parses, with their beam-relative probabilities (ensembles: shares of the members)
    step_logprobs: List[float]  # the greedy parse's per-action log-probabilities
    marginals: Optional[np.ndarray] = None  # ensembles: the mean of the members' token distributions
    expected_entropy: Optional[np.ndarray] = None  # ensembles: the members' mean token entropy


class Uncertainty:
    """Scores docs with the uncertainty of the pipeline's NER component (see the module docstring)."""

    def __init__(self, nlp: Language, name: str = "uncertainty", *, ner_component: str = "ner",
                 beam_width: int = 16, beam_density: float = 0.0001, store_marginals: bool = False,
                 scorer: Optional[Callable] = None, estimator: str = "beam", mc_passes: int = 8,
                 mc_dropout: Optional[float] = None, mc_seed: int = 0, committee_size: int = 3) -> None:
        if beam_width < 2:
            raise ValueError(f"uncertainty: beam_width must be at least 2, got {beam_width}")
        if estimator not in ESTIMATORS:
            raise ValueError(f"uncertainty: unknown estimator '{estimator}'; choose one of {', '.join(ESTIMATORS)}")
        if mc_passes < 2:
            raise ValueError(f"uncertainty: mc_passes must be at least 2, got {mc_passes}")
        if committee_size < 2:
            raise ValueError(f"uncertainty: committee_size must be at least 2, got {committee_size}")
        if mc_dropout is not None and not 0.0 < mc_dropout < 1.0:
            raise ValueError(f"uncertainty: mc_dropout must lie in (0, 1) or be null, got {mc_dropout}")
        install_extensions()
        self.nlp = nlp
        self.name = name
        self.ner_component = ner_component
        self.beam_width = beam_width
        self.beam_density = beam_density
        self.store_marginals = store_marginals
        self.scorer = scorer
        self.estimator = estimator
        self.mc_passes = mc_passes
        self.mc_dropout = mc_dropout
        self.mc_seed = mc_seed
        self.committee_size = committee_size
        self.members: List[Language] = []  # the committee's other learners (estimator "committee")
        self.calibration: Optional[Dict[str, float]] = None  # Platt scaling of entity confidence (see calibration)

    @property
    def tags(self) -> Tuple[str, ...]:
        """The IOB2 tags the marginals are over, from the NER component's labels."""
        return iob_tagset(self._ner().labels)

    def _ner(self) -> Any:
        if self.ner_component not in self.nlp.pipe_names:
            raise ValueError(f"uncertainty: no component '{self.ner_component}' in {self.nlp.pipe_names}")
        return self.nlp.get_pipe(self.ner_component)

    def __call__(self, doc: Doc) -> Doc:
        """Score one doc."""
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Score a stream of docs in batches."""
        for batch in minibatch(docs, size=batch_size):
            self.set_annotations(batch, self.predict(batch))
            yield from batch

    def predict(self, docs: List[Doc]) -> List[NEROutput]:
        """Each doc's parses and greedy step log-probabilities (and with ``mc_dropout`` its marginals), read with
        its entities left open; the docs are given back as they came (entities and tensors restored)."""
        ner = self._ner()
        # uint64 ids: spaCy's stub types to_array as float64, what from_array takes as Ints2d
        saved = [cast(Ints2d, doc.to_array(["ENT_IOB", "ENT_TYPE"])) for doc in docs]
        for doc in docs:
            doc.set_ents([], default="missing")
        try:
            if not any(len(doc) for doc in docs):
                nothing = np.zeros(0) if self.estimator != "beam" else None  # ensembles give bald (0) even here
                return [NEROutput([(1.0, [])], [], None, nothing) for _ in docs]
            if self.estimator == "mc_dropout":
                estimates = mc_dropout_estimate(self.nlp, self.ner_component, docs, self.tags,
                                                passes=self.mc_passes, rate=self.mc_dropout, seed=self.mc_seed)
            elif self.estimator == "committee":
                if len(self.members) != self.committee_size - 1:
                    raise ValueError(f"uncertainty: estimator 'committee' of {self.committee_size} needs "
                                     f"{self.committee_size - 1} members besides the pipeline, and has "
                                     f"{len(self.members)}; the loop trains them (learner.committee.train_committee) "
                                     "into the component's 'committee/member-<k>' folders")
                estimates = committee_estimate(self.nlp, self.ner_component, self.members, docs, self.tags)
            else:
                beams = ner.beam_parse(docs, beam_width=self.beam_width, beam_density=self.beam_density)
                steps = greedy_step_logprobs(ner, docs)
                return [NEROutput(ner.moves.get_beam_parses(beam), logprobs) for beam, logprobs in zip(beams, steps)]
            return [NEROutput(e.parses, e.step_logprobs, e.marginals, e.expected_entropy) for e in estimates]
        finally:
            for doc, array in zip(docs, saved):
                doc.from_array(["ENT_IOB", "ENT_TYPE"], array)

    def set_annotations(self, docs: List[Doc], outputs: List[NEROutput]) -> None:
        """Set ``doc._.uncertainty`` from each doc's :class:`NEROutput`."""
        tags = self.tags
        for doc, output in zip(docs, outputs):
            doc._.set(EXTENSION, self.scores(doc, output, tags))

    def scores(self, doc: Doc, output: NEROutput, tags: Tuple[str, ...]) -> Dict[str, Any]:
        """The dict stored in ``doc._.uncertainty``."""
        parses = output.parses
        marginals = parses_to_marginals(len(doc), parses, tags) if output.marginals is None else output.marginals
        best_prob = max((prob for prob, _ in parses), default=1.0)
        entropy = token_entropy(marginals)
        result: Dict[str, Any] = doc_scores(entropy, best_prob, output.step_logprobs)
        if output.expected_entropy is not None:
            result["bald"] = mutual_information(entropy, output.expected_entropy)
        result["token_entropy"] = [round(float(h), 6) for h in entropy]
        ents = [(e.start, e.end, e.label_) for e in doc.ents]
        result["ent_confidence"] = {f"{s}:{e}:{label}": c
                                    for (s, e, label), c in zip(ents, span_confidences(parses, ents))}
        if self.calibration:
            result["ent_confidence_calibrated"] = {key: round(calibrate(c, self.calibration), 6)
                                                   for key, c in result["ent_confidence"].items()}
        if self.store_marginals:
            result["tags"] = list(tags)
            result["marginals"] = marginals.round(6).tolist()
        return result

    # -- serialisation: the calibration, and the committee's members when there are any -----------------------------
    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """The calibration (and each member's config and weights) as msgpack bytes."""
        members = [{"config": m.config.to_str(), "bytes": m.to_bytes()} for m in self.members]
        return srsly.msgpack_dumps({"calibration": self.calibration, "members": members})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "Uncertainty":
        """Read the calibration (and the members) back."""
        from spacy.util import load_model_from_config

        if data[:1] == b"{":  # written before committees: the calibration as JSON
            self.calibration = srsly.json_loads(data.decode("utf-8")).get("calibration")
            self.members = []
            return self
        msg = srsly.msgpack_loads(data)
        self.calibration = msg.get("calibration")
        self.members = []
        for member in msg.get("members") or []:
            nlp = load_model_from_config(Config().from_str(member["config"]), auto_fill=False)
            self.members.append(nlp.from_bytes(member["bytes"]))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Write ``calibration.json`` (and the members, ``committee/member-<k>``) into the component's folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_json(path / CALIBRATION_FILE, {"calibration": self.calibration})  # atomic: a kill leaves no half file
        for k, member in enumerate(self.members, 1):
            target = path / COMMITTEE_DIR / f"member-{k}"
            if not target.exists():  # members are trained once and never change
                member.to_disk(target)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "Uncertainty":
        """Read ``calibration.json`` if there is one (pipelines saved before calibration have none), and the
        committee's members if there are any."""
        path = Path(path)
        file = path / CALIBRATION_FILE
        self.calibration = srsly.read_json(file).get("calibration") if file.exists() else None
        self.members = load_members(path / COMMITTEE_DIR, self.committee_size) if self.estimator == "committee" \
            else []
        return self

    def score(self, examples: Iterable[Any], **kwargs: Any) -> Dict[str, Any]:
        """Score with the configured scorer (AUROC of uncertainty for doc-level entity errors)."""
        return self.scorer(examples, **kwargs) if self.scorer else {}
