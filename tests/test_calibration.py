"""Calibrated entity confidence: Platt scaling on the learner's dev data, ECE, and the saved pipeline."""
import shutil

import numpy as np
import pytest
import spacy

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.learner.calibrate import calibrate_pipeline
from spacy_llm_loop.uncertainty.calibration import calibrate, ece, fit_platt, reliability


def _overconfident(n=400, seed=0):
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.random(n) < (confidence - 0.3)  # right far less often than the confidence says
    return confidence.tolist(), correct.tolist()


def test_platt_scaling_lowers_the_calibration_error_of_overconfident_scores() -> None:
    confidence, correct = _overconfident()
    params = fit_platt(confidence, correct)
    fitted = [calibrate(c, params) for c in confidence]
    assert ece(confidence, correct) > 0.25 and ece(fitted, correct) < 0.06
    held_out, held_correct = _overconfident(seed=1)
    assert ece([calibrate(c, params) for c in held_out], held_correct) < ece(held_out, held_correct) / 2


def test_calibration_needs_enough_entities_of_both_outcomes() -> None:
    assert fit_platt([0.9] * 10, [True] * 5 + [False] * 5) is None  # too few
    assert fit_platt([0.9] * 50, [True] * 50) is None  # one outcome only
    assert calibrate(0.7, None) == 0.7


def test_reliability_bins_and_a_perfectly_calibrated_score() -> None:
    rows = reliability([0.05, 0.15, 0.95, 0.95], [False, False, True, True], bins=10)
    assert len(rows) == 10 and rows[0]["n"] == 1 and rows[9]["n"] == 2 and rows[5]["n"] == 0
    assert ece([1.0, 1.0, 0.0], [True, True, False]) == pytest.approx(0.0)
    assert ece([], []) is None


def test_the_calibration_is_saved_with_the_pipeline_and_used_by_span_confidence(trained_model, small_corpus,
                                                                                tmp_path) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained_model, model)
    fitted = calibrate_pipeline(model, small_corpus / "dev.spacy")
    assert (model / "uncertainty" / "calibration.json").exists()
    assert calibrate_pipeline(model, small_corpus / "dev.spacy")["reused"] is True  # once
    nlp = spacy.load(model)
    assert nlp.get_pipe("uncertainty").calibration == fitted["calibration"]
    docs = [doc for doc in nlp.pipe(bare_copy(d) for d in load_docs(small_corpus / "test.spacy", nlp.vocab))
            if doc.ents]
    assert docs
    for doc in docs:
        for ent in doc.ents:
            raw = doc._.uncertainty["ent_confidence"][f"{ent.start}:{ent.end}:{ent.label_}"]
            assert ent._.confidence == pytest.approx(calibrate(raw, fitted["calibration"]), abs=1e-6)
            assert 0.0 <= ent._.confidence <= 1.0
