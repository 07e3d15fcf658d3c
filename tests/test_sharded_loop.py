"""A pool in shards (read a shard at a time) runs the loop exactly as the same pool in one DocBin does."""
import shutil

import pytest
import srsly
from spacy.util import registry

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.shards import write_shards
from spacy_llm_loop.errors import InputError, LoopError
from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT

pytestmark = pytest.mark.slow
SETTINGS = {"loop.lang": "tsn", "loop.rounds": 2, "loop.query_size": "24", "seed_set.size": "24",
            "loop.subsample": "60%"}


@pytest.fixture(scope="module")
def sharded_corpus(small_corpus, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("sharded") / "tsn"
    shutil.copytree(small_corpus, corpus)
    write_shards(load_docs(corpus / "train.spacy"), corpus / "train.shards", shard_size=16)
    (corpus / "train.spacy").unlink()
    return corpus


def _run(corpus, runs, strategy=None, **extra):
    return run_loop(ROOT / "configs" / "loop.cfg", {**SETTINGS, "paths.corpus": str(corpus), "paths.runs": str(runs),
                                                    **extra}, FAST_TRAINING, annotator="gold", strategy=strategy)


@pytest.mark.parametrize("strategy", ["entropy", "entropy-diverse"])  # entropy-quality: test_strategies.py
def test_a_sharded_pool_chooses_and_learns_as_a_docbin_pool(small_corpus, sharded_corpus, tmp_path,
                                                            strategy) -> None:
    """A strategy chooses from a sharded pool's saved scores (and memory-mapped vectors) what it chooses from the
    same pool held as scored Docs. (With the gold annotator there is no audit, so the quality-weighted strategy
    would only repeat entropy here; its choice from saved records is tested in test_strategies.py.)"""
    whole = _run(small_corpus, tmp_path / "docbin", strategy=strategy)
    sharded = _run(sharded_corpus, tmp_path / "shards", strategy=strategy)
    name = f"tsn-gold-{strategy}-sub60pct-seed0"
    for k in (1, 2):
        a, b = (srsly.read_json(tmp_path / runs / name / f"round-{k:02d}" / "selection.json")
                for runs in ("docbin", "shards"))
        assert a == b and a["n_candidates"] < a["n_pool"]
        assert (tmp_path / "shards" / name / f"round-{k:02d}" / "vectors.npy").exists()
    assert [r["test"]["ents_f"] for r in whole["rounds"]] == [r["test"]["ents_f"] for r in sharded["rounds"]]
    assert srsly.read_json(tmp_path / "shards" / name / "run.json")["corpus"].startswith("shards:")


@registry.misc("test.DocsOnlyStrategy.v1")
def _docs_only_strategy():
    """A strategy of one's own that reads scored Docs only (no ``select_scores``)."""
    class DocsOnly:  # needs no model, and is still refused: it has no way to choose without the Docs
        name, needs_model = "docs-only", False

        def __call__(self, pool, size, **kwargs):
            raise AssertionError("never called: the loop refuses it before round 1")

    return DocsOnly()


def test_a_strategy_that_needs_the_docs_is_refused_on_a_sharded_pool(sharded_corpus, tmp_path) -> None:
    with pytest.raises(LoopError, match="docs-only.*sharded.*select_scores"):
        run_loop(ROOT / "configs" / "loop.cfg", {**SETTINGS, "loop.rounds": 1, "paths.corpus": str(sharded_corpus),
                                                 "paths.runs": str(tmp_path),
                                                 "strategy.@misc": "test.DocsOnlyStrategy.v1"},
                 FAST_TRAINING, annotator="gold")


def test_a_pool_in_both_forms_is_refused(small_corpus, tmp_path) -> None:
    corpus = tmp_path / "tsn"
    shutil.copytree(small_corpus, corpus)
    write_shards(load_docs(corpus / "train.spacy")[:10], corpus / "train.shards")
    with pytest.raises(InputError, match="both train.spacy and train.shards"):
        load_docs(corpus / "train.spacy")


def test_the_cost_report_counts_words_of_a_sharded_pool_without_its_docs(small_corpus, sharded_corpus) -> None:
    from spacy_llm_loop.cost.run_cost import corpus_words

    assert corpus_words(sharded_corpus) == corpus_words(small_corpus)


def test_the_dry_run_of_a_sharded_pool_estimates_what_the_docbin_one_does(small_corpus, sharded_corpus,
                                                                          tmp_path) -> None:
    estimates = [run_loop(ROOT / "configs" / "loop.cfg", {**SETTINGS, "paths.corpus": str(corpus),
                                                          "paths.runs": str(tmp_path)},
                          FAST_TRAINING, annotator="gold", dry_run=True)["dry_run"]
                 for corpus in (small_corpus, sharded_corpus)]
    assert estimates[0] == estimates[1] and estimates[0]["pool"] > 0


def test_scores_out_of_pool_order_are_refused_naming_the_line(tmp_path) -> None:
    from spacy_llm_loop.loop.runner import _in_pool_order

    scores = tmp_path / "scores.jsonl"
    srsly.write_jsonl(scores, [{"id": "a", "mean_entropy": 0.1}, {"id": "c", "mean_entropy": 0.2}])
    assert [r["id"] for r in _in_pool_order(scores, ["a", "c"])] == ["a", "c"]
    with pytest.raises(LoopError, match=r"scores.jsonl:2: the score of 'c' where the pool has 'b'"):
        list(_in_pool_order(scores, ["a", "b"]))
    with pytest.raises(LoopError, match="2 scores for 3 pool sentences"):
        list(_in_pool_order(scores, ["a", "c", "d"]))


def test_the_parts_of_a_finished_scoring_are_removed(tmp_path) -> None:
    from spacy_llm_loop.loop.selecting import drop_leftover_parts, parts_dir

    scores = tmp_path / "scores.jsonl"
    parts_dir(scores).mkdir()
    drop_leftover_parts(scores)
    assert parts_dir(scores).exists()  # scoring not finished: its parts are what a resumed run keeps
    scores.write_text("")
    drop_leftover_parts(scores)
    assert not parts_dir(scores).exists()
