"""The annotator interface the loop calls.

An annotator is a registered function (``spacy.registry.misc``) that returns an
object with a ``name`` (e.g. ``gold`` or ``gpt-4-turbo``) and a
``__call__(requests)`` that yields one :class:`Annotation` per request, in any
order, as soon as each is ready. The loop writes each answer to disk as it
arrives, so an interrupted round never asks for (or pays for) one twice. A
request left unanswered is asked again when the loop is run again.

The rest of the :class:`Annotator` protocol has defaults in :class:`BaseAnnotator`
(subclass it, or the loop wraps your object with :func:`as_annotator`):
``prepare(context)`` (once per run, with an :class:`AnnotationContext`),
``begin_round(k)``, ``usage(k)`` (requests, tokens and cost of round ``k``, for the
round's metrics), ``budget_exhausted`` (the loop then trains on what it has and
stops), ``batches(requests)``, which yields the answers in the units that must
reach the disk together (one answer each by default; the LLM annotator keeps the
answers to one multi-sentence prompt together), ``gives_gold`` (True for an oracle:
its answers are gold, so no label policy touches them and no audit is needed) and
``example_sentences()`` (the token lists it shows as examples in every prompt, which
an audit leaves out: an annotator would be graded on answers it was shown).
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Protocol, Sequence, runtime_checkable

from ..data.iob import iob_problems

if TYPE_CHECKING:
    from ..data.labels import LabelSet

# Short names used on the command line and in project.yml -> the loop config's [annotator] block.
LLM = "spacy-llm-loop.LLMAnnotator.v1"
ANNOTATOR_BLOCKS: Dict[str, Dict[str, Any]] = {
    "gold": {"@misc": "spacy-llm-loop.GoldAnnotator.v1", "path": "${paths.corpus}/train.spacy"},
    **{name: {"@misc": LLM, "name": name, "config": name, "lang": "${loop.lang}"}
       for name in ("gpt-4-turbo", "claude-3-haiku", "openai-compatible", "ner-v3")},
    # GPT-4-Turbo with MasakhaNER's guideline and per-sentence similar examples: not measured, not the default.
    "gpt-4-turbo-guided": {"@misc": LLM, "name": "gpt-4-turbo-guided", "config": "gpt-4-turbo-guided",
                           "lang": "${loop.lang}"},
    # SIMULATED GPT-4-Turbo: gold labels of the pool with GPT-4-Turbo's measured errors (no API, no cost).
    "sim-gpt-4-turbo": {"@misc": LLM, "name": "sim-gpt-4-turbo", "config": "sim-gpt-4-turbo", "lang": "${loop.lang}",
                        "model_settings": {"gold": "${paths.corpus}/train.spacy"}},
    # The same, erring where a reference learner finds the gold entities hard (v2 profile; the hardness file is
    # made by bench/hardness_file.py, and a missing one is named at start).
    "sim-gpt-4-turbo-hard": {"@misc": LLM, "name": "sim-gpt-4-turbo-hard", "config": "sim-gpt-4-turbo-hard",
                             "lang": "${loop.lang}", "model_settings": {"gold": "${paths.corpus}/train.spacy",
                                                                        "hardness": "${paths.corpus}/hardness.jsonl"}},
}
ANNOTATOR_NAMES = tuple(ANNOTATOR_BLOCKS)


def annotator_block(name: str) -> Dict[str, Any]:
    """The config block for an annotator's short name (a ValueError listing the names if unknown)."""
    if name not in ANNOTATOR_BLOCKS:
        raise ValueError(f"Unknown annotator '{name}'; choose one of {', '.join(ANNOTATOR_NAMES)}")
    return dict(ANNOTATOR_BLOCKS[name])


@dataclass
class AnnotationRequest:
    """One sentence to label: its id and its tokens."""

    id: str
    words: List[str]


@dataclass
class Annotation:
    """The answer for one request: IOB2 ``tags`` (one per token), or ``None`` with an ``error`` if dropped."""

    id: str
    tags: Optional[List[str]]
    source: str
    error: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON record the loop appends to the round's annotation log."""
        return {"id": self.id, "tags": self.tags, "source": self.source, "error": self.error, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Annotation":
        """Inverse of :meth:`to_dict`."""
        return cls(data["id"], data.get("tags"), data["source"], data.get("error"), data.get("meta") or {})


@dataclass
class AnnotationContext:
    """What a run gives an annotator that wants it (``prepare``): its folder, its gold seed file (the k-shot
    source; empty when there is no gold seed), its language code and name, and its label set (None: MasakhaNER's)."""

    run_dir: Path
    seed_path: Path
    lang: str
    labels: Optional["LabelSet"] = None
    language: Optional[str] = None


@runtime_checkable
class Annotator(Protocol):
    """Labels sentences; see the module docstring."""

    name: str
    gives_gold: bool

    @property
    def budget_exhausted(self) -> bool:  # read by the loop only: a plain attribute satisfies it
        ...

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        ...

    def batches(self, requests: Sequence[AnnotationRequest]) -> Iterator[List[Annotation]]:
        ...

    def prepare(self, context: Optional["AnnotationContext"]) -> None:
        ...

    def begin_round(self, k: int) -> None:
        ...

    def usage(self, k: Optional[int] = None) -> Dict[str, Any]:
        ...

    def identity(self) -> Dict[str, Any]:
        ...

    def example_sentences(self) -> List[List[str]]:
        ...


class BaseAnnotator:
    """No-op defaults for the optional part of the :class:`Annotator` protocol."""

    name: str = "annotator"
    budget_exhausted: bool = False
    gives_gold: bool = False

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        raise NotImplementedError

    def batches(self, requests: Sequence[AnnotationRequest]) -> Iterator[List[Annotation]]:
        """The answers in units the loop writes together: here, one answer at a time."""
        for annotation in self(requests):
            yield [annotation]

    def prepare(self, context: Optional["AnnotationContext"]) -> None:
        """Nothing to prepare."""

    def begin_round(self, k: int) -> None:
        """Nothing to do when a round starts."""

    def usage(self, k: Optional[int] = None) -> Dict[str, Any]:
        """No usage to report."""
        return {}

    def identity(self) -> Dict[str, Any]:
        """What, besides its name, makes this annotator this annotator (saved in ``run.json``, checked on resume)."""
        return {}

    def example_sentences(self) -> List[List[str]]:
        """No examples shown."""
        return []


class _Wrapped(BaseAnnotator):
    """An object with a ``name`` and ``__call__``: what it has of the protocol is used, the rest defaulted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.gives_gold = bool(getattr(inner, "gives_gold", False))

    @property
    def budget_exhausted(self) -> bool:  # type: ignore[override]  # read-only: the inner annotator's flag
        """Whether the inner annotator says its budget is spent (False when it has no such flag)."""
        return bool(getattr(self.inner, "budget_exhausted", False))

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        return self.inner(requests)

    def batches(self, requests: Sequence[AnnotationRequest]) -> Iterator[List[Annotation]]:  # noqa: D102
        if hasattr(self.inner, "batches"):
            return self.inner.batches(requests)
        return super().batches(requests)

    def prepare(self, context: Optional["AnnotationContext"]) -> None:  # noqa: D102
        if hasattr(self.inner, "prepare"):
            self.inner.prepare(context)

    def begin_round(self, k: int) -> None:  # noqa: D102
        if hasattr(self.inner, "begin_round"):
            self.inner.begin_round(k)

    def usage(self, k: Optional[int] = None) -> Dict[str, Any]:  # noqa: D102
        return self.inner.usage(k) if hasattr(self.inner, "usage") else {}

    def identity(self) -> Dict[str, Any]:  # noqa: D102
        return self.inner.identity() if hasattr(self.inner, "identity") else {}

    def example_sentences(self) -> List[List[str]]:  # noqa: D102
        return self.inner.example_sentences() if hasattr(self.inner, "example_sentences") else []


def as_annotator(annotator: Any) -> "Annotator":
    """``annotator`` itself when it has the whole protocol, else wrapped with the defaults."""
    if isinstance(annotator, Annotator):
        return annotator
    if not (callable(annotator) and isinstance(getattr(annotator, "name", None), str)):
        raise TypeError(f"an annotator needs a 'name' and a __call__(requests); got {annotator!r}")
    return _Wrapped(annotator)


def validate_annotation(annotation: Annotation, n_tokens: int, tagset: Sequence[str]) -> Annotation:
    """The annotation if its tags are one valid IOB2 tag per token; else the same, dropped, with the reason."""
    tags = annotation.tags
    if tags is None:
        return annotation
    problem = None
    if len(tags) != n_tokens:
        problem = f"{len(tags)} tags for {n_tokens} tokens"
    elif any(tag not in tagset for tag in tags):
        problem = f"tags outside the schema: {sorted(set(tags) - set(tagset))}"
    elif iob_problems(tags):
        index, message = iob_problems(tags)[0]
        problem = f"invalid IOB2 at token {index}: {message}"
    if problem is None:
        return annotation
    return Annotation(annotation.id, None, annotation.source, error=f"rejected by the loop: {problem}",
                      meta={**annotation.meta, "rejected_tags": tags})


def drop_reason(error: Any) -> str:
    """The kinds of failure in a dropped answer's error, one key per sentence: ``"length_mismatch x1; invalid_tag
    x2"`` -> ``"invalid_tag+length_mismatch"``, ``"request_failed: content_filter"`` -> ``"request_failed"``.
    Beside the annotator interface, as both the loop's round summary and the annotator evaluation count by it."""
    parts = {re.sub(r"\s+x\d+$", "", part.split(":")[0].strip()) for part in str(error or "unknown").split(";")}
    return "+".join(sorted(part for part in parts if part)) or "unknown"
