"""The transformer learner (configs/learner-trf.cfg) on CPU with a tiny XLM-R-style model built at test time."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import spacy
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.learner.train import train_pipeline
from spacy_llm_loop.loop.main import run_loop

from .conftest import ROOT

pytest.importorskip("spacy_transformers")
pytestmark = pytest.mark.slow
TRF = ROOT / "configs" / "learner-trf.cfg"
TINY_TRAINING = {"training.max_steps": 30, "training.eval_frequency": 10, "training.patience": 100}


@pytest.fixture(scope="module")
def tiny_xlmr(small_corpus, tmp_path_factory) -> Path:
    """A random 2-layer XLM-R-style model and a Unigram tokenizer trained on the small corpus (no download)."""
    from spacy_llm_loop.learner.hf_local import build_local_xlmr

    texts = [doc.text for doc in load_docs(small_corpus / "train.spacy")]
    return build_local_xlmr(tmp_path_factory.mktemp("hf") / "tiny-xlmr", texts, tokenizer_vocab_size=500)


@pytest.fixture(scope="module")
def trf_model(tiny_xlmr, small_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trf") / "model"
    train_pipeline(TRF, out, train_path=small_corpus / "train.spacy", dev_path=small_corpus / "dev.spacy", seed=0,
                   overrides={"components.transformer.model.name": str(tiny_xlmr), **TINY_TRAINING})
    return out


def test_the_default_is_afro_xlmr_mini_with_mixed_precision():
    config = spacy.util.load_config(TRF)
    assert config["components"]["transformer"]["model"]["name"] == "Davlan/afro-xlmr-mini"
    assert config["components"]["transformer"]["model"]["mixed_precision"] is True
    assert config["nlp"]["pipeline"] == ["transformer", "ner", "uncertainty"]


def test_tiny_model_is_xlmr_shaped(tiny_xlmr):
    from transformers import AutoConfig, AutoTokenizer

    assert AutoConfig.from_pretrained(tiny_xlmr).model_type == "xlm-roberta"
    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr)
    ids = tokenizer("Ke a leboga")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 0 and ids[-1] == tokenizer.eos_token_id == 2


def test_train_predict_score_save_load(trf_model, small_corpus, python):
    """Trained on CPU (mixed precision switched off), saved, loaded in a fresh interpreter with scores."""
    nlp = spacy.load(trf_model)
    assert nlp.pipe_names == ["transformer", "ner", "uncertainty"]
    doc = nlp(load_docs(small_corpus / "dev.spacy")[0].text)
    assert 0.0 <= doc._.uncertainty["mean_entropy"] and 0.0 <= doc._.uncertainty["least_confidence"] <= 1.0
    code = ("import json, spacy; nlp = spacy.load(%r); doc = nlp('Ke a leboga Rre Masisi kwa Gaborone')\n"
            "print(json.dumps({k: doc._.uncertainty[k] for k in ('mean_entropy', 'mnlp')}))" % str(trf_model))
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=trf_model.parent,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(json.loads(out.stdout.strip().splitlines()[-1])) == {"mean_entropy", "mnlp"}


def test_one_loop_round_with_the_transformer(tiny_xlmr, small_corpus, tmp_path):
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path), "loop.rounds": 1,
                "loop.query_size": "24", "seed_set.size": "24", "paths.learner_config": str(TRF)}
    learner = {"components.transformer.model.name": str(tiny_xlmr), **TINY_TRAINING}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, learner, annotator="gold")
    assert result["learner"] == "trf" and [r["n_labelled"] for r in result["rounds"]] == [24, 48]
    run = tmp_path / "tsn-gold-entropy-trf-seed0"
    assert (run / "round-01" / "model" / "transformer").is_dir()
    assert len(srsly.read_json(run / "round-01" / "selection.json")["selected"]) == 24


def _dropout_state(module):
    """Every dropout rate (modules' p, SDPA attention's dropout_prob) and every submodule's training flag."""
    import torch

    rates = [(name, m.p) for name, m in module.named_modules() if isinstance(m, torch.nn.Dropout)]
    rates += [(name, m.dropout_prob) for name, m in module.named_modules() if "dropout_prob" in m.__dict__]
    return rates, [m.training for m in module.modules()]


def test_mc_dropout_with_the_transformer(trf_model, small_corpus, monkeypatch):
    """Monte Carlo dropout drops in the PyTorch model: passes differ, are seeded, and leave model and docs alone."""
    import torch

    from spacy_llm_loop.uncertainty import mc_dropout
    from spacy_llm_loop.uncertainty.component import Uncertainty

    nlp = spacy.load(trf_model)
    texts = [doc.text for doc in load_docs(small_corpus / "dev.spacy")[:12]]
    with nlp.select_pipes(disable=["uncertainty"]):
        docs = list(nlp.pipe(texts))
    (shim,) = mc_dropout.torch_shims([nlp.get_pipe("transformer").model])
    module = shim._model
    assert module.config._attn_implementation in ("sdpa", "eager")  # sdpa: attention dropout is dropout_prob
    own = _dropout_state(module)
    assert own[0] and {rate for _, rate in own[0]} == {0.1}  # the Hugging Face config's hidden/attention dropout
    with mc_dropout.dropout_at_prediction([nlp.get_pipe("ner").model], 0.1) as thinc_sites:
        assert thinc_sites == 0  # so any disagreement between the passes comes from PyTorch's dropout
    trf_data = [doc._.trf_data for doc in docs]
    tensors = [doc.tensor for doc in docs]
    ents = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs]

    mc = Uncertainty(nlp, estimator="mc_dropout", mc_passes=6)
    first = [mc(doc)._.uncertainty for doc in docs]
    again = [mc(doc)._.uncertainty for doc in docs]
    assert [u["bald"] for u in first] == [u["bald"] for u in again]  # seeded: the same every time
    assert max(u["bald"] for u in first) > 0.0  # the passes disagree somewhere: dropout was on
    louder = [Uncertainty(nlp, estimator="mc_dropout", mc_passes=6, mc_dropout=0.5)(doc)._.uncertainty["bald"]
              for doc in docs]
    assert sum(louder) > sum(u["bald"] for u in first)  # a higher rate: more disagreement
    assert all(doc._.trf_data is data for doc, data in zip(docs, trf_data))  # the docs' own output is back
    assert all(doc.tensor is tensor for doc, tensor in zip(docs, tensors))
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs] == ents
    assert _dropout_state(module) == own and "predict" not in shim.__dict__

    with mc_dropout.torch_dropout_at_prediction([shim], 0.3) as on:
        assert on > 0 and all(rate == 0.3 for _, rate in _dropout_state(module)[0])
        dropouts = [m for m in module.modules() if isinstance(m, torch.nn.Dropout)]
        norms = [m for m in module.modules() if isinstance(m, torch.nn.LayerNorm)]
        assert all(m.training for m in dropouts) and not any(m.training for m in norms)  # only dropout is on
    assert _dropout_state(module) == own and "predict" not in shim.__dict__

    def broken(*args, **kwargs):
        raise RuntimeError("a pass failed")

    monkeypatch.setattr(mc_dropout, "greedy_parses", broken)
    with pytest.raises(RuntimeError, match="a pass failed"):
        Uncertainty(nlp, estimator="mc_dropout", mc_passes=2, mc_dropout=0.5)(docs[0])
    assert _dropout_state(module) == own and "predict" not in shim.__dict__  # put back after a failure too
    assert docs[0]._.trf_data is trf_data[0] and docs[0].tensor is tensors[0]
