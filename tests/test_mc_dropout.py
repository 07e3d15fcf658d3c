"""The Monte Carlo dropout estimator of the uncertainty component, and the cached validity of the greedy replay."""
import itertools
import math

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.uncertainty import greedy
from spacy_llm_loop.uncertainty.component import Uncertainty
from spacy_llm_loop.uncertainty.greedy import action_tags, greedy_parses, parse_entities
from spacy_llm_loop.uncertainty.mc_dropout import mc_dropout_estimate, training_dropout
from spacy_llm_loop.uncertainty.measures import mutual_information
from spacy_llm_loop.uncertainty.scorer import score_uncertainty

from .test_uncertainty import TINY_TEXTS, tiny_nlp  # noqa: F401  (the tiny trained pipeline fixture)

MC = {"estimator": "mc_dropout", "mc_passes": 6, "mc_dropout": 0.3, "mc_seed": 7}


def test_action_tags_and_entities():
    names = ["B-PER", "I-PER", "L-PER", "U-LOC", "O", "U-"]
    assert action_tags(names) == ["B-PER", "I-PER", "I-PER", "B-LOC", "O", "O"]
    assert parse_entities([0, 1, 2, 4, 3, 5], names) == [(0, 3, "PER"), (4, 5, "LOC")]


def test_mutual_information():
    assert mutual_information(np.array([0.7, 0.2]), np.array([0.5, 0.2])) == pytest.approx(0.1)
    assert mutual_information(np.zeros(0), np.zeros(0)) == 0.0


def _mc_by_hand(nlp, text, tags, passes, rate, seed):
    """The Monte Carlo dropout estimate of one text, without the component's code: the tok2vec run in training
    mode (dropout on) at ``rate``, then the NER's greedy parse replayed with the full validity check."""
    tok2vec, ner = nlp.get_pipe("tok2vec"), nlp.get_pipe("ner")
    doc = nlp.make_doc(text)
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    saved = {}
    for node in tok2vec.model.walk():
        if "dropout_rate" in node.attrs:
            saved[node] = node.attrs["dropout_rate"]
            node.attrs["dropout_rate"] = rate
    state = np.random.get_state()
    np.random.seed(seed)
    dists, parses = [], []
    try:
        for _ in range(passes):
            doc.tensor = tok2vec.model([doc], is_train=True)[0][0]
            step_model = ner.model.predict([doc])
            st = ner.moves.init_batch([doc])[0]
            rows, taken = [], []
            while not st.is_final():
                scores = np.asarray(step_model.predict([st])[0], dtype="float64")
                valid = [ner.moves.is_valid(st, name) for name in names]
                z = math.log(sum(math.exp(x) for x, ok in zip(scores, valid) if ok))
                p = np.array([math.exp(x - z) if ok else 0.0 for x, ok in zip(scores, valid)])
                row = np.zeros(len(tags))
                for a, tag in enumerate(action_tags(names)):
                    row[tags.index(tag)] += p[a]
                rows.append(row)
                best = int(np.argmax(np.where(valid, scores, -np.inf)))
                taken.append(best)
                ner.moves.apply_transition(st, names[best])
            dists.append(np.array(rows))
            parses.append(tuple(parse_entities(taken, names)))
    finally:
        np.random.set_state(state)
        for node, own in saved.items():
            node.attrs["dropout_rate"] = own
    stack = np.stack(dists)
    mean = stack.mean(axis=0)

    def entropy(m):
        return np.array([-sum(p * math.log(p) for p in row if p > 0) for row in m])

    expected = np.mean([entropy(d) for d in stack], axis=0)
    return {"marginals": mean, "token_entropy": entropy(mean), "bald": float((entropy(mean) - expected).mean()),
            "parses": parses}


@pytest.mark.parametrize("text", TINY_TEXTS[:2])
def test_mc_dropout_matches_hand_computation(tiny_nlp, text):  # noqa: F811
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        doc = tiny_nlp(text)
    component = Uncertainty(tiny_nlp, store_marginals=True, **MC)
    scores = component(doc)._.uncertainty
    hand = _mc_by_hand(tiny_nlp, text, scores["tags"], MC["mc_passes"], MC["mc_dropout"], MC["mc_seed"])
    assert np.allclose(scores["marginals"], hand["marginals"], atol=1e-5)
    assert np.allclose(scores["token_entropy"], hand["token_entropy"], atol=1e-5)
    assert scores["mean_entropy"] == pytest.approx(hand["token_entropy"].mean(), abs=1e-5)
    assert scores["bald"] == pytest.approx(hand["bald"], abs=1e-5)
    assert scores["bald"] > 0  # the passes disagree on the tiny model: not a vacuous check
    for ent in doc.ents:
        share = sum((ent.start, ent.end, ent.label_) in p for p in hand["parses"]) / MC["mc_passes"]
        assert ent._.confidence == pytest.approx(share)
    counts = max(hand["parses"].count(p) for p in hand["parses"])
    assert scores["least_confidence"] == pytest.approx(1 - counts / MC["mc_passes"])


def test_mc_dropout_leaves_docs_and_model_as_they_were(tiny_nlp):  # noqa: F811
    text = TINY_TEXTS[0]
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        before = tiny_nlp(text)
    models = [tiny_nlp.get_pipe("tok2vec").model, tiny_nlp.get_pipe("ner").model]
    funcs = {id(node): (node._func, node.attrs.get("dropout_rate")) for m in models for node in m.walk()}
    doc = before.copy()
    rng_state = np.random.get_state()[1].copy()
    first = Uncertainty(tiny_nlp, **MC)(doc)._.uncertainty
    assert np.array_equal(np.random.get_state()[1], rng_state)  # the caller's random state is untouched
    assert np.array_equal(doc.tensor, before.tensor)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in before.ents]
    assert {id(node): (node._func, node.attrs.get("dropout_rate")) for m in models for node in m.walk()} == funcs
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        assert np.array_equal(tiny_nlp(text).tensor, before.tensor)  # dropout is off again
    again = Uncertainty(tiny_nlp, **MC)(before.copy())._.uncertainty
    assert again["token_entropy"] == first["token_entropy"]  # seeded: the same batch scores the same
    other = Uncertainty(tiny_nlp, **{**MC, "mc_seed": 8})(before.copy())._.uncertainty
    assert other["token_entropy"] != first["token_entropy"]


def test_mc_dropout_rate_defaults_to_the_training_dropout(tiny_nlp):  # noqa: F811
    """The tiny pipeline's config says training.dropout 0.1, but nlp.update ran at 0 and prediction resets the
    NER's rates: the estimator takes the config's rate, not the layers' last one."""
    assert training_dropout(tiny_nlp) == pytest.approx(0.1)
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        doc = tiny_nlp(TINY_TEXTS[0])
    default = Uncertainty(tiny_nlp, estimator="mc_dropout", mc_passes=4)(doc.copy())._.uncertainty
    explicit = Uncertainty(tiny_nlp, estimator="mc_dropout", mc_passes=4, mc_dropout=0.1)(doc.copy())._.uncertainty
    assert default["token_entropy"] == explicit["token_entropy"]
    with pytest.raises(ValueError, match="nothing to drop.*set mc_dropout"):
        mc_dropout_estimate(tiny_nlp, "ner", [doc.copy()], ["O"], passes=2, rate=0.0)


def test_mc_dropout_refuses_an_upstream_that_is_not_a_tok2vec(tiny_nlp, monkeypatch):  # noqa: F811
    from spacy_llm_loop.uncertainty import mc_dropout

    monkeypatch.setattr(mc_dropout, "upstream_components", lambda nlp, name: [object()])
    with tiny_nlp.select_pipes(disable=["uncertainty"]):
        doc = tiny_nlp(TINY_TEXTS[0])
    with pytest.raises(ValueError, match="needs a spaCy tok2vec or a spacy-transformers transformer under 'ner', "
                                         "not object"):
        Uncertainty(tiny_nlp, estimator="mc_dropout")(doc)


@pytest.mark.parametrize("config,match", [({"estimator": "bootstrap"}, "unknown estimator 'bootstrap'"),
                                          ({"mc_passes": 1}, "mc_passes"), ({"mc_dropout": 1.5}, "mc_dropout")])
def test_bad_estimator_settings_are_named(config, match):
    with pytest.raises(ValueError, match=match):
        spacy.blank("xx").add_pipe("uncertainty", config=config)


def test_saved_learner_scores_with_mc_dropout_after_load(trained_model, small_corpus):
    """The loop's learner (trained with dropout 0.1) switched to the estimator by config at load time."""
    nlp = spacy.load(trained_model, config={"components": {"uncertainty": {"estimator": "mc_dropout",
                                                                           "mc_passes": 4}}})
    gold = load_docs(small_corpus / "dev.spacy", nlp.vocab)
    with nlp.select_pipes(disable=["uncertainty"]):
        plain = list(nlp.pipe(bare_copy(d) for d in gold))
    docs = list(nlp.pipe(bare_copy(d) for d in gold))
    for doc, ref in zip(docs, plain):
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in ref.ents]
        assert doc._.uncertainty["bald"] >= 0 and doc._.uncertainty["mean_entropy"] >= 0
        raw = doc._.uncertainty["ent_confidence"].values()
        assert all(4 * c == pytest.approx(round(4 * c)) for c in raw)  # shares of 4 passes
    assert any(doc._.uncertainty["bald"] > 0 for doc in docs)
    scores = score_uncertainty([Example(p, g) for p, g in zip(docs, gold)])
    assert "bald" in scores["uncertainty_auroc_per_measure"]
    assert list(nlp.pipe(["", "Gaborone"]))[0]._.uncertainty["mean_entropy"] == 0.0


def test_cached_validity_replays_the_same_parse(tiny_nlp):  # noqa: F811
    """Asking spaCy once per context gives the parse and probabilities of asking at every step, sentence starts,
    whitespace tokens and the last token included."""
    vocab = tiny_nlp.vocab
    docs = [Doc(vocab, words=["Rre", "Duma", "o", "tsamaile", "Gaborone", "Mma", "Khama", "ka", "2019"],
                sent_starts=[True, False, False, False, False, True, False, False, False]),
            Doc(vocab, words=["BDP", "\n", "Gaborone", "ke", "motse"], spaces=[True, False, True, True, False]),
            *[tiny_nlp.make_doc(t) for t in TINY_TEXTS]]
    for doc in docs:
        tiny_nlp.get_pipe("tok2vec")(doc)
    ner = tiny_nlp.get_pipe("ner")
    cached = greedy_parses(ner, docs)
    counter = itertools.count()
    original = greedy._context
    greedy._context = lambda doc, j, open_label: next(counter)  # a new key every step: spaCy asked every time
    try:
        every_step = greedy_parses(ner, docs)
    finally:
        greedy._context = original
    for a, b in zip(cached, every_step):
        assert a.actions == b.actions and np.array_equal(a.logprobs, b.logprobs)
