"""The committee estimator: aggregation, training the members into a pipeline, loading it back, the loop."""
import shutil

import numpy as np
import pytest
import spacy
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.learner.committee import bootstrap, requested_size, train_committee
from spacy_llm_loop.loop.main import run_loop
from spacy_llm_loop.uncertainty.component import Uncertainty
from spacy_llm_loop.uncertainty.ensemble import Ensemble
from spacy_llm_loop.uncertainty.greedy import GreedyParse, greedy_parses

from .conftest import FAST_TRAINING, ROOT

CONFIG = ROOT / "configs" / "learner-cnn.cfg"
COMMITTEE = {"components.uncertainty.estimator": "committee", "components.uncertainty.committee_size": 3}


def test_ensemble_of_two_members_by_hand():
    names = ["B-PER", "L-PER", "U-PER", "O"]
    tags = ["O", "B-PER", "I-PER"]
    lp = np.log
    first = GreedyParse(np.array([[lp(0.6), -np.inf, lp(0.3), lp(0.1)], [-np.inf, 0.0, -np.inf, -np.inf]]), [0, 1])
    second = GreedyParse(np.array([[lp(0.2), -np.inf, lp(0.2), lp(0.6)], [lp(0.5), -np.inf, lp(0.25), lp(0.25)]]),
                         [3, 0])
    ensemble = Ensemble(1, tags)
    ensemble.add([first], names)
    ensemble.add([second], names)
    out = ensemble.outputs()[0]
    # token 0: member 1 gives B-PER 0.9 (B 0.6 + U 0.3), O 0.1; member 2 gives B-PER 0.4, O 0.6
    assert np.allclose(out.marginals[0], [0.35, 0.65, 0.0])
    assert np.allclose(out.marginals[1], [0.125, 0.375, 0.5])
    h = [-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), -(0.4 * np.log(0.4) + 0.6 * np.log(0.6))]
    assert out.expected_entropy[0] == pytest.approx(np.mean(h))
    assert out.parses == [(0.5, [(0, 2, "PER")]), (0.5, [])]
    assert out.step_logprobs == pytest.approx([lp(0.6), 0.0, lp(0.6), lp(0.5)])


def test_bootstrap_resample_is_seeded_and_as_large(small_corpus, tmp_path):
    a = load_docs(bootstrap(small_corpus / "train.spacy", 1, tmp_path / "a.spacy"))
    b = load_docs(bootstrap(small_corpus / "train.spacy", 1, tmp_path / "b.spacy"))
    c = load_docs(bootstrap(small_corpus / "train.spacy", 2, tmp_path / "c.spacy"))
    n = len(load_docs(small_corpus / "train.spacy"))
    assert len(a) == len(c) == n and [d.text for d in a] == [d.text for d in b] != [d.text for d in c]
    assert len({d.text for d in a}) < n  # drawn with replacement


def test_requested_size():
    assert requested_size(CONFIG) == 0
    assert requested_size(CONFIG, COMMITTEE) == 3


@pytest.fixture(scope="module")
def committee_model(trained_model, small_corpus, tmp_path_factory):
    model = tmp_path_factory.mktemp("committee") / "model"
    shutil.copytree(trained_model, model)
    trained = train_committee(CONFIG, model, size=3, train_path=small_corpus / "train.spacy",
                              dev_path=small_corpus / "dev.spacy", seed=0, overrides=FAST_TRAINING)
    assert [t["member"] for t in trained] == [1, 2]
    return model


@pytest.mark.slow
def test_committee_pipeline_loads_and_scores(committee_model, small_corpus):
    nlp = spacy.load(committee_model)
    component = nlp.get_pipe("uncertainty")
    assert component.estimator == "committee" and len(component.members) == 2
    assert "uncertainty" not in component.members[0].pipe_names
    gold = load_docs(small_corpus / "dev.spacy", nlp.vocab)[:40]
    with nlp.select_pipes(disable=["uncertainty"]):
        plain = list(nlp.pipe(bare_copy(d) for d in gold))
    docs = list(nlp.pipe(bare_copy(d) for d in gold))
    members = [spacy.load(committee_model / "uncertainty" / "committee" / f"member-{k}") for k in (1, 2)]
    tags = list(component.tags)
    for doc, ref in zip(docs, plain):
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in ref.ents]
        assert doc._.uncertainty["bald"] >= 0
        assert all(3 * c == pytest.approx(round(3 * c)) for c in doc._.uncertainty["ent_confidence"].values())
    assert any(doc._.uncertainty["bald"] > 0 for doc in docs)  # the members disagree somewhere
    # by hand: the mean of the three learners' own greedy distributions
    doc = gold[0]
    dists = []
    for learner in [nlp, *members]:
        with learner.select_pipes(enable=["tok2vec"]):
            parsed = learner(doc.text)
        parse = greedy_parses(learner.get_pipe("ner"), [parsed])[0]
        names = [learner.get_pipe("ner").moves.get_class_name(i) for i in range(learner.get_pipe("ner").moves.n_moves)]
        ens = Ensemble(1, tags)
        ens.add([parse], names)
        dists.append(ens.outputs()[0].marginals)
    scored = Uncertainty(nlp, estimator="committee", store_marginals=True)
    scored.members = component.members
    with nlp.select_pipes(disable=["uncertainty"]):
        mine = scored(nlp(doc.text))._.uncertainty
    assert np.allclose(mine["marginals"], np.mean(dists, axis=0), atol=1e-5)


@pytest.mark.slow
def test_committee_survives_bytes_and_resumes(committee_model, small_corpus):
    nlp = spacy.load(committee_model)
    text = load_docs(small_corpus / "dev.spacy", nlp.vocab)[0].text
    restored = Uncertainty(nlp, estimator="committee").from_bytes(nlp.get_pipe("uncertainty").to_bytes())
    assert len(restored.members) == 2
    with nlp.select_pipes(disable=["uncertainty"]):
        doc = nlp(text)
    assert restored(doc.copy())._.uncertainty["token_entropy"] == \
        nlp.get_pipe("uncertainty")(doc.copy())._.uncertainty["token_entropy"]
    assert train_committee(CONFIG, committee_model, size=3, train_path=small_corpus / "train.spacy",
                           dev_path=small_corpus / "dev.spacy", overrides=FAST_TRAINING) == []  # nothing left to do


@pytest.mark.slow
def test_committee_resumes_a_missing_member_and_retrains_foreign_ones(committee_model, small_corpus, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(committee_model, model)
    folder = model / "uncertainty" / "committee"
    shutil.rmtree(folder / "member-2")  # killed before the second member was saved
    with pytest.raises(ValueError, match="needs 2 members besides the pipeline, and has 1"):
        spacy.load(model)("Rre Masisi o tsamaile Gaborone")
    kept = (folder / "member-1" / "ner" / "model").read_bytes()
    args = dict(train_path=small_corpus / "train.spacy", dev_path=small_corpus / "dev.spacy", overrides=FAST_TRAINING)
    assert [t["member"] for t in train_committee(CONFIG, model, size=3, **args)] == [2]
    assert (folder / "member-1" / "ner" / "model").read_bytes() == kept
    # the same members under a pipeline trained on other data: not its committee, so trained again
    other = tmp_path / "other.spacy"
    shutil.copy(small_corpus / "dev.spacy", other)
    assert [t["member"] for t in train_committee(CONFIG, model, size=3, **{**args, "train_path": other})] == [1, 2]


def test_committee_without_members_says_so(trained_model):
    nlp = spacy.load(trained_model, config={"components": {"uncertainty": {"estimator": "committee"}}})
    with pytest.raises(ValueError, match="'committee' of 3 needs 2 members besides the pipeline, and has 0"):
        nlp("Rre Masisi o tsamaile Gaborone")


@pytest.mark.slow
def test_the_loop_trains_a_committee_each_round(small_corpus, tmp_path):
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48"}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, {**FAST_TRAINING, **COMMITTEE}, annotator="gold",
                      strategy="bald")
    run = tmp_path / "runs" / result["run"]
    assert result["run"] == "tsn-gold-bald-committee-seed0"  # the estimator is in the run's name
    for k in (0, 1):
        rd = run / f"round-{k:02d}"
        model = rd / "model"
        assert sorted(p.name for p in (model / "uncertainty" / "committee").iterdir()) == \
            ["committee.json", "member-1", "member-2"]
        assert (rd / "train.member-1.log").exists() and (rd / "train.member-2.log").exists()  # trained this round
        assert srsly.read_json(rd / "record.json")["seconds"]["train_committee"] > 0
        assert spacy.load(model).get_pipe("uncertainty").estimator == "committee"
    scores = list(srsly.read_jsonl(run / "round-01" / "scores.jsonl"))
    assert all("bald" in s for s in scores)
    assert srsly.read_json(run / "round-01" / "selection.json")["strategy"] == "bald"
    assert result["rounds"][-1]["test"]["uncertainty_auroc_per_measure"]["bald"] is not None


@pytest.mark.slow
def test_warm_start_trains_each_round_its_own_committee(small_corpus, tmp_path):
    """A warm-started round continues from the last round's weights, not from its committee."""
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48", "loop.warm_start": True}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, {**FAST_TRAINING, **COMMITTEE}, annotator="gold",
                      strategy="entropy")
    run = tmp_path / "runs" / result["run"]
    members = [(run / f"round-{k:02d}" / "model" / "uncertainty" / "committee" / "member-1" / "ner" / "model")
               for k in (0, 1)]
    assert members[0].read_bytes() != members[1].read_bytes()
    assert (run / "round-01" / "train.member-1.log").exists()


def test_member_docs_keep_tokens_norms_and_sentence_starts():
    from spacy.tokens import Doc

    from spacy_llm_loop.uncertainty.committee import member_docs

    main = spacy.blank("xx")
    doc = Doc(main.vocab, words=["Rre", "Masisi", ".", "Gaborone"], spaces=[True, False, True, False],
              sent_starts=[True, False, False, True])
    doc[1].norm_ = "masisi-norm"  # as a tokenizer exception would set it
    member = spacy.blank("xx")
    copy = member_docs(member, [doc], stop_at="ner")[0]
    assert copy.vocab is member.vocab and copy.text == doc.text
    assert [t.norm_ for t in copy] == [t.norm_ for t in doc] and copy[1].norm_ == "masisi-norm"
    assert [t.is_sent_start for t in copy] == [t.is_sent_start for t in doc]
