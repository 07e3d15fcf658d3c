"""Scoring on a Dask cluster (two local workers on 127.0.0.1) gives the scores and vectors of one local process."""
import numpy as np
import pytest

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.errors import LoopError
from spacy_llm_loop.loop.selecting import score_pool, vectors_path
from spacy_llm_loop.loop.settings import cluster_address
from spacy_llm_loop.uncertainty.component import install_extensions

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local:
        yield local.scheduler_address


def test_a_dask_cluster_scores_exactly_as_one_process(trained_model, small_corpus, tmp_path, cluster) -> None:
    install_extensions()
    pool = load_docs(small_corpus / "train.spacy")
    local, remote = tmp_path / "local" / "scores.jsonl", tmp_path / "dask" / "scores.jsonl"
    score_pool(trained_model, pool, local, batch_size=32)
    score_pool(trained_model, pool, remote, batch_size=32, shard_batches=2, cluster=cluster)  # fed across shards
    assert remote.read_text() == local.read_text() and len(local.read_text().splitlines()) == len(pool)
    assert np.array_equal(np.load(vectors_path(remote)), np.load(vectors_path(local)))


def test_the_cluster_setting_is_an_address() -> None:
    assert cluster_address(None) is None and cluster_address("local") is None
    assert cluster_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    with pytest.raises(ValueError, match="scheduler address"):
        cluster_address("10.0.0.5")


def test_an_unreachable_scheduler_is_a_clear_error(trained_model, small_corpus, tmp_path, monkeypatch) -> None:
    from spacy_llm_loop.loop import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", "2s")
    pool = load_docs(small_corpus / "train.spacy")[:10]
    with pytest.raises(LoopError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        score_pool(trained_model, pool, tmp_path / "scores.jsonl", cluster="tcp://127.0.0.1:9")
