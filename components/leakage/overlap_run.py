"""The sentence sets of a loop run folder and of a converted corpus, and their overlap reports.

A run folder holds ``seed.jsonl`` (the gold seed, Prodigy JSONL, each line's ``meta`` naming its
``sentence_id`` and ``split``) and ``round-XX/annotations.jsonl`` (one ``{"id", "tags", ...}`` per
annotated pool sentence; ``tags`` is null for a dropped answer). The few-shot examples the LLM saw
are what :func:`~spacy_llm_loop.llm.tasks.token_ner.examples.read_examples` picks from the seed.
The corpus folder (``corpus/<lang>/``) has ``train.spacy``, ``dev.spacy`` and ``test.spacy``.
"""
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc

from ..data.corpus import SPLITS, load_docs
from ..data.docs import get_meta
from ..errors import InputError
from ..llm.tasks.token_ner.examples import read_examples
from .overlap import OverlapSettings, Sentence, check_leakage, overlap_report

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]
RUN_SETS = ("examples", "seed", "pool", "dev", "test")


@dataclass
class RunSets:
    """The named sentence sets of one run (``examples``, ``seed``, ``pool``, ``dev``, ``test``) and notes on them."""

    sets: Dict[str, List[Sentence]]
    notes: List[str] = field(default_factory=list)


def doc_sentences(docs: Sequence[Doc], path: PathLike) -> List[Sentence]:
    """One :class:`Sentence` per doc (id and split from its meta); an error names the file and the doc's position."""
    sentences = []
    for number, doc in enumerate(docs, start=1):
        meta = get_meta(doc)
        if "sentence_id" not in meta:
            raise InputError(f"sentence {number} ({doc.text[:40]!r}) has no meta.sentence_id", path)
        sentences.append(Sentence(meta["sentence_id"], doc.text, meta.get("split")))
    return sentences


def corpus_sets(corpus_dir: PathLike, splits: Sequence[str] = SPLITS) -> Dict[str, List[Sentence]]:
    """``{split: sentences}`` from ``<corpus_dir>/<split>.spacy``."""
    return {split: doc_sentences(load_docs(Path(corpus_dir) / f"{split}.spacy"), Path(corpus_dir) / f"{split}.spacy")
            for split in splits}


def corpus_overlap(corpus_dir: PathLike, settings: OverlapSettings = OverlapSettings()) -> Dict[str, Any]:
    """Duplicates MasakhaNER itself has: between train/dev, train/test, dev/test, and within each split.

    This describes the corpus and is reported, not an error. Adds ``"corpus"`` and ``"seconds"`` (load
    and comparison) to the :func:`~.overlap.overlap_report` dict.
    """
    start = time.perf_counter()
    sets = corpus_sets(corpus_dir)
    report = overlap_report(sets, settings, pairs=list(itertools.combinations(SPLITS, 2)), within=True)
    return {"corpus": str(corpus_dir), **report, "seconds": round(time.perf_counter() - start, 2)}


def run_sets(run_dir: PathLike, corpus_dir: PathLike, n_examples: int = 2, examples_path: Optional[PathLike] = None,
             include_dropped: bool = False) -> RunSets:
    """The sentence sets of run ``run_dir``: the few-shot examples, the gold seed, the annotated pool (answers
    with tags; with ``include_dropped`` also the dropped ones, whose text the LLM saw too) and the corpus's
    dev and test splits.

    Examples are read from ``examples_path`` (default: the run's seed) as the LLM annotator reads them and
    matched by tokens to that file's sentences for their ids; if the reader refuses the file (a test
    sentence in it) no prompt can have used it, the examples set is empty and a note says why.
    """
    run_dir = Path(run_dir)
    seed_path = run_dir / "seed.jsonl"
    seed = doc_sentences(load_docs(seed_path), seed_path)
    corpus = corpus_sets(corpus_dir)
    notes: List[str] = []
    examples = _examples(Path(examples_path or seed_path), n_examples, notes)
    by_id = {s.id: s for split in corpus.values() for s in split}
    pool: Dict[str, Sentence] = {}
    for path in sorted(run_dir.glob("round-*/annotations.jsonl")):
        for number, record in _annotation_records(path, notes):
            if record["tags"] is None and not include_dropped:
                continue
            if record["id"] not in by_id:
                raise InputError(f"annotation of sentence '{record['id']}', which is not in {corpus_dir}", path, number)
            pool[record["id"]] = by_id[record["id"]]
    return RunSets({"examples": examples, "seed": seed, "pool": list(pool.values()), "dev": corpus["dev"],
                    "test": corpus["test"]}, notes)


def check_run(run_dir: PathLike, corpus_dir: PathLike, n_examples: int = 2, examples_path: Optional[PathLike] = None,
              settings: OverlapSettings = OverlapSettings(), include_dropped: bool = False) -> Dict[str, Any]:
    """:func:`~.overlap.check_leakage` of :func:`run_sets` (every pair of the five sets; ``examples|seed``
    shows the examples themselves, which are seed sentences), with ``"run"``, ``"corpus"`` and ``"notes"``."""
    gathered = run_sets(run_dir, corpus_dir, n_examples, examples_path, include_dropped)
    result = check_leakage(gathered.sets, settings=settings)
    return {"run": str(run_dir), "corpus": str(corpus_dir), "notes": gathered.notes, **result}


def _examples(path: Path, n: int, notes: List[str]) -> List[Sentence]:
    try:
        chosen = read_examples(path, n)
    except InputError as err:
        notes.append(f"no few-shot examples: the examples reader refuses the file ({err})")
        return []
    by_tokens = {tuple(t.text for t in doc): doc for doc in load_docs(path)}
    sentences = []
    for index, example in enumerate(chosen):
        doc = by_tokens.get(tuple(example["tokens"]))
        meta = get_meta(doc) if doc is not None else {}
        sentences.append(Sentence(meta.get("sentence_id", f"example-{index}"), " ".join(example["tokens"]),
                                  meta.get("split")))
    return sentences


def _annotation_records(path: Path, notes: List[str]) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """``(line, record)`` of an annotations log; a last line cut short by a killed run is skipped with a note."""
    lines = path.read_text(encoding="utf-8").split("\n")
    last = max((i for i, line in enumerate(lines, start=1) if line.strip()), default=0)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == last:
                notes.append(f"{path}:{number}: skipped a last line cut short (an interrupted round)")
                logger.warning("%s:%d: skipping a last line cut short", path, number)
                continue
            raise InputError("not valid JSON", path, number) from None
        if not isinstance(record, dict) or "id" not in record or "tags" not in record:
            raise InputError("an annotation record needs 'id' and 'tags'", path, number)
        yield number, record
