"""Reading a team's own unlabelled texts into sentences: plain text, Prodigy-style JSONL, or a DocBin.

- ``.txt``: one sentence or paragraph per line, tokenized by a blank spaCy pipeline (``xx``, the learner's
  own tokenizer, unless another language code is given) and split into sentences by spaCy's
  ``sentencizer`` (``split_sentences=False`` keeps one line as one unit). Blank lines are skipped.
- ``.jsonl``: Prodigy's input format, one task per line with ``text`` and optional ``tokens`` (strings or
  Prodigy token dicts) and ``meta``. Tokens given are kept as the unit; a task with text only is tokenized
  and split like a line of text. Spans, if any, are read as gold labels (a labelled pool, e.g. to simulate).
- ``.spacy``: a DocBin, one unit per Doc, its ``doc.ents`` kept as gold labels.

Files are read line by line (streamed); an undecodable line or a broken JSON record raises an
:class:`~..errors.InputError` naming file and line. Every unit carries its file and line in its meta.
"""
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..errors import InputError
from .docs import doc_tags
from .prodigy import task_to_doc

POOL_FORMATS = (".txt", ".jsonl", ".spacy")


@dataclass
class Unit:
    """One sentence of the pool: its tokens, gold tags if the file had any, and where it came from."""

    words: List[str]
    line: int
    tags: Optional[List[str]] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What makes two units duplicates: :func:`text_key` of their tokens."""
        return text_key("".join(self.words))


def text_key(text: str) -> str:
    """A sentence's identity across files and tokenizations: its text in Unicode NFC with every whitespace
    removed (``hard .`` from one tokenizer and ``hard.`` from another are the same sentence)."""
    return "".join(unicodedata.normalize("NFC", text).split())


def tokenizer_pipeline(spacy_lang: str = "xx", split_sentences: bool = True) -> Language:
    """A blank pipeline for ``spacy_lang`` (``xx`` if spaCy has no such language) with a sentencizer."""
    try:
        nlp = spacy.blank(spacy_lang)
    except (ImportError, KeyError) as err:
        raise ValueError(f"spaCy has no language '{spacy_lang}' to tokenize with; use 'xx' (multi-language), "
                         f"or one of spaCy's codes ({err})") from None
    if split_sentences:
        nlp.add_pipe("sentencizer")
    return nlp


def iter_pool(path: Union[str, Path], nlp: Language) -> Iterator[Unit]:
    """The units of a pool file (see the module docstring), in file order."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.suffix == ".txt":
        yield from _text_units(path, nlp)
    elif path.suffix == ".jsonl":
        yield from _jsonl_units(path, nlp)
    elif path.suffix == ".spacy":
        yield from _docbin_units(path, nlp.vocab)
    else:
        raise InputError(f"unknown pool format '{path.suffix}' (expected one of {', '.join(POOL_FORMATS)})", path)


def _lines(path: Path) -> Iterator[tuple]:
    """``(line number, text)`` of a UTF-8 file, read line by line; a byte sequence that is not UTF-8 names its
    line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 ({err.reason} at byte {err.start}); save the file as UTF-8",
                                 path, number) from None
            yield number, text.lstrip("\ufeff") if number == 1 else text


def _split(nlp: Language, text: str, line: int, meta: Dict[str, Any]) -> Iterator[Unit]:
    doc = nlp(text.strip())
    sentences = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
    for sent in sentences:
        words = [t.text for t in sent if not t.is_space]
        if words:
            yield Unit(words, line, meta=dict(meta))


def _text_units(path: Path, nlp: Language) -> Iterator[Unit]:
    for number, text in _lines(path):
        if text.strip():
            yield from _split(nlp, text, number, {})


def _jsonl_units(path: Path, nlp: Language) -> Iterator[Unit]:
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            task = srsly.json_loads(text)
        except ValueError as err:
            raise InputError(f"not valid JSON ({err})", path, number) from None
        if not isinstance(task, dict) or not isinstance(task.get("text"), str):
            raise InputError("a pool task needs a 'text' string (Prodigy's input format: {\"text\": ...})",
                             path, number)
        meta = task.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        tokens = task.get("tokens")
        if "spans" not in task and tokens is None:
            yield from _split(nlp, task["text"], number, meta)
        elif "spans" not in task and isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
            yield Unit(list(tokens), number, meta=meta)
        else:  # Prodigy token dicts and/or spans: checked against the text
            doc = task_to_doc(nlp.vocab, task, str(path), number)
            words = [t.text for t in doc if not t.is_space]
            if len(words) != len(doc):
                raise InputError("whitespace tokens in a task with spans; give tokens without whitespace",
                                 path, number)
            yield Unit(words, number, doc_tags(doc) if "spans" in task else None, meta)


def _docbin_units(path: Path, vocab: Vocab) -> Iterator[Unit]:
    try:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
    except (ValueError, KeyError) as err:
        raise InputError(f"not a readable DocBin ({err})", path) from None
    for number, doc in enumerate(docs, start=1):
        words = [t.text for t in doc if not t.is_space]
        if len(words) != len(doc):
            raise InputError(f"Doc {number} has whitespace tokens; remove them before using it as a pool", path)
        if words:
            yield Unit(words, number, doc_tags(doc) if doc.has_annotation("ENT_IOB") else None)
