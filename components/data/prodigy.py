"""Prodigy-compatible NER tasks (``ner_manual`` shape) <-> spaCy Docs, via srsly.

A task is ``{"text", "tokens": [{text, start, end, id, ws}], "spans": [{start,
end, token_start, token_end, label}], "_input_hash", "_task_hash", "answer",
"meta"}``; ``token_end`` is inclusive, as in Prodigy. Keys this module does not
know (``_view_id``, ``_timestamp``, ``_annotator_id`` ... from ``prodigy db-out``)
are kept on the Doc and written back unchanged. Hashes are MurmurHash3 (signed
32-bit) of the input text and of the spans, the scheme of Prodigy's
``set_hashes``; hashes read from a file are kept as long as text and spans are.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import srsly
from murmurhash.mrmr import hash as murmur
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..errors import TaskFormatError
from ..fileio import iter_jsonl, write_jsonl
from .docs import get_task, set_task

ANSWERS = ("accept", "reject", "ignore")


def input_hash(text: str) -> int:
    """Prodigy-style ``_input_hash`` of a task's text."""
    return murmur(srsly.json_dumps({"text": text}, sort_keys=True))


def task_hash(input_hash_value: int, spans: Sequence[Dict[str, Any]]) -> int:
    """Prodigy-style ``_task_hash``: the input hash and the spans."""
    keys = [{k: s[k] for k in ("start", "end", "label") if k in s} for s in spans]
    return murmur(str(input_hash_value) + srsly.json_dumps({"spans": keys}, sort_keys=True))


def task_hashes(text: str, spans: Sequence[Dict[str, Any]]) -> Tuple[int, int]:
    """``(_input_hash, _task_hash)`` for a task's text and spans."""
    value = input_hash(text)
    return value, task_hash(value, spans)


def doc_to_task(doc: Doc, meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The task for ``doc``: its record from :func:`task_to_doc` updated with the Doc's tokens and ents."""
    stored = get_task(doc)
    tokens, spans = derived_tokens(doc), derived_spans(doc)
    if _token_keys(stored.get("tokens")) == _token_keys(tokens):
        tokens = stored["tokens"]
    spans_kept = _span_keys(stored.get("spans")) == _span_keys(spans)
    if spans_kept:
        spans = stored["spans"]
    hash_in = stored.get("_input_hash", input_hash(doc.text))
    hash_task = stored["_task_hash"] if spans_kept and "_task_hash" in stored else task_hash(hash_in, spans)
    task = {"text": doc.text, "tokens": tokens, "spans": spans, "_input_hash": hash_in, "_task_hash": hash_task,
            "answer": stored.get("answer", "accept")}
    if "meta" in stored or meta:
        task["meta"] = {**stored.get("meta", {}), **(meta or {})}
    task.update({k: v for k, v in stored.items() if k not in task})
    return task


def derived_tokens(doc: Doc) -> List[Dict[str, Any]]:
    """Prodigy's ``tokens`` for a Doc."""
    return [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)} for t in doc]


def derived_spans(doc: Doc) -> List[Dict[str, Any]]:
    """Prodigy's ``spans`` for a Doc's entities (``token_end`` inclusive)."""
    return [{"start": e.start_char, "end": e.end_char, "token_start": e.start, "token_end": e.end - 1,
             "label": e.label_} for e in doc.ents]


def _token_keys(tokens: Optional[List[Dict[str, Any]]]) -> Optional[List[Tuple[Any, ...]]]:
    return None if tokens is None else [(t.get("text"), t.get("start"), t.get("end")) for t in tokens]


def _span_keys(spans: Optional[List[Dict[str, Any]]]) -> Optional[List[Tuple[Any, ...]]]:
    return None if spans is None else sorted((s.get("start"), s.get("end"), s.get("label")) for s in spans)


def task_to_doc(vocab: Vocab, task: Dict[str, Any], where: str = "<task>", line: Optional[int] = None) -> Doc:
    """A Doc with ``doc.ents`` from a task; a malformed task raises :class:`TaskFormatError` naming ``where:line``."""
    def fail(message: str) -> TaskFormatError:
        return TaskFormatError(message, where, line)

    text = task.get("text")
    if not isinstance(text, str):
        raise fail("task has no 'text' string")
    words, spaces = _task_tokens(text, task.get("tokens"), fail)
    doc = Doc(vocab, words=words, spaces=spaces)
    if doc.text != text:
        raise fail("the tokens do not add up to the text (check 'start', 'end' and 'ws')")
    ents = [_task_span(doc, span, fail) for span in task.get("spans") or []]
    try:
        doc.ents = ents
    except ValueError as err:
        raise fail(f"overlapping or invalid spans: {err}") from None
    answer = task.get("answer", "accept")
    if answer not in ANSWERS:
        raise fail(f"unknown answer '{answer}' (expected one of {ANSWERS})")
    # Keep what the Doc cannot give back itself: Prodigy's extra keys, the spans as read (to tell whether
    # the hashes still hold), and the token dicts only when they carry more than the Doc's tokens.
    record = {k: v for k, v in task.items() if k != "text"}
    record["spans"] = record.get("spans") or []
    if record.get("tokens") == derived_tokens(doc):
        del record["tokens"]
    set_task(doc, record)
    return doc


def _task_tokens(text: str, tokens: Optional[List[Dict[str, Any]]], fail: Any) -> Tuple[List[str], List[bool]]:
    if tokens is None:
        words = text.split(" ")
        return words, [True] * (len(words) - 1) + [False]
    words, spaces = [], []
    for i, token in enumerate(tokens):
        if not isinstance(token, dict) or "text" not in token:
            raise fail(f"token {i} has no 'text'")
        words.append(token["text"])
        if "ws" in token:
            spaces.append(bool(token["ws"]))
        elif i + 1 < len(tokens):
            spaces.append(tokens[i + 1].get("start", 0) > token.get("end", 0))
        else:
            spaces.append(len(text) > token.get("end", len(text)))
    return words, spaces


def _task_span(doc: Doc, span: Dict[str, Any], fail: Any) -> Any:
    label = span.get("label")
    if not label:
        raise fail(f"span {span} has no label")
    if "token_start" in span and "token_end" in span:
        start, end = span["token_start"], span["token_end"] + 1
        if not 0 <= start < end <= len(doc):
            raise fail(f"span {span} is outside the {len(doc)} tokens")
        result = doc[start:end]
        if "start" in span and (result.start_char, result.end_char) != (span["start"], span.get("end")):
            raise fail(f"span {span}: token and character offsets disagree")
        return Span(doc, start, end, label=label)
    result = doc.char_span(span.get("start", -1), span.get("end", -1), label=label)
    if result is None:
        raise fail(f"span {span} does not start and end on token boundaries")
    return result


def read_tasks(
    vocab: Vocab, path: Union[str, Path], answers: Iterable[str] = ("accept",)
) -> Iterator[Doc]:
    """Docs from a Prodigy-style JSONL file, keeping only tasks whose ``answer`` is in ``answers``."""
    keep = set(answers)
    for number, task in iter_jsonl(path):
        doc = task_to_doc(vocab, task, str(path), number)
        if get_task(doc).get("answer", "accept") in keep:
            yield doc


def write_tasks(path: Union[str, Path], docs: Iterable[Doc]) -> None:
    """Write Docs as Prodigy-style JSONL, atomically."""
    write_jsonl(path, (doc_to_task(doc) for doc in docs))
