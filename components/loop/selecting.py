"""A round's selection step: score the pool with the previous round's model, let the strategy choose.

Scores are saved (``scores.jsonl``) before the strategy runs, and the choice with the
score behind each pick (``selection.json``), so a resumed round never scores or selects
twice and every choice can be explained afterwards.
"""
import multiprocessing
import os
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import spacy
from spacy.tokens import Doc

from ..data.docs import make_doc, sentence_id, set_task
from ..errors import LoopError
from ..fileio import atomic_path, write_jsonl
from ..strategies.base import QuerySize, Selection
from ..strategies.diverse import VECTOR_KEY, sentence_vector
from ..uncertainty.measures import DOC_MEASURES
from ..uncertainty.scorer import OPTIONAL_MEASURES
from .state import read_scores

PARALLEL_FROM = 5000  # pool sentences from which scoring uses every core by default


def subsample(pool: Sequence[Doc], size: Optional[QuerySize], seed: int) -> List[Doc]:
    """The pool's candidates for a round: all of it (``size`` None), or a seeded random share or count of it, in
    pool order. A large pool is then scored in part each round (a standard practice): the strategy picks the most
    uncertain of the candidates, not of the whole pool."""
    if size is None:
        return list(pool)
    n = size.n_items(len(pool)) or len(pool)
    if n >= len(pool):
        return list(pool)
    chosen = sorted(random.Random(seed).sample(range(len(pool)), n))
    return [pool[i] for i in chosen]


def vectors_path(scores: Path) -> Path:
    """``scores.jsonl`` -> ``vectors.npy``: the pool's sentence vectors, rows in the order of the scores."""
    return scores.with_name("vectors.npy")


def scoring_processes(setting: int, n_docs: int) -> int:
    """Processes to score ``n_docs`` with: ``setting`` when above 0; else (auto) the cores this process may use,
    once the pool is large enough (:data:`PARALLEL_FROM` sentences) to repay starting them."""
    if setting > 0:
        return setting
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores) if n_docs >= PARALLEL_FROM else 1


def score_pool(model: Path, pool: Sequence[Doc], path: Path, batch_size: int = 256, progress: bool = False,
               n_process: int = 1) -> None:
    """Run the pipeline at ``model`` over the pool (docs made in its own vocab) and save each doc's scores, and
    its sentence vector (the mean of its ``doc.tensor``, for the diverse strategies) in ``vectors.npy``
    (``progress``: a bar on stderr). ``n_process > 1`` scores the batches in a pool of worker processes, each
    loading the pipeline once and sending back only the scores and vectors (not the Docs, whose serialisation
    costs more than the scoring); the batches are the same, so the scores are the same as in one process."""
    from tqdm import tqdm

    items = [(sentence_id(doc), [t.text for t in doc]) for doc in pool]
    chunks = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    bar = tqdm(total=len(items), desc="scoring the pool", unit="sent", disable=not progress, leave=False)
    records: List[Dict[str, Any]] = []
    vectors: List[np.ndarray] = []
    if n_process > 1 and len(chunks) > 1:
        n_workers = min(n_process, len(chunks))
        with multiprocessing.Pool(n_workers, initializer=_load_worker, initargs=(str(model),)) as workers:
            for chunk_records, chunk_vectors in workers.imap(_score_chunk, chunks):
                records += chunk_records
                vectors += chunk_vectors
                bar.update(len(chunk_records))
    else:
        _load_worker(str(model))
        for chunk in chunks:
            chunk_records, chunk_vectors = _score_chunk(chunk)
            records += chunk_records
            vectors += chunk_vectors
            bar.update(len(chunk_records))
    bar.close()
    width = max((len(v) for v in vectors), default=0)
    matrix = np.stack([v if len(v) == width else np.zeros(width, dtype="float32") for v in vectors]) if vectors \
        else np.zeros((0, 0), dtype="float32")
    with atomic_path(vectors_path(path)) as tmp:
        with tmp.open("wb") as f:
            np.save(f, matrix.astype("float32"))
    write_jsonl(path, records)  # last: its presence says the round's scoring is complete


_WORKER: Dict[str, Any] = {}  # the pipeline a scoring process loaded (one per process)


def _load_worker(model: str) -> None:
    """Load the pipeline once per process (and the ``uncertainty`` extensions it sets)."""
    if _WORKER.get("path") != model:
        from ..uncertainty.component import install_extensions

        install_extensions()
        _WORKER.update(path=model, nlp=spacy.load(model))


def _score_chunk(chunk: Sequence[Tuple[str, List[str]]]) -> Tuple[List[Dict[str, Any]], List[np.ndarray]]:
    """One batch ``(id, words)``: its score records and sentence vectors, in order."""
    nlp = _WORKER["nlp"]
    docs = []
    for sid, words in chunk:
        doc = make_doc(nlp.vocab, words)
        set_task(doc, {"meta": {"sentence_id": sid}})
        docs.append(doc)
    records, vectors = [], []
    for doc in nlp.pipe(docs, batch_size=max(1, len(docs))):
        records.append(_score_record(doc))
        vectors.append(sentence_vector(doc))
    return records, vectors


def attach_scores(pool: Sequence[Doc], path: Path) -> None:
    """Put the scores saved at ``path`` into each pool doc's ``doc._.uncertainty``, and its sentence vector (when
    saved) into ``doc.user_data``."""
    saved = read_scores(path)
    vectors = np.load(vectors_path(path)) if vectors_path(path).exists() else None
    rows = {sid: i for i, sid in enumerate(saved)} if vectors is not None else {}
    for doc in pool:
        doc._.uncertainty = saved[sentence_id(doc)]
        if vectors is not None and vectors.shape[1]:
            doc.user_data[VECTOR_KEY] = vectors[rows[sentence_id(doc)]]


def selection_record(k: int, pool: Sequence[Doc], selection: Selection, taken: Set[str],
                     query_size: str) -> Dict[str, Any]:
    """``selection.json``: the pool's score summary and each chosen id with its rank and score.

    Raises if the strategy chose a sentence already labelled or chose one twice.
    """
    chosen = [sentence_id(pool[i]) for i in selection.indices]
    if taken & set(chosen) or len(set(chosen)) != len(chosen):
        raise LoopError(f"strategy '{selection.strategy}' chose a labelled or repeated sentence")
    values = np.asarray(selection.pool_scores, dtype="float64")
    return {"round": k, "strategy": selection.strategy, "query_size": query_size,
            "n_pool": len(pool), "pool_scores": {"min": float(values.min()), "mean": float(values.mean()),
                                                 "median": float(np.median(values)), "max": float(values.max())},
            "selected": [{"id": sid, "rank": r, "score": s, "n_tokens": len(pool[i])}
                         for r, (sid, i, s) in enumerate(zip(chosen, selection.indices, selection.scores))]}


def _score_record(doc: Doc) -> Dict[str, Any]:
    scores = doc._.uncertainty
    return {"id": sentence_id(doc), "n_tokens": len(doc), **{name: scores[name] for name in DOC_MEASURES},
            **{name: scores[name] for name in OPTIONAL_MEASURES if name in scores},
            "ent_confidence": scores.get("ent_confidence") or {}}  # the learner's entities (entropy-quality)
