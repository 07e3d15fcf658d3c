"""The uncertainty measures (pure) and the spaCy component on a trained learner."""
import json
import math
import subprocess

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example, biluo_tags_to_spans
from spacy.training.iob_utils import doc_to_biluo_tags

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.data.iob import iob_tagset
from spacy_llm_loop.uncertainty.component import Uncertainty, install_extensions
from spacy_llm_loop.uncertainty.measures import (
    doc_scores,
    log_softmax_valid,
    log_softmax_valid_rows,
    parses_to_marginals,
    span_confidences,
    token_entropy,
)
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
    scores = doc_scores(np.array([0.0, 0.5, 1.0]), best_prob=0.5, step_logprobs=[-0.1, -0.2, -0.6])
    assert scores["mean_entropy"] == pytest.approx(0.5) and scores["max_entropy"] == 1.0
    assert scores["least_confidence"] == pytest.approx(0.5)
    assert scores["mnlp"] == pytest.approx(-0.3)
    assert doc_scores(np.zeros(0), 1.0, []) == {"mean_entropy": 0.0, "max_entropy": 0.0, "least_confidence": 0.0,
                                                "mnlp": 0.0}


def test_log_softmax_over_valid_actions():
    out = log_softmax_valid(np.array([1.0, 2.0, 3.0]), np.array([True, False, True]))
    assert out[0] == pytest.approx(1.0 - math.log(math.exp(1.0) + math.exp(3.0))) and out[1] == -math.inf
    assert np.exp(out).sum() == pytest.approx(1.0)
    assert log_softmax_valid(np.array([5.0, -2.0]), np.array([False, True]))[1] == 0.0  # a forced step is certain
    with pytest.raises(ValueError, match="no valid action"):
        log_softmax_valid(np.array([1.0]), np.array([False]))


def test_log_softmax_of_rows_is_row_by_row():
    rng = np.random.default_rng(0)
    scores, valid = rng.normal(size=(20, 9)) * 5, rng.random((20, 9)) > 0.5
    valid[:, 0] = True
    rows = log_softmax_valid_rows(scores, valid)
    for row, s, v in zip(rows, scores, valid):
        expected = np.where(v, s - math.log(sum(math.exp(x) for x, ok in zip(s, v) if ok)), -np.inf)
        assert np.allclose(row[v], expected[v]) and np.all(row[~v] == -np.inf)
    with pytest.raises(ValueError, match="no valid action"):
        log_softmax_valid_rows(scores[:2], np.zeros((2, 9), dtype=bool))


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
    assert all(0 <= scores[f"uncertainty_auroc_{name}"] <= 1 for name in ("length", "n_ents", "with_entity"))
    assert scores["uncertainty_n_eval"] == len(dev_docs) >= scores["uncertainty_n_with_entity"] > 0
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


def _scored_doc(vocab, words, ents, entropy, uncertainty=True):
    doc = Doc(vocab, words=words)
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
    if uncertainty:
        doc._.uncertainty = {"mean_entropy": entropy, "max_entropy": entropy, "least_confidence": entropy,
                             "mnlp": -entropy}
    return doc


def test_scorer_baselines_and_entity_subset_by_hand():
    """Five scored docs (errors: 3 and 4) and one unscored doc; AUROCs counted by hand over (error, right) pairs."""
    install_extensions()
    vocab = spacy.blank("xx").vocab
    rows = [  # words, predicted ents, gold ents, mean entropy
        ("a b", [], [], 0.1),  # 1: no entity anywhere, right
        ("a b c", [(0, 1, "PER")], [(0, 1, "PER")], 0.3),  # 2: right
        ("a b c d", [(0, 1, "PER")], [(0, 2, "PER")], 0.9),  # 3: wrong span
        ("a b c d e", [], [(1, 2, "LOC")], 0.2),  # 4: missed entity (gold only)
        ("a", [], [], 0.5),  # 5: no entity anywhere, right
    ]
    examples = [Example(_scored_doc(vocab, words.split(), pred, h), _scored_doc(vocab, words.split(), gold, h, False))
                for words, pred, gold, h in rows]
    unscored = _scored_doc(vocab, ["x", "y"], [], 0.0, uncertainty=False)
    examples.append(Example(unscored, _scored_doc(vocab, ["x", "y"], [(0, 1, "ORG")], 0.0, uncertainty=False)))
    scores = score_uncertainty(examples)
    # All 5: errors {3, 4} against {1, 2, 5}; ties count 1/2.
    assert scores["uncertainty_auroc"] == pytest.approx(4 / 6)  # 0.9 beats all three; 0.2 beats only 0.1
    assert scores["uncertainty_auroc_length"] == pytest.approx(1.0)  # 4 and 5 tokens against 2, 3, 1
    assert scores["uncertainty_auroc_n_ents"] == pytest.approx(3.5 / 6)  # (1 vs 0, 1, 0) + (0 vs 0, 1, 0)
    # With an entity (gold or predicted): 2, 3 and 4; errors {3, 4} against {2}.
    assert scores["uncertainty_auroc_with_entity"] == pytest.approx(0.5)  # 0.9 > 0.3, 0.2 < 0.3
    assert scores["uncertainty_auroc_with_entity_length"] == pytest.approx(1.0)
    assert scores["uncertainty_auroc_with_entity_n_ents"] == pytest.approx(0.25)  # 1 ties 1, 0 < 1
    assert scores["uncertainty_auroc_per_measure"] == pytest.approx(
        {"mean_entropy": 4 / 6, "max_entropy": 4 / 6, "least_confidence": 4 / 6, "mnlp": 4 / 6})
    counts = ("uncertainty_n_eval", "uncertainty_n_with_entity", "uncertainty_n_errors")
    assert [scores[key] for key in counts] == [5, 3, 2]


def test_scorer_with_one_class_gives_none():
    install_extensions()
    vocab = spacy.blank("xx").vocab
    doc = _scored_doc(vocab, ["a", "b"], [], 0.4)
    scores = score_uncertainty([Example(doc, _scored_doc(vocab, ["a", "b"], [], 0.4, False))])
    assert scores["uncertainty_auroc"] is None and scores["uncertainty_auroc_with_entity"] is None
    assert scores["uncertainty_n_eval"] == 1 and scores["uncertainty_n_with_entity"] == 0


# A tiny tok2vec + ner pipeline (the NER listens to the tok2vec, as in the learner), trained here, and the
# component checked against a hand computation from the NER's own beam search and step model.
TINY_TRAIN = [
    ("Rre Masisi o tsamaile Gaborone", [(0, 10, "PER"), (22, 30, "LOC")]),
    ("Mma Duma o bua le BDP", [(0, 8, "PER"), (18, 21, "ORG")]),
    ("Gaborone ke motse o mogolo", [(0, 8, "LOC")]),
    ("BDP e fentse ka 2019", [(0, 3, "ORG"), (16, 20, "DATE")]),
    ("Rre Khama o goroga kwa Francistown ka Mosupologo", [(0, 9, "PER"), (23, 34, "LOC"), (38, 48, "DATE")]),
    ("Batho ba le bantsi ba ne ba le teng", []),
]
TINY_TEXTS = ["Rre Duma o tsamaile BDP Gaborone ka 2019", "Mma Khama o bua kwa Francistown", "ke motse"]
BILUO_TO_IOB = {"B": "B", "I": "I", "L": "I", "U": "B"}


@pytest.fixture(scope="module")
def tiny_nlp():
    import random

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("xx")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("ner", config={"model": {"tok2vec": {"@architectures": "spacy.Tok2VecListener.v1",
                                                      "width": 96, "upstream": "*"}}})
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TINY_TRAIN]
    optimizer = nlp.initialize(lambda: examples)
    for i in range(20):
        random.Random(i).shuffle(examples)
        nlp.update(examples, sgd=optimizer)
    nlp.add_pipe("uncertainty", config={"store_marginals": True})
    return nlp


def _by_hand(nlp, text, tags, beam_width=16, beam_density=0.0001):
    """Every number of ``doc._.uncertainty``, from the NER's beam and step model, without the component's code."""
    ner = nlp.get_pipe("ner")
    doc = nlp.get_pipe("tok2vec")(nlp.make_doc(text))  # entities unset, so open to the NER
    beam = ner.beam_parse([doc], beam_width=beam_width, beam_density=beam_density)[0]
    path_scores = np.array(beam.scores, dtype="float64")  # one summed raw action score per parse in the beam
    probs = np.exp(path_scores - path_scores.max())
    probs /= probs.sum()
    marginals = np.zeros((len(doc), len(tags)))
    spans = []
    for prob, history in zip(probs, beam.histories[:len(beam)]):
        biluo = [ner.moves.get_class_name(action) for action in history]
        assert len(biluo) == len(doc)  # one action per token
        for i, tag in enumerate(biluo):
            iob = "O" if tag == "O" else f"{BILUO_TO_IOB[tag[0]]}-{tag[2:]}"
            marginals[i, tags.index(iob)] += prob
        spans.append((prob, {(s.start, s.end, s.label_) for s in biluo_tags_to_spans(doc, biluo)}))
    entropy = np.array([-sum(p * math.log(p) for p in row if p > 0) for row in marginals])
    # MNLP: replay the NER's own prediction with its step model; each action's softmax is over the valid ones.
    predicted = doc_to_biluo_tags(nlp(text))
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    step_model = ner.model.predict([doc])
    state = ner.moves.init_batch([doc])[0]
    logprobs = []
    for tag in predicted:
        scores = np.asarray(step_model.predict([state])[0], dtype="float64")
        valid = [ner.moves.is_valid(state, name) for name in names]
        log_z = math.log(sum(math.exp(x) for x, ok in zip(scores, valid) if ok))
        logprobs.append(scores[names.index(tag)] - log_z)
        ner.moves.apply_transition(state, tag)
    assert state.is_final()
    return {"marginals": marginals, "token_entropy": entropy, "mean_entropy": entropy.mean(),
            "max_entropy": entropy.max(), "least_confidence": 1 - probs.max(), "mnlp": float(np.mean(logprobs)),
            "spans": spans}


@pytest.mark.parametrize("text", TINY_TEXTS)
def test_component_matches_hand_computation_from_beam(tiny_nlp, text):
    doc = tiny_nlp(text)
    scores = doc._.uncertainty
    hand = _by_hand(tiny_nlp, text, scores["tags"])
    assert np.allclose(scores["marginals"], hand["marginals"], atol=1e-6)
    assert np.allclose(scores["token_entropy"], hand["token_entropy"], atol=1e-6)
    for name in ("mean_entropy", "max_entropy", "least_confidence", "mnlp"):
        assert scores[name] == pytest.approx(hand[name], abs=1e-6), name
    for ent in doc.ents:
        expected = sum(p for p, ents in hand["spans"] if (ent.start, ent.end, ent.label_) in ents)
        assert ent._.confidence == pytest.approx(expected, abs=1e-6)
    assert 0 < scores["least_confidence"] < 1 and scores["mnlp"] < 0  # the tiny model is unsure: not a vacuous check


def test_tiny_pipeline_predicts_entities(tiny_nlp):
    """So the span confidences above are checked on real entities."""
    assert sum(len(tiny_nlp(text).ents) for text in TINY_TEXTS) >= 2


def test_mnlp_does_not_depend_on_the_beam(tiny_nlp):
    """MNLP uses the model's per-step probabilities; least confidence is relative to the beam."""
    text = TINY_TEXTS[0]
    wide = tiny_nlp(text)._.uncertainty
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        doc = tiny_nlp(text)
    narrow = Uncertainty(tiny_nlp, beam_width=2)(doc)._.uncertainty
    assert narrow["mnlp"] == pytest.approx(wide["mnlp"], abs=1e-9)
    assert narrow["least_confidence"] != pytest.approx(wide["least_confidence"], abs=1e-6)
