"""A stronger learner for free: cross-lingual transfer data and tok2vec pretraining on the pool."""
import logging
import shutil
from pathlib import Path

import pytest
import srsly
from spacy.util import load_config

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import get_meta
from spacy_llm_loop.learner.pretrain import pretrain_tok2vec
from spacy_llm_loop.learner.train import pretraining_block
from spacy_llm_loop.learner.transfer import cosine, parse_langs, resolve_sources, transfer_sample, trigram_profile
from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT


def test_parse_langs() -> None:
    assert parse_langs("xho sna") == ("xho", "sna") == parse_langs("xho, sna,xho") == parse_langs(["xho", "sna"])
    assert parse_langs("") == () == parse_langs(None) and parse_langs("auto") == ("auto",)


def test_trigram_cosine_ranks_the_same_language_first() -> None:
    zulu = trigram_profile(["Umongameli uthe uhulumeni uzosiza abantu", "ngoMsombuluko eThekwini"])
    assert cosine(zulu, zulu) == pytest.approx(1.0)
    assert cosine(zulu, trigram_profile(["uhulumeni uthe abantu"])) > cosine(zulu, trigram_profile(["the cat sat"]))


def test_transfer_languages_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="other than the target 'zul'"):
        resolve_sources(["zul"], "zul", [], tmp_path)
    with pytest.raises(ValueError, match="got xyz"):
        resolve_sources(["xyz"], "zul", [], tmp_path)
    assert resolve_sources(["xho", "sna"], "zul", [], tmp_path) == (("xho", "sna"), {})


def test_transfer_sample_takes_sentences_with_entities_first(small_corpus) -> None:
    docs = load_docs(small_corpus / "train.spacy")
    sample = transfer_sample(docs, 50, seed=3)
    assert len(sample) == 50 and all(d.ents for d in sample)
    assert [d.text for d in sample] == [d.text for d in transfer_sample(docs, 50, seed=3)]
    assert len(transfer_sample(docs, 10 ** 6, seed=3)) == len(docs)


@pytest.mark.slow
def test_the_loop_trains_on_transfer_data_without_counting_it(small_corpus, tmp_path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root / "tsn")
    (root / "zul").mkdir()
    shutil.copy(small_corpus / "dev.spacy", root / "zul" / "train.spacy")  # a stand-in source language
    settings = {"loop.lang": "tsn", "paths.corpus": str(root / "tsn"), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48", "loop.transfer_langs": "zul",
                "loop.transfer_max": 40}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="gold")
    run = tmp_path / "runs" / result["run"]
    assert result["run"] == "tsn-gold-entropy-tx-zul-seed0" and result["transfer"]["sentences"] == 40
    for record in result["rounds"]:
        assert record["n_transfer"] == 40 and record["n_labelled"] == 48 + 24 * record["round"]
        for split in ("train", "dev"):
            sources = {get_meta(d)["source"] for d in load_docs(run / f"round-{record['round']:02d}" /
                                                                f"{split}.spacy")}
            assert sources == {"gold"}  # the round's own files hold the target's sentences only
        assert not (run / f"round-{record['round']:02d}" / "train-with-transfer").exists()
    transfer = load_docs(run / "transfer.spacy")
    assert {get_meta(d)["source"] for d in transfer} == {"transfer:zul"}
    assert "Loaded" not in (run / "round-00" / "train.log").read_text()  # no pretrained weights asked for


def test_an_empty_pretraining_block_is_filled_when_weights_are_given() -> None:
    config = load_config(ROOT / "configs" / "learner-cnn.cfg", overrides={"paths.init_tok2vec": "w.bin"},
                         interpolate=False)
    assert not config["pretraining"]
    assert pretraining_block(config)["pretraining"]["component"] == "tok2vec"
    plain = load_config(ROOT / "configs" / "learner-cnn.cfg", interpolate=False)
    assert not pretraining_block(plain)["pretraining"]  # no weights: nothing added


@pytest.mark.slow
def test_pretrained_weights_are_loaded_by_every_round(small_corpus, tmp_path, caplog) -> None:
    record = pretrain_tok2vec(small_corpus, ROOT / "configs" / "learner-cnn.cfg", tmp_path / "pt", epochs=1)
    weights = Path(record["weights"])
    assert weights.exists() and record["sentences"] == len(load_docs(small_corpus / "train.spacy"))
    assert len(list(srsly.read_jsonl(tmp_path / "pt" / "raw_text.jsonl"))) == record["sentences"]
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 0, "seed_set.size": "48"}
    spacy_logger = logging.getLogger("spacy")  # spaCy says when it loads the weights
    spacy_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="spacy"):
            result = run_loop(ROOT / "configs" / "loop.cfg", settings,
                              {**FAST_TRAINING, "paths.init_tok2vec": str(weights)}, annotator="gold")
    finally:
        spacy_logger.removeHandler(caplog.handler)
    assert result["run"] == "tsn-gold-entropy-pt-seed0"
    assert f"Loaded pretrained weights from {weights}" in caplog.text
    log = (tmp_path / "runs" / result["run"] / "round-00" / "train.log").read_text()
    assert f"tok2vec initialised from the pretrained weights {weights}" in log


def test_the_transfer_sample_interleaves_languages_and_a_ratio_takes_its_prefix(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.learner.transfer import write_prefix, write_transfer

    root = tmp_path / "corpus"
    for lang, split in (("zul", "train"), ("xho", "dev")):
        (root / lang).mkdir(parents=True)
        shutil.copy(small_corpus / f"{split}.spacy", root / lang / "train.spacy")
    assert write_transfer(tmp_path / "t.spacy", ["zul", "xho"], root, 10, seed=0) == 20
    sources = [get_meta(d)["source"] for d in load_docs(tmp_path / "t.spacy")]
    assert sources[:4] == ["transfer:zul", "transfer:xho", "transfer:zul", "transfer:xho"]
    vocab = load_docs(tmp_path / "t.spacy")[0].vocab
    part = write_prefix(tmp_path / "t.spacy", tmp_path / "part.spacy", 5, vocab)
    assert [d.text for d in load_docs(part)] == [d.text for d in load_docs(tmp_path / "t.spacy")][:5]


@pytest.mark.slow
def test_a_transfer_ratio_names_the_run_and_leaves_no_copies(small_corpus, tmp_path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root / "tsn")
    (root / "zul").mkdir()
    shutil.copy(small_corpus / "dev.spacy", root / "zul" / "train.spacy")
    settings = {"loop.lang": "tsn", "paths.corpus": str(root / "tsn"), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 0, "seed_set.size": "48", "loop.transfer_langs": "zul", "loop.transfer_max": 40,
                "loop.transfer_ratio": 0.5}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="gold")
    assert result["run"] == "tsn-gold-entropy-tx-zul-r0.5-seed0"
    rd = tmp_path / "runs" / result["run"] / "round-00"
    assert not (rd / "transfer-part.spacy").exists() and not (rd / "train-with-transfer").exists()


@pytest.mark.slow
def test_a_tok2vec_trained_on_other_languages_ner_starts_every_round(small_corpus, tmp_path, caplog) -> None:
    import numpy
    import spacy

    from spacy_llm_loop.learner.source_tok2vec import train_source_tok2vec

    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root / "tsn")
    (root / "zul").mkdir()
    for split in ("train", "dev"):  # a stand-in source language, with a dev split of its own
        shutil.copy(small_corpus / ("dev.spacy" if split == "train" else "test.spacy"), root / "zul" / f"{split}.spacy")
    record = train_source_tok2vec(root / "tsn", ROOT / "configs" / "learner-cnn.cfg", tmp_path / "src", ["zul"],
                                  overrides=FAST_TRAINING)
    weights = Path(record["weights"])
    assert record["langs"] == ["zul"] and record["sentences"] == {"zul": len(load_docs(root / "zul" / "train.spacy"))}
    assert record["overrides"]["training.max_steps"] == 120  # the caller's schedule wins over the default
    assert record["loop_flag"] == f"--init-tok2vec {weights}" and 0 <= record["source_dev_ents_f"] <= 1
    written = sorted(p.name for p in (tmp_path / "src").iterdir())  # the trainer's copies are gone
    assert written == ["model", "pretrain.json", "train.log", "train.scores.jsonl", "weights"]
    source = spacy.load(tmp_path / "src" / "model").get_pipe("tok2vec").model
    assert weights.read_bytes() == source.to_bytes()
    settings = {"loop.lang": "tsn", "paths.corpus": str(root / "tsn"), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 0, "seed_set.size": "48"}
    still = {**FAST_TRAINING, "training.optimizer.learn_rate": 0.0}  # the round's training moves no weight, so
    result = run_loop(ROOT / "configs" / "loop.cfg", settings,  # its tok2vec is what it started from
                      {**still, "paths.init_tok2vec": str(weights)}, annotator="gold")
    assert result["run"] == "tsn-gold-entropy-pt-seed0"

    def same_weights(run: str) -> bool:
        learner = spacy.load(tmp_path / "runs" / run / "round-00" / "model").get_pipe("tok2vec").model
        pairs = [(a.get_param(n), b.get_param(n)) for a, b in zip(learner.walk(), source.walk()) for n in a.param_names]
        assert len(pairs) > 4
        return all(numpy.array_equal(a, b) for a, b in pairs)

    assert same_weights(result["run"])
    plain = run_loop(ROOT / "configs" / "loop.cfg", settings, still, annotator="gold")  # the control: no weights
    assert plain["run"] == "tsn-gold-entropy-seed0" and not same_weights(plain["run"])
    with pytest.raises(ValueError, match="other than the target 'tsn'"):
        train_source_tok2vec(root / "tsn", ROOT / "configs" / "learner-cnn.cfg", tmp_path / "x", ["tsn"])
    again = train_source_tok2vec(root / "tsn", ROOT / "configs" / "learner-cnn.cfg", tmp_path / "src", ["zul"],
                                 overrides={**FAST_TRAINING, "training.max_steps": 40}, seed=1)  # a rerun replaces
    saved = srsly.read_json(tmp_path / "src" / "pretrain.json")  # srsly's JSON may write 1.7 as 1.7000000000000002
    assert saved == {**again, "seconds": pytest.approx(again["seconds"])} and again["seed"] == 1
    assert weights.read_bytes() == spacy.load(tmp_path / "src" / "model").get_pipe("tok2vec").model.to_bytes()
    assert weights.read_bytes() != source.to_bytes()
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == written  # no work folder left


def test_a_source_tok2vec_is_refused_before_training(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.learner.source_tok2vec import train_source_tok2vec

    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root / "tsn")
    (root / "zul").mkdir()
    shutil.copy(small_corpus / "dev.spacy", root / "zul" / "train.spacy")  # no dev split for early stopping
    with pytest.raises(ValueError, match=r"source language 'zul' has no dev split \(.*zul/dev.spacy\)"):
        train_source_tok2vec(root / "tsn", ROOT / "configs" / "learner-cnn.cfg", tmp_path / "src", ["zul"])
    assert not (tmp_path / "src").exists()  # refused before anything was written
    shutil.copy(small_corpus / "test.spacy", root / "zul" / "dev.spacy")
    with pytest.raises(ValueError, match="no 'tok2vec' component"):
        train_source_tok2vec(root / "tsn", ROOT / "configs" / "learner-trf.cfg", tmp_path / "src", ["zul"])
    one_layer = tmp_path / "one-layer.cfg"  # spaCy would load the whole tok2vec's weights into one layer
    one_layer.write_text((ROOT / "configs" / "learner-cnn.cfg").read_text(encoding="utf-8").replace(
        "[pretraining]\n", '[pretraining]\ncomponent = "tok2vec"\nlayer = "embed"\n'), encoding="utf-8")
    with pytest.raises(ValueError, match="layer 'embed'"):
        train_source_tok2vec(root / "tsn", one_layer, tmp_path / "src", ["zul"])
    assert not (tmp_path / "src").exists()


@pytest.mark.slow
def test_pretrain_ner_from_on_the_command_line(small_corpus, tmp_path) -> None:
    from typer.testing import CliRunner

    from spacy_llm_loop.cli import app

    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root / "tsn")
    (root / "zul").mkdir()
    for split in ("train", "dev"):
        shutil.copy(small_corpus / f"{split}.spacy", root / "zul" / f"{split}.spacy")
    base = ["pretrain", "tsn", "--corpus", str(root / "tsn"), "--ner-from", "zul"]
    refused = CliRunner().invoke(app, [*base, "--extra-langs", "zul"])
    assert refused.exit_code == 1 and "give one of them" in refused.output
    refused = CliRunner().invoke(app, [*base, "--epochs", "5"])  # it would be ignored: said, not dropped silently
    assert refused.exit_code == 1 and "drop --epochs" in " ".join(refused.output.split())
    fast = [arg for key, value in FAST_TRAINING.items() for arg in (f"--{key}", str(value))]
    result = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "src"), *fast])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # wasabi wraps long lines
    assert "gold NER of zul" in said and f"--init-tok2vec {tmp_path / 'src' / 'weights' / 'model-last.bin'}" in said
    assert srsly.read_json(tmp_path / "src" / "pretrain.json")["overrides"]["training.eval_frequency"] == 40


def test_pretrain_on_the_pool_keeps_its_default_epochs(small_corpus, tmp_path, monkeypatch) -> None:
    """--epochs is optional now (refused with --ner-from): without it the characters objective still runs 20."""
    from typer.testing import CliRunner

    import spacy_llm_loop.learner.pretrain as pretrain_module
    from spacy_llm_loop.cli import app

    seen = {}

    def fake(corpus, config, output, *, epochs, **kwargs):
        seen["epochs"] = epochs
        return {"sentences": 1, "seconds": 0.0, "weights": str(output), "loop_flag": "--init-tok2vec x"}

    monkeypatch.setattr(pretrain_module, "pretrain_tok2vec", fake)
    for args, epochs in (([], 20), (["--epochs", "3"], 3)):
        result = CliRunner().invoke(app, ["pretrain", "tsn", "--corpus", str(small_corpus), "--output",
                                          str(tmp_path / "pt"), *args])
        assert result.exit_code == 0, result.output
        assert seen["epochs"] == epochs and f"{epochs} epochs" in result.output
