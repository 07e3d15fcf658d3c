"""The learner as judge of the annotator's labels: how likely it finds each entity the annotator gave.

A round's answers are judged by the previous round's model: the one that chose the sentences and never trained on
them. For every entity of the answer, and every entity the learner itself predicts, the judgement holds the
learner's probability of that exact span and type: the share of the uncertainty component's parses (beam,
Monte Carlo dropout passes or committee members, whichever the learner uses) that contain it; and for every token,
the share that put it inside some entity (where the answer says ``O``, the learner's doubt of that ``O``). On recorded
GPT-4-Turbo answers this signal separates right from wrong LLM entities far better than asking the LLM again
(issue "LLM labels that teach"); here it is what a label policy reads.
"""
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, cast

from spacy.language import Language

from ..data.docs import make_doc
from ..data.iob import iob_to_spans
from ..uncertainty.measures import span_confidences

if TYPE_CHECKING:
    from ..uncertainty.component import Uncertainty

Scored = List[Tuple[int, int, str, float]]
COMPONENT = "uncertainty"


def judge(nlp: Language, ids: Sequence[str], words: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
          batch_size: int = 128) -> List[Dict[str, Any]]:
    """One judgement per sentence: ``{"id", "llm": [[start, end, label, p], ...], "learner": [...], "in_entity":
    [p, ...]}``.

    ``p`` is the learner's probability of the exact span and type (rounded to 4 digits); ``in_entity`` gives each
    token the learner's probability that it lies inside some entity, of any type and span (the share of its parses
    in which it does): where the answer says ``O``, it is the learner's doubt of that ``O``. A pipeline without the
    uncertainty component gives 1.0 to the entities it predicts (and their tokens) and 0.0 to the others.
    """
    unc = cast("Uncertainty", nlp.get_pipe(COMPONENT)) if COMPONENT in nlp.pipe_names else None
    out: List[Dict[str, Any]] = []
    for start in range(0, len(ids), batch_size):
        chunk = slice(start, start + batch_size)
        docs = [make_doc(nlp.vocab, list(w)) for w in words[chunk]]
        docs = list(nlp.pipe(docs, disable=[COMPONENT] if unc is not None else []))
        parses = [o.parses for o in unc.predict(docs)] if unc is not None else [None] * len(docs)
        for sid, doc, sentence_tags, doc_parses in zip(ids[chunk], docs, tags[chunk], parses):
            learner = [(e.start, e.end, e.label_) for e in doc.ents]
            llm = iob_to_spans(list(sentence_tags))
            out.append({"id": sid, "llm": _scored(llm, learner, doc_parses),
                        "learner": _scored(learner, learner, doc_parses),
                        "in_entity": _in_entity(len(doc), learner, doc_parses)})
    return out


def _in_entity(n: int, predicted: List[Tuple[int, int, str]], parses: Optional[Any]) -> List[float]:
    """Each token's probability of lying inside an entity: the summed probability of the parses that put it in one
    (the predicted entities, as 1.0, without parses)."""
    p = [0.0] * n
    for prob, ents in parses if parses is not None else [(1.0, predicted)]:
        for s, e, _ in ents:
            for i in range(s, e):
                p[i] += prob
    return [round(min(1.0, x), 4) for x in p]


def _scored(spans: List[Tuple[int, int, str]], predicted: List[Tuple[int, int, str]], parses: Optional[Any]) -> Scored:
    if parses is None:
        probs = [1.0 if span in predicted else 0.0 for span in spans]
    else:
        probs = span_confidences(parses, spans)
    return [(s, e, label, round(float(p), 4)) for (s, e, label), p in zip(spans, probs)]
