"""The LLM annotator: a spacy-llm pipeline (one ``llm`` component) labels the selected sentences.

The pipeline comes from an annotator config (a packaged one by name, ``gpt-4-turbo``,
``claude-3-haiku``, ``openai-compatible``, ``ner-v3``, or any file path: a
spaCy config whose ``llm`` component has a task, e.g. ``spacy-llm-loop.TokenNER.v1``
or spacy-llm's ``spacy.NER.v3``, and a model, e.g. ``spacy-llm-loop.OpenAIChat.v1``).
For a run, :meth:`LLMAnnotator.prepare` fills in what belongs to the run: the
k-shot examples (the run's gold seed), the usage ledger (``<run>/llm-usage.jsonl``),
the shared prompt cache, and the budget. Each answer becomes an
:class:`~.base.Annotation` with its provenance in ``meta`` (model, prompt hash,
request id, cache hit, problems, repairs). A request that got no answer (retries
ran out, budget spent) yields nothing, so the loop asks for it again next time;
a sentence the API refused or the parser dropped is answered with ``tags=None``
and the reason.
"""
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from spacy_llm.tasks.span import SpanReason
from thinc.api import Config

from ..data.corpus import LANGUAGES
from ..data.docs import doc_tags, make_doc
from ..data.labels import GENERIC_GUIDELINE
from ..llm.models import registry as _models  # noqa: F401  (registers the models)
from ..llm.pricing import cost_usd, price_for
from ..llm.tasks.token_ner import examples as _examples  # noqa: F401  (registers the task)
from ..llm.tasks.token_ner.task import RESULT_KEY
from ..llm.tokens import count_tokens, tokenizer_name
from ..package_data import annotator_config_text
from .base import Annotation, AnnotationContext, AnnotationRequest, BaseAnnotator

logger = logging.getLogger(__name__)
# spacy-llm merges sharded docs with Doc.from_docs, which warns about our request id in user_data (kept anyway).
warnings.filterwarnings("ignore", message=r"\[W102\].*annotation_request_id")
ID_KEY = "annotation_request_id"
NOT_ANSWERED = ("transient", "budget", "auth")
OUR_PREFIX = "spacy-llm-loop."


class LLMAnnotator(BaseAnnotator):
    """Labels requests with the ``llm`` pipeline built from ``config`` (see the module docstring)."""

    def __init__(self, name: str, config: str, lang: str, *, batch_size: int = 64,
                 cache_path: Optional[str] = "cache/llm.sqlite", overrides: Optional[Dict[str, Any]] = None,
                 examples_from_seed: bool = True, model_settings: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self.config_path = Path(config)
        self.lang = lang
        self.batch_size = batch_size
        self.cache_path = cache_path
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.examples_from_seed = examples_from_seed
        self.model_settings = dict(model_settings or {})
        self.nlp: Optional[Language] = None
        self.budget_exhausted = False
        self.round = 0
        self.prepare(None)  # builds the pipeline now, so a missing key fails at start

    @property
    def model(self) -> Any:
        """The ``llm`` component's model."""
        return self._llm()._model

    @property
    def price(self) -> Optional[Tuple[float, float]]:
        """USD per 1K input and output tokens: the budget's (the config's ``price_per_1k`` or the model's listed
        price), else the listed price of the model's or the annotator's name; None when unpriced."""
        budget = getattr(self.model, "budget", None)
        return (budget.price if budget is not None and budget.price else None) or \
            price_for(getattr(self.model, "name", "")) or price_for(self.name)

    def _llm(self) -> Any:
        assert self.nlp is not None
        return self.nlp.get_pipe("llm")

    def prepare(self, context: Optional[AnnotationContext]) -> None:
        """(Re)build the pipeline for a run: examples from its seed, its ledger and budget, the cache."""
        text = annotator_config_text(self.config_path)
        config = Config().from_str(text, interpolate=False)
        llm = config["components"]["llm"]
        settings: Dict[str, Any] = {}
        if "lang" in llm["task"] or llm["task"].get("@llm_tasks", "").startswith(OUR_PREFIX):
            settings["components.llm.task.lang"] = self.lang
        settings.update(task_settings(llm["task"], context, self.lang))
        examples = llm["task"].get("examples") or {}
        if context and self.examples_from_seed and examples.get("@misc", "").startswith(OUR_PREFIX):
            settings["components.llm.task.examples.path"] = str(context.seed_path)
        if llm["model"].get("@llm_models", "").startswith(OUR_PREFIX):
            if "lang" in llm["model"]:  # e.g. a simulated model's error tables are per language
                settings["components.llm.model.lang"] = self.lang
            settings["components.llm.model.cache_path"] = self.cache_path
            if context:
                settings["components.llm.model.ledger_path"] = str(context.run_dir / "llm-usage.jsonl")
            if context and context.labels and not context.labels.is_masakhaner and _takes(llm["model"], "labels"):
                settings["components.llm.model.labels"] = list(context.labels.labels)  # e.g. a simulated model
            settings.update({f"components.llm.model.{k}": v for k, v in self.model_settings.items()})
            settings.update({f"components.llm.model.{k}": v for k, v in self.overrides.items()})
        if not llm["task"].get("@llm_tasks", "").startswith(OUR_PREFIX):  # read failures from the saved IO
            settings["components.llm.save_io"] = True
        config = Config().from_str(text, overrides=settings, interpolate=True)
        self.nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        budget = getattr(self.model, "budget", None)
        self.budget_exhausted = bool(budget and budget.spent)

    def begin_round(self, k: int) -> None:
        """Tag the ledger records that follow with round ``k``."""
        self.round = k
        if hasattr(self.model, "context"):
            self.model.context = {"round": k}

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        """Yield an :class:`Annotation` for every request answered (in batches, as they finish)."""
        assert self.nlp is not None
        unanswered: Dict[str, int] = {}
        for doc in self.nlp.pipe(self._docs(requests), batch_size=self.batch_size):
            annotation, kind = self._annotation(doc)
            if annotation is None:
                unanswered[kind] = unanswered.get(kind, 0) + 1
                continue
            yield annotation
        if unanswered.get("budget"):
            self.budget_exhausted = True
        if unanswered:
            logger.warning("%s: %s requests got no answer (%s); they will be asked again", self.name,
                           sum(unanswered.values()), unanswered)

    def _docs(self, requests: Iterable[AnnotationRequest]) -> Iterator[Doc]:
        """A Doc per request, made as the pipeline reads it (a large round never holds them all)."""
        assert self.nlp is not None
        for request in requests:
            doc = make_doc(self.nlp.vocab, request.words)
            doc.user_data[ID_KEY] = request.id
            yield doc

    def identity(self) -> Dict[str, Any]:
        """The annotator config's digest: a changed prompt or grouping would regroup a resumed run's prompts."""
        digest = hashlib.sha256(annotator_config_text(self.config_path).encode("utf-8")).hexdigest()[:16]
        return {"config": str(self.config_path), "config_sha256": digest}

    def example_sentences(self) -> List[List[str]]:
        """The token lists of the task's k-shot examples (none for a task without examples)."""
        examples = getattr(self._llm()._task, "example_tokens", None)
        return [list(tokens) for tokens in examples()] if callable(examples) else []

    def estimate(self, requests: Sequence[AnnotationRequest]) -> Dict[str, Any]:
        """What asking for ``requests`` would cost, before anything is sent: the real prompts rendered and counted
        (:func:`~..llm.tokens.count_tokens`), the answers as an all-``O`` answer of the expected shape, priced as
        the budget prices (None when the model has no price). Cached prompts are not discounted."""
        task = self._llm()._task
        group = int(getattr(task, "sentences_per_request", 1) or 1)
        words = [list(r.words) for r in requests]
        chunks = [words[i:i + group] for i in range(0, len(words), group)]
        if hasattr(task, "render"):
            tokens_in = sum(count_tokens(task.render(chunk)) for chunk in chunks)
            tokens_out = sum(count_tokens(task.expected_answer(chunk)) for chunk in chunks)
        else:  # a task of spacy-llm's own: its prompts, and about the sentence's length out
            assert self.nlp is not None  # self._llm() above needs the pipeline too
            docs = [make_doc(self.nlp.vocab, w) for w in words]
            tokens_in = sum(count_tokens(p) for prompts, _ in task.generate_prompts(docs) for p in prompts)
            tokens_out = sum(count_tokens(" ".join(w)) for w in words)
        price = self.price
        return {"sentences": len(requests), "requests": len(chunks), "input_tokens": tokens_in,
                "output_tokens": tokens_out, "cost_usd": cost_usd(price, tokens_in, tokens_out) if price else None,
                "price_per_1k": list(price) if price else None, "tokenizer": tokenizer_name()}

    def batches(self, requests: Sequence[AnnotationRequest]) -> Iterator[List[Annotation]]:
        """The answers to one prompt together, as one unit for the loop to write (see :func:`group_by_prompt`)."""
        return group_by_prompt(self(requests))

    def _annotation(self, doc: Any) -> Tuple[Optional[Annotation], str]:
        model = getattr(self.model, "name", self.name)
        source = f"llm:{model}"
        result = doc.user_data.get(RESULT_KEY)
        if result is None:  # a task of spacy-llm's own (e.g. spacy.NER.v3): read doc.ents
            io = doc.user_data.get("llm_io", {}).get("llm", {})
            prompts = io.get("prompt", [])
            failure = getattr(self.model, "failure", lambda prompt: None)
            kinds = [k for k in map(failure, [prompts] if isinstance(prompts, str) else prompts) if k]
            if kinds and kinds[0] in NOT_ANSWERED:
                return None, kinds[0]
            if kinds:  # refused by the API (e.g. a content filter): asking again will not help
                return Annotation(doc.user_data[ID_KEY], None, source, error=f"request_failed: {kinds[0]}",
                                  meta={"model": model}), ""
            responses = io.get("response", [])
            response = "\n".join([responses] if isinstance(responses, str) else responses)
            labels = getattr(self._llm()._task, "labels", None)
            problems = {"entities_not_aligned": entities_not_aligned(response, doc, labels)}
            return Annotation(doc.user_data[ID_KEY], doc_tags(doc), source,
                              meta={"model": model, "problems": problems}), ""
        kind = result.get("error_kind")
        if kind in NOT_ANSWERED:
            return None, kind
        meta = {"model": model, **{k: result.get(k) for k in ("prompt_hash", "request_id", "cached", "group_size")},
                "problems": result["problems"], "repairs": result["repairs"]}
        return Annotation(doc.user_data[ID_KEY], result["tags"], source, error=result["error"], meta=meta), ""

    def usage(self, k: Optional[int] = None) -> Dict[str, Any]:
        """Requests, retries, errors, cache hits, tokens and cost from the ledger (of round ``k`` if given)."""
        ledger = getattr(self.model, "ledger", None)
        if ledger is None:
            return {}
        summary = ledger.usage(k)
        price = self.price
        summary["cost_usd"] = (round(cost_usd(price, summary["input_tokens"], summary["output_tokens"]), 6)
                               if price else None)
        return summary


def entities_not_aligned(response: str, doc: Doc, labels: Optional[Iterable[str]] = None) -> int:
    """How many entities a span-based spacy-llm answer (``spacy.NER.v3``) named that did not become one of
    ``doc.ents``: spacy-llm finds each entity string in the text and, unable to align it with tokens (or to find
    it at all), drops it without a word. Counted so a round's summary shows what was lost.

    Entity lines are read as spacy-llm reads them (``SpanReason.from_str``: ``text | True | LABEL | reason``; the
    ``LABEL: a, b`` lines of its older NER prompts too); labels outside ``labels`` are left out (spacy-llm drops
    them for another reason). Each named entity is matched to at most one unclaimed entity of the same label
    that overlaps an occurrence of its text (case-insensitive, as spacy-llm searches); what finds none counts.
    """
    known = {label.strip().lower() for label in labels} if labels is not None else None
    named = [(text, label) for text, label in _named_entities(response) if known is None or label in known]
    lowered = doc.text.lower()
    unclaimed = list(doc.ents)
    missed = 0
    for text, label in named:
        spans = [(m, m + len(text)) for m in _occurrences(lowered, text.lower())]
        match = next((ent for ent in unclaimed if ent.label_.strip().lower() == label and
                      any(start < ent.end_char and ent.start_char < end for start, end in spans)), None)
        if match is None:
            missed += 1
        else:
            unclaimed.remove(match)
    return missed


def _named_entities(response: str) -> List[Tuple[str, str]]:
    """``(text, lowercased label)`` of every entity a spacy-llm NER answer names, in order."""
    named: List[Tuple[str, str]] = []
    for line in response.strip().splitlines():
        try:
            reason = SpanReason.from_str(line)
        except ValueError:
            if ":" in line and "|" not in line:  # spacy.NER.v1/v2: "LABEL: a, b"
                label, phrases = line.split(":", 1)
                named.extend((p.strip(), label.strip().lower()) for p in phrases.split(",") if p.strip())
            continue
        if reason.is_entity and reason.text:
            named.append((reason.text, reason.label.strip().lower()))
    return named


def _occurrences(text: str, sub: str) -> List[int]:
    """Start of every occurrence of ``sub`` in ``text`` (overlapping ones included)."""
    starts, at = [], text.find(sub) if sub else -1
    while at != -1:
        starts.append(at)
        at = text.find(sub, at + 1)
    return starts


def _takes(block: Dict[str, Any], argument: str) -> bool:
    """Whether the registered model of a config block has a parameter named ``argument``."""
    import inspect

    from catalogue import RegistryError
    from spacy_llm.registry import registry as llm_registry

    try:
        return argument in inspect.signature(llm_registry.llm_models.get(block["@llm_models"])).parameters
    except (KeyError, RegistryError):  # an unregistered name fails later, where the pipeline is built, with its message
        return False


def task_settings(task: Dict[str, Any], context: Optional[AnnotationContext], lang: str) -> Dict[str, Any]:
    """Config overrides that give the task the run's language name and label set.

    For our TokenNER task: ``language`` (always set for a code MasakhaNER does not name, so the pipeline builds
    before a run gives the name) and, for a label set of the user's own, ``labels``, ``tag_definitions`` and
    ``guideline``. For spacy-llm's ``spacy.NER.v3``: ``labels`` and ``label_definitions``. MasakhaNER's labels
    change nothing, so the paper's prompts (and their cache keys) stay as they were.
    """
    ours = task.get("@llm_tasks", "").startswith(OUR_PREFIX)
    prefix = "components.llm.task."
    settings: Dict[str, Any] = {}
    language = context.language if context and context.language else None
    if ours and (language or lang not in LANGUAGES):
        settings[prefix + "language"] = language or LANGUAGES.get(lang, lang)
    labels = context.labels if context else None
    if labels is None or labels.is_masakhaner:
        return settings
    if ours:
        settings.update({prefix + "labels": list(labels.labels), prefix + "tag_definitions": labels.tag_definitions(),
                         prefix + "guideline": labels.guideline or GENERIC_GUIDELINE})
    elif "labels" in task:  # spaCy-llm's NER tasks (spacy.NER.v3 takes label_definitions)
        settings[prefix + "labels"] = list(labels.labels)
        settings[prefix + "label_definitions"] = dict(labels.definitions)
    return settings


def group_by_prompt(annotations: Iterable[Annotation]) -> Iterator[List[Annotation]]:
    """Consecutive answers to one prompt (``meta.prompt_hash``, ``meta.group_size`` sentences) as one list.

    The loop writes each list in one go. Were a kill to leave half a group on disk, the rest would be
    grouped with other sentences on resume, making new prompts that miss the cache and are paid again.
    """
    group: List[Annotation] = []
    for annotation in annotations:
        if group and not _same_prompt(group[-1], annotation):
            yield group
            group = []
        group.append(annotation)
        if len(group) >= int(annotation.meta.get("group_size") or 1):
            yield group
            group = []
    if group:
        yield group


def _same_prompt(a: Annotation, b: Annotation) -> bool:
    """Whether two answers came from one prompt (several sentences per request)."""
    key = a.meta.get("prompt_hash")
    return key is not None and key == b.meta.get("prompt_hash")


@registry.misc("spacy-llm-loop.LLMAnnotator.v1")
def make_llm_annotator(name: str, config: str, lang: str, batch_size: int = 64,
                       cache_path: Optional[str] = "cache/llm.sqlite", endpoint: Optional[str] = None,
                       model_name: Optional[str] = None, concurrency: Optional[int] = None,
                       budget_usd: Optional[float] = None, budget_tokens: Optional[int] = None,
                       examples_from_seed: bool = True,
                       model_settings: Dict[str, Any] = {}) -> LLMAnnotator:
    """An LLM annotator from the spacy-llm pipeline config ``config``.

    name: the annotator's short name (run folders, ``meta.source = llm:<name>``).
    endpoint, model_name, concurrency, budget_usd, budget_tokens: set on the config's model.
    model_settings: more of the model's settings, e.g. a simulated model's ``gold`` file.
    """
    overrides = {"endpoint": endpoint, "name": model_name, "concurrency": concurrency,
                 "budget_usd": budget_usd, "budget_tokens": budget_tokens}
    return LLMAnnotator(name, config, lang, batch_size=batch_size, cache_path=cache_path, overrides=overrides,
                        examples_from_seed=examples_from_seed, model_settings=model_settings)
