"""Sentences <-> spaCy Docs, and the per-doc record of where a sentence came from.

MasakhaNER is pre-tokenised, so a Doc is built from the tokens with a single
space between them and ``doc.ents`` from the IOB2 tags. Each Doc carries its
Prodigy-style record (``meta``, hashes, answer and any other keys) in
``doc.user_data["task"]``, which DocBin keeps, so nothing is lost on the way
JSONL -> Docs -> JSONL.
"""
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import Doc
from spacy.vocab import Vocab

from .iob import spans_to_iob

TASK_KEY = "task"


def make_doc(vocab: Vocab, words: Sequence[str], tags: Optional[Sequence[str]] = None) -> Doc:
    """A Doc of ``words`` (space-separated); ``doc.ents`` from IOB2 ``tags`` when given."""
    spaces = [True] * len(words)
    if spaces:
        spaces[-1] = False
    return Doc(vocab, words=list(words), spaces=spaces, ents=list(tags) if tags is not None else None)


def doc_tags(doc: Doc) -> List[str]:
    """The IOB2 tags of ``doc.ents`` (``O`` where there is no entity)."""
    return spans_to_iob(len(doc), ((e.start, e.end, e.label_) for e in doc.ents))


def get_task(doc: Doc) -> Dict[str, Any]:
    """The Prodigy-style record stored on ``doc`` (empty dict if none)."""
    return doc.user_data.get(TASK_KEY, {})


def set_task(doc: Doc, task: Dict[str, Any]) -> None:
    """Store a Prodigy-style record (``meta`` and any other keys) on ``doc``."""
    doc.user_data[TASK_KEY] = task


def get_meta(doc: Doc) -> Dict[str, Any]:
    """The record's ``meta`` (lang, split, sentence_id, source, round ...)."""
    return get_task(doc).get("meta", {})


def sentence_id(doc: Doc) -> str:
    """The sentence id in the record's meta; a ``KeyError`` names the doc's text if absent."""
    meta = get_meta(doc)
    if "sentence_id" not in meta:
        raise KeyError(f"Doc has no meta.sentence_id: {doc.text[:60]!r}")
    return meta["sentence_id"]


def bare_copy(doc: Doc) -> Doc:
    """The same tokens and record without entities: what a learner or annotator sees."""
    copy = make_doc(doc.vocab, [t.text for t in doc])
    set_task(copy, dict(get_task(doc)))
    return copy
