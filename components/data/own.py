"""``prepare``: a team's own data as a corpus folder the loop runs on, and the manifest that describes it.

Inputs: the unlabelled pool (any format of :mod:`.pool`), and optionally a labelled seed, dev and test
(Prodigy JSONL as ``prodigy db-out`` writes it, CoNLL, or a DocBin), a label set (:mod:`.labels`) and the
language's code and name. Output, in the corpus folder:

- ``train.spacy``: the pool, duplicates skipped; or, with ``shard_size``, ``train.shards/`` (:mod:`.shards`: a
  large pool the loop reads a shard at a time);
- ``seed.spacy``, ``dev.spacy``, ``test.spacy``: the labelled files given, checked against the label set;
- ``corpus.json``: the manifest (language, labels with definitions, what each file holds, the inputs' digests,
  the duplicates skipped). The loop reads it: language and labels come from it, the seed from ``seed.spacy``
  (or, without one, drawn from the pool and labelled by the annotator), and a missing dev or test makes the
  figures that need gold "not available".

Every input error names file and line: an empty pool, an undecodable line, a label outside the set, a
sentence in both the pool and a labelled file. Nothing is written until every input has been read and checked.
"""
import hashlib
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import InputError
from ..fileio import atomic_path, iter_jsonl, write_json
from .conll import read_conll
from .corpus import LANGUAGES, load_docs
from .docs import doc_tags, get_task, make_doc, set_task
from .labels import LabelSet
from .pool import Unit, iter_pool, text_key, tokenizer_pipeline
from .prodigy import task_to_doc
from .shards import is_sharded, write_shards

logger = logging.getLogger(__name__)
MANIFEST = "corpus.json"
LABELLED = ("seed", "dev", "test")
_LANG_CODE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]+)*$")
PathLike = Union[str, Path]


@dataclass
class CorpusInfo:
    """What the loop needs to know about a corpus folder (a MasakhaNER one has no manifest)."""

    lang: Optional[str]
    language: Optional[str]
    labels: LabelSet
    pool_labelled: bool
    splits: Tuple[str, ...]  # the labelled files present: seed, dev, test
    own: bool  # made by prepare (has a manifest)


def read_manifest(corpus: PathLike) -> Optional[Dict[str, Any]]:
    """The corpus folder's manifest, or None (a MasakhaNER corpus from ``convert``)."""
    path = Path(corpus) / MANIFEST
    if not path.exists():
        return None
    try:
        return srsly.read_json(path)
    except ValueError as err:
        raise InputError(f"not a readable manifest ({err}); run 'prepare' again", path) from None


def corpus_info(corpus: PathLike) -> CorpusInfo:
    """The manifest's facts, or MasakhaNER's defaults for a folder without one."""
    corpus = Path(corpus)
    present = tuple(split for split in LABELLED if (corpus / f"{split}.spacy").exists())
    manifest = read_manifest(corpus)
    if manifest is None:
        return CorpusInfo(None, None, LabelSet.masakhaner(), True, present, False)
    labels = LabelSet.from_dict({"labels": manifest["labels"], "guideline": manifest.get("guideline")},
                                str(corpus / MANIFEST))
    return CorpusInfo(manifest["lang"], manifest.get("language"), labels, bool(manifest["pool"]["labelled"]),
                      present, True)


def check_lang_code(lang: str) -> str:
    """``lang`` if it looks like a language code (ISO 639: ``af``, ``kik``, ``quz``, ``pt-BR``), else a ValueError."""
    if not _LANG_CODE.match(lang or ""):
        raise ValueError(f"'{lang}' is not a language code (ISO 639-1 or -3, e.g. 'af' or 'kik')")
    return lang


def prepare_corpus(output: PathLike, *, lang: str, pool: PathLike, labels: Optional[Union[PathLike, LabelSet]] = None,
                   language: Optional[str] = None, seed: Optional[PathLike] = None, dev: Optional[PathLike] = None,
                   test: Optional[PathLike] = None, spacy_lang: str = "xx",
                   split_sentences: bool = True, overwrite: bool = True,
                   shard_size: Optional[int] = None) -> Dict[str, Any]:
    """Read, check and write a corpus folder (see the module docstring); return the manifest.

    A folder already prepared from the same inputs and options is left as it is (``"reused": true``); one
    prepared from others is rewritten, unless ``overwrite`` is False (the loop's ``--pool``), which refuses.
    """
    lang = check_lang_code(lang)
    language = language or LANGUAGES.get(lang)
    if not language:
        raise ValueError(f"'{lang}' is not a MasakhaNER language: give the language's name (--language), which "
                         "the annotator's prompt uses")
    label_set = labels if isinstance(labels, LabelSet) else (LabelSet.from_file(labels) if labels
                                                             else LabelSet.masakhaner())
    inputs = {"pool": pool, "seed": seed, "dev": dev, "test": test, "labels": None if isinstance(labels, LabelSet)
              else labels}
    options = {"lang": lang, "language": language, "spacy_lang": spacy_lang, "split_sentences": split_sentences,
               **label_set.to_dict(), **({"shard_size": shard_size} if shard_size else {})}
    digests = {name: _digest(path) for name, path in inputs.items() if path}
    output = Path(output)
    previous = read_manifest(output)
    if previous is None and ((output / "train.spacy").exists() or is_sharded(output / "train.shards")):
        raise InputError("this folder holds a corpus not made by prepare (a MasakhaNER one from convert?); "
                         "choose another folder (--corpus / --output)", output)
    if previous and previous.get("inputs") == digests and previous.get("options") == options:
        return {**previous, "reused": True}
    if previous and not overwrite:
        changed = sorted({k for k in set(digests) | set(previous.get("inputs", {}))
                          if digests.get(k) != previous.get("inputs", {}).get(k)} |
                         {k for k in options if options[k] != previous.get("options", {}).get(k)})
        raise InputError(f"this corpus was prepared from other inputs or options ({', '.join(changed)} differ); "
                         "run 'prepare' to rewrite it (runs made on it will then refuse to resume), or give "
                         "another --corpus", output / MANIFEST)
    nlp = tokenizer_pipeline(spacy_lang, split_sentences)
    units, duplicates = _dedupe(iter_pool(pool, nlp))
    if not units:
        raise InputError("the pool has no sentences", pool)
    labelled_pool = _pool_labelled(units, pool)
    _check_unit_labels(units, label_set, pool)
    paths = {split: path for split, path in (("seed", seed), ("dev", dev), ("test", test)) if path}
    files = {split: _labelled(path, nlp.vocab, label_set) for split, path in paths.items()}
    _check_overlaps(pool, units, files, paths)
    pool_docs = (_pool_doc(nlp.vocab, unit, lang, i, Path(pool).name, labelled_pool) for i, unit in enumerate(units))
    split_docs = {split: _split_docs(docs, lang, split, paths[split]) for split, docs in files.items()}
    manifest = {"format": 1, "lang": lang, "language": language, **label_set.to_dict(),
                "pool": {"file": str(pool), "sentences": len(units), "tokens": sum(len(u.words) for u in units),
                         "labelled": labelled_pool, "duplicates_skipped": len(duplicates),
                         "duplicates": duplicates[:20]},
                **{split: _summary(split_docs[split], inputs[split]) if split in split_docs else None
                   for split in LABELLED},
                "inputs": digests, "options": options}
    for split in LABELLED:  # a split left out now must not linger from an earlier prepare
        if split not in split_docs:
            (output / f"{split}.spacy").unlink(missing_ok=True)
    if shard_size:  # a large pool: shards, read a shard at a time by the loop (data.shards)
        write_shards(pool_docs, output / "train.shards", shard_size)
        (output / "train.spacy").unlink(missing_ok=True)
    else:
        with atomic_path(output / "train.spacy") as tmp:
            DocBin(docs=list(pool_docs), store_user_data=True).to_disk(tmp)
        shutil.rmtree(output / "train.shards", ignore_errors=True)
    for name, docs in split_docs.items():
        with atomic_path(output / f"{name}.spacy") as tmp:
            DocBin(docs=docs, store_user_data=True).to_disk(tmp)
    write_json(output / MANIFEST, manifest)
    return {**manifest, "reused": False}


def _digest(path: PathLike) -> str:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _dedupe(units: Any) -> Tuple[List[Unit], List[Dict[str, int]]]:
    """The units without repeats (first kept), and ``{"line", "first_line"}`` for each repeat skipped."""
    kept: List[Unit] = []
    first: Dict[str, int] = {}
    duplicates = []
    for unit in units:
        if unit.key in first:
            duplicates.append({"line": unit.line, "first_line": first[unit.key]})
            continue
        first[unit.key] = unit.line
        kept.append(unit)
    if duplicates:
        logger.warning("skipped %d duplicate sentences in the pool (e.g. line %d repeats line %d)", len(duplicates),
                       duplicates[0]["line"], duplicates[0]["first_line"])
    return kept, duplicates


def _pool_labelled(units: Sequence[Unit], path: PathLike) -> bool:
    """Whether the pool carries gold labels: all units or none (a mix is refused, naming the first odd line)."""
    with_tags = [u.tags is not None for u in units]
    if any(with_tags) and not all(with_tags):
        odd = next(u for u, t in zip(units, with_tags) if t != with_tags[0])
        raise InputError("some sentences of the pool have gold labels (spans) and others not; a pool is either "
                         "labelled throughout (to simulate an annotator) or unlabelled", path, odd.line)
    return all(with_tags)


def _check_unit_labels(units: Sequence[Unit], label_set: LabelSet, path: PathLike) -> None:
    for unit in units:
        unknown = sorted({t[2:] for t in unit.tags or [] if t != "O"} - set(label_set.labels))
        if unknown:
            raise InputError(f"label {unknown[0]!r} is not in the label set ({', '.join(label_set.labels)})",
                             path, unit.line)


def _labelled(path: PathLike, vocab: Vocab, label_set: LabelSet) -> List[Tuple[int, Doc]]:
    """``(line, doc)`` of a labelled file, each entity's label checked against the label set."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.suffix == ".jsonl":
        pairs = [(n, task_to_doc(vocab, task, str(path), n)) for n, task in iter_jsonl(path)]
        skipped = [n for n, doc in pairs if get_task(doc).get("answer", "accept") != "accept"]
        if skipped:  # prodigy db-out keeps rejected and ignored tasks: they are not labels
            logger.warning("%s: left out %d tasks answered reject or ignore (e.g. line %d)", path, len(skipped),
                           skipped[0])
            left_out = set(skipped)
            pairs = [(n, doc) for n, doc in pairs if n not in left_out]
    elif path.suffix in (".txt", ".conll", ".iob"):
        result = read_conll(path, labels=label_set.labels)
        for issue in result.issues:
            if issue.message.startswith("unknown tag"):
                raise InputError(f"{issue.message.split(' (')[0]}: not in the label set "
                                 f"({', '.join(label_set.labels)})", path, issue.line)
        pairs = [(s.line, make_doc(vocab, s.words, s.tags)) for s in result.sentences]
    else:
        try:
            pairs = list(enumerate(load_docs(path, vocab), start=1))
        except InputError:
            raise
        except Exception as err:  # a broken DocBin: spaCy's message does not name the file
            raise InputError(f"not a readable DocBin ({err})", path) from None
    if not pairs:
        raise InputError("no sentences in this file", path)
    for line, doc in pairs:
        unknown = sorted({e.label_ for e in doc.ents} - set(label_set.labels))
        if unknown:
            raise InputError(f"label {unknown[0]!r} is not in the label set ({', '.join(label_set.labels)})",
                             path, line)
    return pairs


def _key(doc: Doc) -> str:
    return text_key(doc.text)


def _check_overlaps(pool: PathLike, units: Sequence[Unit], files: Dict[str, List[Tuple[int, Doc]]],
                    paths: Dict[str, PathLike]) -> None:
    """Refuse a sentence that is in two of the files: labelled twice, or a test sentence the learner trains on."""
    seen: Dict[str, Tuple[str, int]] = {unit.key: (str(pool), unit.line) for unit in units}
    for split, pairs in files.items():
        here: Dict[str, int] = {}
        for line, doc in pairs:
            key = _key(doc)
            if key in seen:
                where, first = seen[key]
                raise InputError(f"this {split} sentence is also in {where} (line {first}); a sentence may be in "
                                 "one file only (remove it from one of them)", paths[split], line)
            here.setdefault(key, line)
        seen.update({key: (str(paths[split]), line) for key, line in here.items()})


def _pool_doc(vocab: Vocab, unit: Unit, lang: str, index: int, file: str, labelled: bool) -> Doc:
    doc = make_doc(vocab, unit.words, unit.tags if labelled else None)
    meta = {**unit.meta, "lang": lang, "split": "pool", "sentence_id": f"{lang}-pool-{index:06d}",
            "source": "gold" if labelled else "unlabelled", "round": 0, "file": file, "line": unit.line}
    if not labelled:
        meta["labelled"] = False
    set_task(doc, {"meta": meta})
    return doc


def _split_docs(pairs: List[Tuple[int, Doc]], lang: str, split: str, file: PathLike) -> List[Doc]:
    docs = []
    for index, (line, doc) in enumerate(pairs):
        words = [t.text for t in doc if not t.is_space]
        if len(words) != len(doc):
            raise InputError(f"whitespace tokens in a labelled {split} sentence", file, line)
        copy = make_doc(doc.vocab, words, doc_tags(doc))
        set_task(copy, {"meta": {"lang": lang, "split": split, "sentence_id": f"{lang}-{split}-{index:05d}",
                                 "source": "gold", "round": 0, "file": Path(file).name, "line": line}})
        docs.append(copy)
    return docs


def _summary(docs: List[Doc], path: Any) -> Dict[str, Any]:
    types = Counter(e.label_ for d in docs for e in d.ents)
    return {"file": str(path), "sentences": len(docs), "entities": sum(types.values()), "by_label": dict(types)}
