"""A round's selection step: score the pool with the previous round's model, let the strategy choose.

Scores are saved (``scores.jsonl``) before the strategy runs, and the choice with the
score behind each pick (``selection.json``), so a resumed round never scores or selects
twice and every choice can be explained afterwards.
"""
import multiprocessing
import os
import random
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import spacy
from spacy.tokens import Doc

from ..data.docs import make_doc, sentence_id, set_task
from ..data.shards import PoolView
from ..errors import LoopError
from ..fileio import atomic_path, read_jsonl, write_jsonl
from ..strategies.base import QuerySize, Selection
from ..strategies.diverse import VECTOR_KEY, sentence_vector
from ..uncertainty.measures import DOC_MEASURES
from ..uncertainty.scorer import OPTIONAL_MEASURES
from .inflight import AHEAD_PER_WORKER, R, T, in_order
from .state import read_scores

PARALLEL_FROM = 5000  # pool sentences from which scoring uses every core by default
SHARD_BATCHES = 40  # batches per saved shard of a round's scoring (10,240 sentences at the default batch size)


def subsample_indices(n_pool: int, size: Optional[QuerySize], seed: int) -> Optional[List[int]]:
    """The pool's candidates for a round, as positions in pool order: all of it (None), or a seeded random share or
    count of it. A large pool is then scored in part each round (a standard practice): the strategy picks the most
    uncertain of the candidates, not of the whole pool."""
    if size is None:
        return None
    n = size.n_items(n_pool) or n_pool
    if n >= n_pool:
        return None
    return sorted(random.Random(seed).sample(range(n_pool), n))


def vectors_path(scores: Path) -> Path:
    """``scores.jsonl`` -> ``vectors.npy``: the pool's sentence vectors, rows in the order of the scores."""
    return scores.with_name("vectors.npy")


def saved_vectors(scores: Path) -> Optional[np.ndarray]:
    """The sentence vectors saved beside ``scores.jsonl``, memory-mapped (a strategy that reads a shortlist's rows
    of a million-sentence pool loads those rows only), or None when the round saved none."""
    path = vectors_path(scores)
    return np.load(path, mmap_mode="r") if path.exists() else None


def scoring_processes(setting: int, n_docs: int) -> int:
    """Processes to score ``n_docs`` with: ``setting`` when above 0; else (auto) the cores this process may use,
    once the pool is large enough (:data:`PARALLEL_FROM` sentences) to repay starting them."""
    if setting > 0:
        return setting
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores) if n_docs >= PARALLEL_FROM else 1


def score_pool(model: Path, pool: Sequence[Doc], path: Path, batch_size: int = 256, progress: bool = False,
               n_process: int = 1, shard_batches: int = SHARD_BATCHES, cluster: Optional[str] = None) -> None:
    """Run the pipeline at ``model`` over the pool (docs made in its own vocab) and save each doc's scores, and
    its sentence vector (the mean of its ``doc.tensor``, for the diverse strategies) in ``vectors.npy``
    (``progress``: a bar on stderr). ``n_process > 1`` scores the batches in a pool of worker processes, each
    loading the pipeline once and sending back only the scores and vectors (not the Docs, whose serialisation
    costs more than the scoring); the batches are the same, so the scores are the same as in one process.
    ``cluster``: a Dask scheduler's address; its workers score the batches instead (:mod:`.cluster`). Either way
    the workers are fed a few batches ahead, across shards (:mod:`.inflight`), so none waits at a shard's end
    and the memory holds a shard, not the pool.

    The pool is scored in shards of ``shard_batches`` batches, each saved as it is finished (``<scores>.parts/``),
    so a run killed while scoring re-scores only the shards it had not finished; the parts are joined into
    ``scores.jsonl`` and ``vectors.npy`` at the end and removed. A shard boundary is a batch boundary, so the
    batches, and the scores, are those of one pass.
    """
    from tqdm import tqdm

    size = batch_size * shard_batches
    bounds = [(a, min(a + size, len(pool))) for a in range(0, len(pool), size)]
    parts = parts_dir(path)
    todo = [s for s, (a, b) in enumerate(bounds) if not _part_matches(parts, s, _ids(pool, a, b))]
    bar = tqdm(total=len(pool), desc="scoring the pool", unit="sent", disable=not progress, leave=False)
    bar.update(sum(b - a for s, (a, b) in enumerate(bounds) if s not in todo))
    n_workers = min(n_process, -(-len(pool) // batch_size)) if todo else 0  # no more than the batches
    workers: Any = None
    if todo and cluster:
        from .cluster import DaskScorer

        workers = DaskScorer(cluster, model, _load_worker)
    elif n_workers > 1:
        workers = _LocalWorkers(n_workers, str(model))
    failed = False
    try:
        if todo and workers is None:
            _load_worker(str(model))
        # per batch, in order: the shard it completes, if it completes one (results come back in this order)
        ends = [s if i + batch_size >= b - a else None for s in todo for a, b in [bounds[s]]
                for i in range(0, b - a, batch_size)]
        batches = _batches(pool, todo, bounds, batch_size)
        records: List[Dict[str, Any]] = []
        vectors: List[np.ndarray] = []
        results = workers.imap(_score_chunk, batches) if workers is not None else map(_score_chunk, batches)
        for ended, (chunk_records, chunk_vectors) in zip(ends, results):
            records += chunk_records
            vectors += chunk_vectors
            bar.update(len(chunk_records))
            if ended is not None:
                _write_part(parts, ended, records, vectors)
                records, vectors = [], []
    except BaseException:
        failed = True  # a worker's error or an interrupt: the workers are stopped, not waited for
        raise
    finally:
        if workers is not None:
            workers.terminate() if failed else workers.close()
            workers.join()
        bar.close()
    _join_parts(parts, len(bounds), path)


class _LocalWorkers:
    """A pool of scoring processes, each loading the pipeline once, fed a few batches ahead (:mod:`.inflight`)."""

    def __init__(self, n: int, model: str) -> None:
        self.pool = multiprocessing.Pool(n, initializer=_load_worker, initargs=(model,))
        self.window = AHEAD_PER_WORKER * n

    def imap(self, fn: Callable[[T], R], chunks: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``chunks`` in the workers, results in order."""
        return in_order(lambda chunk: self.pool.apply_async(fn, (chunk,)).get, chunks, self.window)

    def close(self) -> None:
        self.pool.close()

    def terminate(self) -> None:
        self.pool.terminate()

    def join(self) -> None:
        self.pool.join()


def _batches(pool: Sequence[Doc], shards: Sequence[int], bounds: Sequence[Tuple[int, int]],
             batch_size: int) -> Iterator[List[Tuple[str, List[str]]]]:
    """The scoring batches of ``shards`` (``bounds`` gives each shard's positions), read a shard at a time as the
    workers take them."""
    for shard in shards:
        items = _items(pool, *bounds[shard])
        for i in range(0, len(items), batch_size):
            yield items[i:i + batch_size]


def _ids(pool: Sequence[Doc], start: int, stop: int) -> List[str]:
    """The ids of ``pool[start:stop]`` (a :class:`PoolView`'s without building Docs)."""
    if isinstance(pool, PoolView):
        return [pool.id(i) for i in range(start, stop)]
    return [sentence_id(doc) for doc in pool[start:stop]]


def _items(pool: Sequence[Doc], start: int, stop: int) -> List[Tuple[str, List[str]]]:
    """``(id, words)`` of ``pool[start:stop]``: what a scoring worker builds its Docs from."""
    if isinstance(pool, PoolView):
        return pool.words(start, stop)
    return [(sentence_id(doc), [t.text for t in doc]) for doc in pool[start:stop]]


def _join_parts(parts: Path, n_parts: int, path: Path) -> None:
    """The parts joined into ``vectors.npy`` and ``scores.jsonl`` a part at a time (a pool too large to hold is
    joined in the memory of one part), then removed."""
    shapes = [np.load(parts / f"shard-{s:05d}.npy", mmap_mode="r").shape for s in range(n_parts)]
    width = max((shape[1] for shape in shapes), default=0)
    with atomic_path(vectors_path(path)) as tmp:  # rows written a part at a time into a memory-mapped .npy
        matrix = np.lib.format.open_memmap(tmp, mode="w+", dtype="float32",
                                           shape=(sum(shape[0] for shape in shapes), width))
        row = 0
        for s, shape in enumerate(shapes):
            if shape[1] == width:  # a part of empty sentences only has no width: its rows stay zero
                matrix[row:row + shape[0]] = np.load(parts / f"shard-{s:05d}.npy")
            row += shape[0]
        matrix.flush()
        del matrix
    with atomic_path(path) as tmp:  # last: its presence says the round's scoring is complete
        with tmp.open("wb") as out:
            for s in range(n_parts):
                with (parts / f"shard-{s:05d}.jsonl").open("rb") as part:
                    shutil.copyfileobj(part, out)
    shutil.rmtree(parts, ignore_errors=True)


def parts_dir(scores: Path) -> Path:
    """``scores.jsonl`` -> ``scores.parts/``: the shards of an unfinished scoring, one pair of files per shard."""
    return scores.with_name(scores.stem + ".parts")


def drop_leftover_parts(scores: Path) -> None:
    """Remove the parts of a finished scoring (a run killed after joining them, before removing them)."""
    if scores.exists():
        shutil.rmtree(parts_dir(scores), ignore_errors=True)


def _part_matches(parts: Path, s: int, ids: Sequence[str]) -> bool:
    """Whether shard ``s`` was scored before, for exactly these sentences (a pool that changed is re-scored)."""
    jsonl, npy = parts / f"shard-{s:05d}.jsonl", parts / f"shard-{s:05d}.npy"
    if not (jsonl.exists() and npy.exists()):
        return False
    return [record["id"] for record in read_jsonl(jsonl)] == list(ids)


def _write_part(parts: Path, s: int, records: List[Dict[str, Any]], vectors: List[np.ndarray]) -> None:
    """Save one scored shard: its vectors first, then its records (whose presence says the shard is done)."""
    width = max((len(v) for v in vectors), default=0)
    matrix = np.stack([v if len(v) == width else np.zeros(width, dtype="float32") for v in vectors]) if vectors \
        else np.zeros((0, 0), dtype="float32")
    with atomic_path(parts / f"shard-{s:05d}.npy") as tmp:
        with tmp.open("wb") as f:
            np.save(f, matrix.astype("float32"))
    write_jsonl(parts / f"shard-{s:05d}.jsonl", records)


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


def selection_record(k: int, ids: Sequence[str], lengths: Sequence[int], selection: Selection, taken: Set[str],
                     query_size: str) -> Dict[str, Any]:
    """``selection.json``: the pool's score summary and each chosen id with its rank and score (``ids`` and
    ``lengths``: the pool's, in the order the strategy saw it).

    Raises if the strategy chose a sentence already labelled or chose one twice.
    """
    chosen = [ids[i] for i in selection.indices]
    if taken & set(chosen) or len(set(chosen)) != len(chosen):
        raise LoopError(f"strategy '{selection.strategy}' chose a labelled or repeated sentence")
    values = np.asarray(selection.pool_scores, dtype="float64")
    return {"round": k, "strategy": selection.strategy, "query_size": query_size,
            "n_pool": len(ids), "pool_scores": {"min": float(values.min()), "mean": float(values.mean()),
                                                "median": float(np.median(values)), "max": float(values.max())},
            "selected": [{"id": sid, "rank": r, "score": s, "n_tokens": lengths[i]}
                         for r, (sid, i, s) in enumerate(zip(chosen, selection.indices, selection.scores))]}


def _score_record(doc: Doc) -> Dict[str, Any]:
    scores = doc._.uncertainty
    return {"id": sentence_id(doc), "n_tokens": len(doc), **{name: scores[name] for name in DOC_MEASURES},
            **{name: scores[name] for name in OPTIONAL_MEASURES if name in scores},
            "ent_confidence": scores.get("ent_confidence") or {}}  # the learner's entities (entropy-quality)
