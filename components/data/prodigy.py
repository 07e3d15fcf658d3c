"""Prodigy-compatible NER tasks (``ner_manual`` shape) <-> spaCy Docs, via srsly.

A task is ``{"text", "tokens": [{text, start, end, id, ws}], "spans": [{start,
end, token_start, token_end, label}], "_input_hash", "_task_hash", "answer",
"meta"}``; ``token_end`` is inclusive, as in Prodigy. Keys this module does not
know (``_view_id``, ``_timestamp``, ``_annotator_id`` ... from ``prodigy db-out``)
are kept on the Doc and written back unchanged. Hashes are MurmurHash3 (signed
32-bit) of the input text and of the spans, the scheme of Prodigy's
``set_hashes``; hashes read from a file are kept as long as text and spans are.

Texts and tokens are kept exactly as written (no Unicode normalisation), and the
tokens must match the text character for character: a task whose text is in NFD
and its tokens in NFC is refused, naming the difference.

Binary answers from ``ner.teach`` (``_view_id`` "ner": one suggested span,
accepted or rejected) say nothing about the task's other entities, so they are
not complete annotations: by default they are refused (``binary="error"``);
``binary="skip"`` leaves them out with a warning and ``binary="complete"`` reads
their spans as the whole annotation. Tasks with no ``_view_id`` (this project's
own files) or another one (``ner_manual``) are complete annotations.
"""
import logging
import unicodedata
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Literal, Optional, Sequence, Set, Tuple, Union

import srsly
from murmurhash.mrmr import hash as murmur
from spacy.tokens import Doc, Span
from spacy.util import get_words_and_spaces
from spacy.vocab import Vocab

from ..errors import TaskFormatError
from ..fileio import iter_jsonl, write_jsonl
from .docs import get_task, set_task

logger = logging.getLogger(__name__)

ANSWERS = ("accept", "reject", "ignore")
Binary = Literal["error", "skip", "complete"]
BINARY_POLICIES: Tuple[str, ...] = ("error", "skip", "complete")
BINARY_VIEWS: Tuple[str, ...] = ("ner",)  # Prodigy's ner.teach: accept or reject one suggested span
SKIP_WARNINGS = 10  # skipped binary tasks logged one by one; the rest as a count


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


def is_binary_task(task: Dict[str, Any]) -> bool:
    """Whether ``task`` is a binary answer on one suggested span (``ner.teach``), not a complete annotation."""
    return task.get("_view_id") in BINARY_VIEWS


def task_to_doc(
    vocab: Vocab, task: Dict[str, Any], where: str = "<task>", line: Optional[int] = None,
    *, binary: Literal["error", "complete"] = "error",
) -> Doc:
    """A Doc with ``doc.ents`` from a task; a malformed task raises :class:`TaskFormatError` naming ``where:line``.

    A binary ``ner.teach`` task is refused unless ``binary="complete"`` (see the module docstring).
    """
    def fail(message: str) -> TaskFormatError:
        return TaskFormatError(message, where, line)

    if binary not in ("error", "complete"):
        raise ValueError(f"Unknown binary policy '{binary}'; expected 'error' or 'complete'")
    if not isinstance(task, dict):
        raise fail(f"task is not a JSON object: {task!r}")
    text = task.get("text")
    if not isinstance(text, str):
        raise fail("task has no 'text' string")
    if binary == "error" and is_binary_task(task):
        raise fail(f"task is a binary answer from Prodigy's ner.teach (_view_id '{task['_view_id']}', answer "
                   f"'{task.get('answer', 'accept')}' on one suggested span), not a complete annotation; export the "
                   "complete annotations (ner.manual or ner.correct), or read the file with read_tasks(..., "
                   "binary='skip') to leave such tasks out, or binary='complete' to read their spans as complete")
    tokens = task.get("tokens")
    words, spaces = _task_tokens(text, tokens, fail)
    doc = Doc(vocab, words=words, spaces=spaces)
    _check_alignment(text, tokens, doc, fail)
    spans = task.get("spans") or []
    if not isinstance(spans, list):
        raise fail(f"'spans' is not a list: {spans!r}")
    ents = [_task_span(doc, span, fail) for span in spans]
    try:
        doc.ents = ents
    except ValueError as err:
        raise fail(f"overlapping or invalid spans: {err}") from None
    _set_missing(doc, ents, task, fail)
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


def _set_missing(doc: Doc, ents: List[Span], task: Dict[str, Any], fail: Any) -> None:
    """Tokens a label policy made missing (``meta.label_policy.missing``: ``[start, end, reason]`` token ranges) get
    no entity annotation at all, so ``spacy train`` learns nothing there, as the loop's learner did."""
    meta = task.get("meta")
    policy = meta.get("label_policy") if isinstance(meta, dict) else None
    missing = policy.get("missing") if isinstance(policy, dict) else None
    if not missing:
        return
    spans = []
    for item in missing:
        if not (isinstance(item, list) and len(item) >= 2 and _is_int(item[0]) and _is_int(item[1])
                and 0 <= item[0] < item[1] <= len(doc)):
            raise fail(f"meta.label_policy.missing holds {item!r}, not a [start, end, reason] token range inside the "
                       f"{len(doc)} tokens")
        if any(e.start < item[1] and item[0] < e.end for e in ents):
            raise fail(f"meta.label_policy.missing {item!r} overlaps an entity of 'spans'")
        spans.append(Span(doc, item[0], item[1]))
    doc.set_ents(ents, missing=spans, default="outside")


def _task_tokens(text: str, tokens: Optional[List[Dict[str, Any]]], fail: Any) -> Tuple[List[str], List[bool]]:
    if tokens is None:  # split on spaces only, as MasakhaNER is; runs of spaces become whitespace tokens
        return get_words_and_spaces([w for w in text.split(" ") if w], text)
    if not isinstance(tokens, list):
        raise fail(f"'tokens' is not a list: {tokens!r}")
    words, spaces = [], []
    for i, token in enumerate(tokens):
        if not isinstance(token, dict) or not isinstance(token.get("text"), str) or not token["text"]:
            raise fail(f"token {i} has no 'text' (or an empty one): {token!r}")
        for key in ("start", "end"):
            if key in token and not _is_int(token[key]):
                raise fail(f"token {i} has a '{key}' that is not an integer: {token!r}")
        words.append(token["text"])
        if "ws" in token:
            spaces.append(bool(token["ws"]))
        elif i + 1 < len(tokens):
            spaces.append(tokens[i + 1].get("start", 0) > token.get("end", 0))
        else:
            spaces.append(len(text) > token.get("end", len(text)))
    return words, spaces


def _check_alignment(text: str, tokens: Optional[List[Dict[str, Any]]], doc: Doc, fail: Any) -> None:
    """Raise unless the tokens are the text's own characters, at their 'start' and 'end' where given."""
    # Compared without whitespace, so that offsets or 'ws' computed on the other form do not hide the cause.
    bare_text, bare_tokens = "".join(text.split()), "".join(doc.text.split())
    if bare_text != bare_tokens and _nfc(bare_text) == _nfc(bare_tokens):
        raise fail(f"the text and the tokens differ in Unicode normalisation (the text is {_form(text)}, the "
                   f"tokens are {_form(doc.text)}); write both in the same form")
    for i, token in enumerate(tokens or []):
        start, end = token.get("start"), token.get("end")
        if start is not None and end is not None and text[start:end] != token["text"]:
            raise fail(f"token {i} {token['text']!r} does not match the text at its 'start' and 'end' "
                       f"({start}-{end}), which holds {text[start:end]!r}")
    if doc.text != text:
        raise fail(f"the tokens do not add up to the text (check 'start', 'end' and 'ws'): {_mismatch(text, doc)}")
    for i, token in enumerate(tokens or []):
        at = (doc[i].idx, doc[i].idx + len(doc[i]))
        if token.get("start", at[0]) != at[0] or token.get("end", at[1]) != at[1]:
            raise fail(f"token {i} {token['text']!r} is at characters {at[0]}-{at[1]} of the text, but its 'start' "
                       f"and 'end' say {token.get('start')}-{token.get('end')}")


def _mismatch(text: str, doc: Doc) -> str:
    for token in doc:
        found = text[token.idx:token.idx + len(token)]
        if found != token.text:
            return f"token {token.i} {token.text!r} would be at character {token.idx}, where the text has {found!r}"
        after = text[token.idx + len(token):token.idx + len(token.text_with_ws)]
        if after != token.whitespace_:
            return f"token {token.i} {token.text!r} is followed by {token.whitespace_!r}, the text by {after!r}"
    return f"the tokens make {len(doc.text)} characters, the text has {len(text)}"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _form(text: str) -> str:
    return next((form for form in ("NFC", "NFD") if unicodedata.is_normalized(form, text)), "neither NFC nor NFD")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _task_span(doc: Doc, span: Dict[str, Any], fail: Any) -> Any:
    if not isinstance(span, dict):
        raise fail(f"span {span!r} is not an object")
    label = span.get("label")
    if not label:
        raise fail(f"span {span} has no label")
    for key in ("start", "end", "token_start", "token_end"):
        if key in span and not _is_int(span[key]):
            raise fail(f"span {span} has a '{key}' that is not an integer")
    if "token_start" in span and "token_end" in span:
        start, end = span["token_start"], span["token_end"] + 1
        if not 0 <= start < end <= len(doc):
            raise fail(f"span {span} is outside the {len(doc)} tokens")
        result = doc[start:end]
        if "start" in span and (result.start_char, result.end_char) != (span["start"], span.get("end")):
            raise fail(f"span {span}: token and character offsets disagree")
        return Span(doc, start, end, label=label)
    by_chars = doc.char_span(span.get("start", -1), span.get("end", -1), label=label)
    if by_chars is None:
        raise fail(f"span {span} does not start and end on token boundaries")
    return by_chars


def read_tasks(
    vocab: Vocab, path: Union[str, Path], answers: Iterable[str] = ("accept",), *, binary: Binary = "error"
) -> Iterator[Doc]:
    """Docs from a Prodigy-style JSONL file, keeping only tasks whose ``answer`` is in ``answers``.

    ``binary`` says what to do with binary ``ner.teach`` tasks, whatever their answer: ``"error"`` (the
    default) refuses the first one, naming file and line; ``"skip"`` leaves them out with a warning;
    ``"complete"`` reads their spans as complete annotations.
    """
    if binary not in BINARY_POLICIES:
        raise ValueError(f"Unknown binary policy '{binary}'; expected one of {BINARY_POLICIES}")
    return _read_tasks(vocab, path, set(answers), binary)


def _read_tasks(vocab: Vocab, path: Union[str, Path], keep: Set[str], binary: Binary) -> Iterator[Doc]:
    as_doc: Literal["error", "complete"] = "complete" if binary == "complete" else "error"
    skipped = 0
    for number, task in iter_jsonl(path):
        if binary == "skip" and isinstance(task, dict) and is_binary_task(task):
            skipped += 1
            if skipped <= SKIP_WARNINGS:
                logger.warning("%s:%d: skipped a binary ner.teach task (not a complete annotation; pass "
                               "binary='complete' to read it as one)", path, number)
            continue
        doc = task_to_doc(vocab, task, str(path), number, binary=as_doc)
        if get_task(doc).get("answer", "accept") in keep:
            yield doc
    if skipped > SKIP_WARNINGS:
        logger.warning("... and %d more binary ner.teach tasks skipped in %s", skipped - SKIP_WARNINGS, path)


def write_tasks(path: Union[str, Path], docs: Iterable[Doc]) -> None:
    """Write Docs as Prodigy-style JSONL, atomically."""
    write_jsonl(path, (doc_to_task(doc) for doc in docs))
