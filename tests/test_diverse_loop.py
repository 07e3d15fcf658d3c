"""The diverse strategy inside the loop: the pool's sentence vectors are saved when it is scored, and used."""
import numpy as np
import pytest
import srsly

from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT

pytestmark = pytest.mark.slow


def test_the_loop_saves_sentence_vectors_and_selects_a_diverse_batch(small_corpus, tmp_path) -> None:
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48"}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="gold",
                      strategy="entropy-diverse")
    rd = tmp_path / "runs" / result["run"] / "round-01"
    scores = list(srsly.read_jsonl(rd / "scores.jsonl"))
    vectors = np.load(rd / "vectors.npy")
    assert vectors.shape == (len(scores), 96) and np.isfinite(vectors).all() and np.abs(vectors).sum() > 0
    selection = srsly.read_json(rd / "selection.json")
    assert selection["strategy"] == "entropy-diverse" and len(selection["selected"]) == 24
    assert result["rounds"][-1]["n_labelled"] == 48 + 24
