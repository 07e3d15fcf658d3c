"""The TokenNER task: the paper's prompt (token list in, ``[[token, tag], ...]`` out), N sentences per request.

spacy-llm's ``llm`` component asks a task for one list of prompts per doc. To
send N sentences in one request, the first doc of each group of N carries the
group's single prompt and the others carry none; :meth:`TokenNERTask.parse_responses`
reads the groups back the same way (a doc with a response starts a group), so
any spacy-llm model, ours or stock, serves it. Each doc gets ``doc.ents`` from
its checked tags and, in ``doc.user_data["llm_annotation"]``, what happened to
it: tags (None if dropped), problems, repairs, the error, the prompt's hash and
the response's request id.

The k-shot examples come from an examples source: a callable returning a fixed
list (``spacy-llm-loop.TokenNERExamples.v1``: the same examples in every prompt),
or one that also selects per request (:class:`SelectsExamples`, e.g.
``spacy-llm-loop.SimilarExamples.v1``): each prompt then gets its own.
"""
import hashlib
import json
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import jinja2.sandbox
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example

from ....data.iob import iob_tagset, iob_to_spans
from .parser import OnError, SentenceParse, parse_response

RESULT_KEY = "llm_annotation"
PROMPT_HASH_KEY = "llm_prompt_hash"
ExamplesSource = Callable[[], Iterable[Dict[str, Any]]]


@runtime_checkable
class SelectsExamples(Protocol):
    """An examples source that picks the examples for each request (``{"tokens": [...], "tags": [...]}`` each)."""

    def __call__(self) -> Iterable[Dict[str, Any]]:
        ...

    def select(self, sentences: Sequence[Sequence[str]]) -> Iterable[Dict[str, Any]]:
        ...


class TokenNERTask:
    """Builds the prompts and parses the responses (see the module docstring)."""

    def __init__(self, *, labels: Sequence[str], language: str, template: str, tag_definitions: Dict[str, str],
                 guideline: str, examples: Optional[ExamplesSource], sentences_per_request: int,
                 on_error: OnError, min_aligned: float) -> None:
        if sentences_per_request < 1:
            raise ValueError(f"sentences_per_request must be at least 1, got {sentences_per_request}")
        if on_error not in ("drop", "repair"):
            raise ValueError(f"on_error must be 'drop' or 'repair', got '{on_error}'")
        self.labels = tuple(labels)
        self.tagset = iob_tagset(self.labels)
        self.language = language
        self.tag_definitions = {tag: tag_definitions.get(tag, "") for tag in self.tagset}
        self.guideline = guideline
        self.sentences_per_request = sentences_per_request
        self.on_error: OnError = on_error
        self.min_aligned = min_aligned
        self._template = jinja2.sandbox.SandboxedEnvironment(keep_trailing_newline=True).from_string(template)
        self._examples_source = examples
        self._examples: Optional[List[Dict[str, str]]] = None

    @property
    def examples(self) -> List[Dict[str, str]]:
        """The fixed k-shot examples, read once, with their JSON as it goes into the prompt (none when the source
        selects per request)."""
        if self._examples is None:
            raw = list(self._examples_source()) if self._examples_source and not self.selects_examples else []
            self._examples = _example_json(raw)
        return self._examples

    @property
    def selects_examples(self) -> bool:
        """Whether each request gets its own examples (the source is a :class:`SelectsExamples`)."""
        return isinstance(self._examples_source, SelectsExamples)

    def example_tokens(self) -> List[List[str]]:
        """The fixed examples' token lists (what an audit of the annotator leaves out). None for a source that
        selects per request: it never shows a request's own sentence as an example."""
        return [json.loads(eg["tokens_json"]) for eg in self.examples]

    def render(self, sentences: Sequence[Sequence[str]]) -> str:
        """The prompt for one request over ``sentences`` (token lists)."""
        payload = {"sentences": [{"id": i + 1, "tokens": list(words)} for i, words in enumerate(sentences)]}
        source = self._examples_source
        examples = _example_json(source.select(sentences)) if isinstance(source, SelectsExamples) else self.examples
        return self._template.render(language=self.language, tag_definitions=self.tag_definitions,
                                     guideline=self.guideline, examples=examples,
                                     n_sentences=len(sentences), sentences_json=_dumps(payload))

    def expected_answer(self, sentences: Sequence[Sequence[str]]) -> str:
        """An answer of the expected shape with every token ``O`` (for estimates: tags cost about the same)."""
        records = [{"id": i + 1, "output": [[w, "O"] for w in words]} for i, words in enumerate(sentences)]
        return _dumps({"sentences": records})

    def generate_prompts(self, docs: Iterable[Doc], context_length: Optional[int] = None
                         ) -> Iterable[Tuple[Iterable[Any], Iterable[Doc]]]:
        """Per doc: ``([prompt], [doc])`` for the first of each group of N, ``([], [doc])`` for the rest."""
        batch = list(docs)
        n = self.sentences_per_request
        for start in range(0, len(batch), n):
            group = batch[start:start + n]
            prompt = self.render([[t.text for t in doc] for doc in group])
            group[0].user_data[PROMPT_HASH_KEY] = _hash(prompt)
            yield [prompt], [group[0]]
            for doc in group[1:]:
                yield [], [doc]

    def parse_responses(self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[Any]]
                        ) -> Iterable[Doc]:
        """Regroup the docs as :meth:`generate_prompts` grouped them and set each doc's tags."""
        groups: List[Tuple[Any, List[Doc]]] = []
        for doc_shards, doc_responses in zip(shards, responses):
            doc = list(doc_shards)[0]
            answers = list(doc_responses)
            if answers or not groups:
                groups.append((answers[0] if answers else None, []))
            groups[-1][1].append(doc)
        for response, docs in groups:
            yield from self._apply(response, docs)

    def _apply(self, response: Any, docs: List[Doc]) -> List[Doc]:
        words = [[t.text for t in doc] for doc in docs]
        info = response_info(response)
        parsed = parse_response(None if info.get("error") else response, words, self.tagset, self.on_error,
                                self.min_aligned, cut_short=info.get("finish_reason") in ("length", "max_tokens"))
        prompt_hash = docs[0].user_data.pop(PROMPT_HASH_KEY, None)
        out = []
        for doc, result in zip(docs, parsed):
            if info.get("error") and result.error:
                result.error = f"request_failed: {info['error']}"
            out.append(self._annotate(doc, result, {**info, "prompt_hash": prompt_hash, "group_size": len(docs)}))
        return out

    def _annotate(self, doc: Doc, result: SentenceParse, info: Dict[str, Any]) -> Doc:
        doc.set_ents([Span(doc, s, e, label) for s, e, label in iob_to_spans(result.tags or [])], default="outside")
        doc.user_data[RESULT_KEY] = {"tags": result.tags, "error": result.error, "problems": result.problems,
                                     "repairs": result.repairs, **info}
        return doc

    def scorer(self, examples: Iterable[Example]) -> Dict[str, Any]:
        """Entity P/R/F of the annotations against gold Examples (spaCy's NER scorer)."""
        return get_ner_prf(examples)


def response_info(response: Any) -> Dict[str, Any]:
    """Provenance a model attached to a response (request id, cache hit, error); ``{}`` for a plain string."""
    return dict(getattr(response, "info", None) or {})


def tags_from(doc: Doc) -> Optional[List[str]]:
    """The tags the task set on ``doc`` (None if it dropped the sentence)."""
    result = doc.user_data.get(RESULT_KEY)
    return None if result is None else result["tags"]


def _example_json(raw: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Examples with their tokens and ``[token, tag]`` pairs as JSON, as the template shows them."""
    return [{"tokens_json": _dumps(eg["tokens"]),
             "pairs_json": _dumps([[t, g] for t, g in zip(eg["tokens"], eg["tags"])])} for eg in raw]


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
