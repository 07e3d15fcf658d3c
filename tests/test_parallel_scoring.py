"""Scoring the pool in several processes gives the scores and vectors of one process, to the last bit."""
import numpy as np

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.loop.selecting import PARALLEL_FROM, score_pool, scoring_processes, vectors_path
from spacy_llm_loop.uncertainty.component import install_extensions


def test_two_processes_score_exactly_as_one(trained_model, small_corpus, tmp_path) -> None:
    install_extensions()
    pool = load_docs(small_corpus / "train.spacy")
    for n in (1, 2):
        score_pool(trained_model, pool, tmp_path / f"scores-{n}.jsonl", batch_size=32, n_process=n)
    one, two = (tmp_path / f"scores-{n}.jsonl" for n in (1, 2))
    assert one.read_text() == two.read_text() and len(one.read_text().splitlines()) == len(pool)
    assert np.array_equal(np.load(vectors_path(one)), np.load(vectors_path(two)))


def test_auto_uses_every_core_only_for_a_large_pool() -> None:
    assert scoring_processes(3, 10) == 3
    assert scoring_processes(0, PARALLEL_FROM - 1) == 1
    assert scoring_processes(0, PARALLEL_FROM) >= 1
