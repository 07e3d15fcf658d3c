"""The uncertainty measures (pure) and the spaCy component on a trained learner."""
import json
import math
import subprocess

import numpy as np
import pytest
import spacy
from spacy.training import Example

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.data.iob import iob_tagset
from spacy_llm_loop.uncertainty.measures import doc_scores, parses_to_marginals, span_confidences, token_entropy
from spacy_llm_loop.uncertainty.scorer import auroc, score_uncertainty

TAGS = iob_tagset()


def test_marginals_from_parses():
    parses = [(0.75, [(0, 2, "PER")]), (0.25, [(1, 2, "LOC")])]
    m = parses_to_marginals(3, parses, TAGS)
    assert np.allclose(m.sum(axis=1), 1)
    assert m[0, TAGS.index("B-PER")] == pytest.approx(0.75) and m[0, TAGS.index("O")] == pytest.approx(0.25)
    assert m[1, TAGS.index("I-PER")] == pytest.approx(0.75) and m[1, TAGS.index("B-LOC")] == pytest.approx(0.25)
    assert m[2, TAGS.index("O")] == pytest.approx(1.0)


def test_entropy_bounds():
    certain = np.eye(len(TAGS))[[0, 1]]
    uniform = np.full((2, len(TAGS)), 1 / len(TAGS))
    assert np.allclose(token_entropy(certain), 0)
    assert np.allclose(token_entropy(uniform), math.log(len(TAGS)))


def test_doc_scores():
    scores = doc_scores(np.array([0.0, 0.5, 1.0]), best_prob=0.5)
    assert scores["mean_entropy"] == pytest.approx(0.5) and scores["max_entropy"] == 1.0
    assert scores["least_confidence"] == pytest.approx(0.5)
    assert scores["mnlp"] == pytest.approx(math.log(0.5) / 3)
    assert doc_scores(np.zeros(0), 1.0) == {"mean_entropy": 0.0, "max_entropy": 0.0, "least_confidence": 0.0,
                                            "mnlp": 0.0}


def test_span_confidences():
    parses = [(0.6, [(0, 1, "PER")]), (0.3, [(0, 1, "PER"), (2, 3, "LOC")]), (0.1, [])]
    assert span_confidences(parses, [(0, 1, "PER"), (2, 3, "LOC"), (0, 2, "PER")]) == pytest.approx([0.9, 0.3, 0.0])


def test_auroc():
    assert auroc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert auroc([0.1, 0.2], [True, True]) is None


@pytest.fixture(scope="module")
def nlp(trained_model):
    return spacy.load(trained_model)


@pytest.fixture(scope="module")
def dev_docs(nlp, small_corpus):
    return load_docs(small_corpus / "dev.spacy", nlp.vocab)


def test_component_sets_scores_and_keeps_entities(nlp, dev_docs):
    assert nlp.pipe_names == ["tok2vec", "ner", "uncertainty"]
    docs = list(nlp.pipe(bare_copy(d) for d in dev_docs))
    with nlp.select_pipes(disable=["uncertainty"]):
        plain = list(nlp.pipe(bare_copy(d) for d in dev_docs))
    for doc, ref in zip(docs, plain):
        scores = doc._.uncertainty
        assert set(scores) >= {"mean_entropy", "max_entropy", "least_confidence", "mnlp", "token_entropy"}
        assert len(scores["token_entropy"]) == len(doc)
        assert 0 <= scores["mean_entropy"] <= scores["max_entropy"] <= math.log(len(TAGS)) + 1e-9
        assert 0 <= scores["least_confidence"] <= 1 and scores["mnlp"] <= 0
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in ref.ents]
        assert all(0 <= e._.confidence <= 1 for e in doc.ents)
    assert any(doc.ents for doc in docs)


def test_marginals_stored_when_asked(trained_model):
    nlp = spacy.load(trained_model, config={"components": {"uncertainty": {"store_marginals": True}}})
    doc = nlp("Rre Masisi o tsamaile Gaborone")
    marginals = np.array(doc._.uncertainty["marginals"])
    assert marginals.shape == (len(doc), len(TAGS)) and np.allclose(marginals.sum(axis=1), 1, atol=1e-5)
    assert doc._.uncertainty["tags"] == list(nlp.get_pipe("uncertainty").tags)
    assert sorted(doc._.uncertainty["tags"]) == sorted(TAGS)


def test_empty_and_single_token_docs(nlp):
    docs = list(nlp.pipe(["", "Gaborone", "Rre Masisi"]))
    assert docs[0]._.uncertainty["mean_entropy"] == 0.0
    assert all(d._.uncertainty is not None for d in docs)


def test_scorer_reports_auroc(nlp, dev_docs):
    examples = [Example(p, g) for p, g in zip(nlp.pipe(bare_copy(d) for d in dev_docs), dev_docs)]
    scores = score_uncertainty(examples)
    assert 0 <= scores["uncertainty_auroc"] <= 1
    assert set(scores["uncertainty_auroc_per_measure"]) == {"mean_entropy", "max_entropy", "least_confidence", "mnlp"}
    assert "uncertainty_auroc" in nlp.evaluate([Example(bare_copy(d), d) for d in dev_docs])


def test_loads_in_a_fresh_interpreter_without_imports(trained_model, tmp_path, python):
    """spacy.load finds the factory and scorer through the package's entry points."""
    code = ("import spacy, json, sys; nlp = spacy.load(sys.argv[1]); doc = nlp('Rre Masisi o tsamaile Gaborone');"
            "print(json.dumps([nlp.pipe_names, doc._.uncertainty['mean_entropy'], 'spacy_llm_loop' in sys.modules]))")
    out = subprocess.run([python, "-c", code, str(trained_model)], capture_output=True, text=True, check=True)
    names, entropy, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert names[-1] == "uncertainty" and entropy >= 0 and imported


def test_rejects_greedy_only_beam(nlp):
    with pytest.raises(ValueError, match="beam_width"):
        spacy.blank("xx").add_pipe("uncertainty", config={"beam_width": 1})


def test_missing_ner_component_is_named():
    blank = spacy.blank("xx")
    blank.add_pipe("uncertainty", config={"ner_component": "my_ner"})
    with pytest.raises(ValueError, match="no component 'my_ner'"):
        blank("a b")
