"""Scoring the pool in several processes, or in shards resumed after a kill, gives the scores and vectors of one
uninterrupted process, to the last bit."""
import numpy as np
import pytest
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import sentence_id
from spacy_llm_loop.loop import selecting
from spacy_llm_loop.loop.inflight import in_order
from spacy_llm_loop.loop.selecting import PARALLEL_FROM, parts_dir, score_pool, scoring_processes, vectors_path
from spacy_llm_loop.uncertainty.component import install_extensions


@pytest.mark.parametrize("shard_batches", [selecting.SHARD_BATCHES, 2])  # one shard; several, fed across shards
def test_two_processes_score_exactly_as_one(trained_model, small_corpus, tmp_path, shard_batches) -> None:
    install_extensions()
    pool = load_docs(small_corpus / "train.spacy")
    for n in (1, 2):
        score_pool(trained_model, pool, tmp_path / f"scores-{n}.jsonl", batch_size=32, n_process=n,
                   shard_batches=shard_batches)
    one, two = (tmp_path / f"scores-{n}.jsonl" for n in (1, 2))
    assert one.read_text() == two.read_text() and len(one.read_text().splitlines()) == len(pool)
    assert np.array_equal(np.load(vectors_path(one)), np.load(vectors_path(two)))


def test_results_come_in_order_with_a_bounded_number_in_flight() -> None:
    """The workers are fed a few batches ahead, never the whole pool (:mod:`spacy_llm_loop.loop.inflight`)."""
    read, started, waited = [], [], []

    def items():
        for i in range(10):
            read.append(i)
            yield i

    def submit(item):
        started.append(item)
        assert len(started) - len(waited) <= 3  # in flight: started, not yet waited for
        return lambda: waited.append(item) or item * item

    results = in_order(submit, items(), window=3)
    assert next(results) == 0 and read == [0, 1, 2]  # the first result waits only for the window to fill
    assert list(results) == [i * i for i in range(1, 10)] and waited == list(range(10))


def test_auto_uses_every_core_only_for_a_large_pool() -> None:
    assert scoring_processes(3, 10) == 3
    assert scoring_processes(0, PARALLEL_FROM - 1) == 1
    assert scoring_processes(0, PARALLEL_FROM) >= 1


def test_an_interrupted_scoring_rescores_only_unfinished_shards(trained_model, small_corpus, tmp_path,
                                                                monkeypatch) -> None:
    """kill -9 while scoring: the shards saved before it are kept, and the result equals one uninterrupted pass."""
    install_extensions()
    pool = load_docs(small_corpus / "train.spacy")[:200]
    whole = tmp_path / "whole" / "scores.jsonl"
    score_pool(trained_model, pool, whole, batch_size=16, shard_batches=2)  # 7 shards of 32 sentences

    calls = []
    dying = [True]
    real = selecting._score_chunk

    def dies_on_the_fifth_batch(chunk):
        calls.append(len(chunk))
        if dying[0] and len(calls) == 5:
            raise RuntimeError("killed")  # the process dies in shard 3 (batches 5-6)
        return real(chunk)

    path = tmp_path / "resumed" / "scores.jsonl"
    monkeypatch.setattr(selecting, "_score_chunk", dies_on_the_fifth_batch)
    with pytest.raises(RuntimeError, match="killed"):
        score_pool(trained_model, pool, path, batch_size=16, shard_batches=2)
    assert not path.exists() and sorted(p.name for p in parts_dir(path).iterdir()) == [
        "shard-00000.jsonl", "shard-00000.npy", "shard-00001.jsonl", "shard-00001.npy"]
    calls.clear()
    dying[0] = False
    score_pool(trained_model, pool, path, batch_size=16, shard_batches=2)
    assert sum(calls) == len(pool) - 2 * 32  # only the five unfinished shards
    assert path.read_text() == whole.read_text() and not parts_dir(path).exists()
    assert np.array_equal(np.load(vectors_path(path)), np.load(vectors_path(whole)))


def test_a_saved_shard_of_other_sentences_is_scored_again(trained_model, small_corpus, tmp_path) -> None:
    install_extensions()
    pool = load_docs(small_corpus / "train.spacy")[:64]
    path = tmp_path / "scores.jsonl"
    score_pool(trained_model, pool[32:], path, batch_size=16, shard_batches=2)
    parts_dir(path).mkdir()
    for suffix in ("jsonl", "npy"):  # a stale shard 0 (of other sentences) left by an earlier pool
        (path.with_name("vectors.npy") if suffix == "npy" else path).rename(parts_dir(path) / f"shard-00000.{suffix}")
    score_pool(trained_model, pool, path, batch_size=16, shard_batches=2)
    assert [r["id"] for r in srsly.read_jsonl(path)] == [sentence_id(d) for d in pool]
