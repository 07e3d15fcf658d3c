"""Warm start: a training that continues from a saved pipeline's weights, alone and in the loop."""
from pathlib import Path

import pytest
import spacy
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.learner.train import train_pipeline
from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT

pytestmark = pytest.mark.slow
CNN = ROOT / "configs" / "learner-cnn.cfg"
FROZEN = {"training.optimizer.learn_rate": 0.0, "training.max_steps": 20, "training.eval_frequency": 10}


def predictions(model: Path, corpus: Path):
    """Entities and mean entropy of every dev doc."""
    nlp = spacy.load(model)
    docs = nlp.pipe(doc.text for doc in load_docs(corpus / "dev.spacy", nlp.vocab))
    return [([(e.start, e.end, e.label_) for e in doc.ents], round(doc._.uncertainty["mean_entropy"], 6))
            for doc in docs]


def test_warm_start_keeps_the_previous_weights(trained_model, small_corpus, tmp_path):
    """With a learning rate of 0 a warm start must reproduce its source exactly, and a cold start must not."""
    kwargs = dict(train_path=small_corpus / "train.spacy", dev_path=small_corpus / "dev.spacy", seed=0)
    train_pipeline(CNN, tmp_path / "warm", overrides=FROZEN, init_from=trained_model, log_path=tmp_path / "warm.log",
                   **kwargs)
    train_pipeline(CNN, tmp_path / "cold", overrides=FROZEN, **kwargs)
    source = predictions(trained_model, small_corpus)
    assert predictions(tmp_path / "warm", small_corpus) == source
    assert predictions(tmp_path / "cold", small_corpus) != source
    assert (tmp_path / "warm.log").read_text().startswith(f"Continuing from the weights of {trained_model}")


def test_warm_start_from_nothing_is_refused(small_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved pipeline"):
        train_pipeline(CNN, tmp_path / "model", train_path=small_corpus / "train.spacy",
                       dev_path=small_corpus / "dev.spacy", init_from=tmp_path / "missing")


def test_loop_warm_start_continues_each_round(small_corpus, tmp_path):
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path), "loop.rounds": 1,
                "loop.query_size": "24", "seed_set.size": "24", "loop.warm_start": True}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="gold")
    run = tmp_path / "tsn-gold-entropy-warm-seed0"
    assert [r["n_labelled"] for r in result["rounds"]] == [24, 48]
    assert result["warm_start"] is True and result["learner"] == "cnn"
    assert "warm_start = true" in srsly.read_json(run / "run.json")["loop_config"]
    assert not (run / "round-00" / "train.log").read_text().startswith("Continuing")
    first = (run / "round-01" / "train.log").read_text().splitlines()[0]
    assert first == f"Continuing from the weights of {run / 'round-00' / 'model'}"


def test_a_training_into_an_existing_model_folder_replaces_it(trained_model, small_corpus, tmp_path):
    """``train-full`` or ``pretrain --ner-from`` run again into the same output: the new model replaces the old one
    (spaCy's own rename cannot replace a folder that is not empty), and no work folder is left."""
    kwargs = dict(train_path=small_corpus / "train.spacy", dev_path=small_corpus / "dev.spacy", seed=0)
    train_pipeline(CNN, tmp_path / "model", overrides=FROZEN, **kwargs)
    first = predictions(tmp_path / "model", small_corpus)
    train_pipeline(CNN, tmp_path / "model", overrides=FROZEN, init_from=trained_model, **kwargs)
    assert predictions(tmp_path / "model", small_corpus) == predictions(trained_model, small_corpus) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
