"""The package works from any working directory: its data (annotator configs, prompt template, tables) ships
inside it."""
from pathlib import Path

import pytest

from spacy_llm_loop.annotators.llm import make_llm_annotator
from spacy_llm_loop.llm.pricing import price_for
from spacy_llm_loop.package_data import annotator_config_text, packaged_annotators
from spacy_llm_loop.reporting.collect import published_f1


def test_packaged_data_is_found_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert packaged_annotators() == ["claude-3-haiku", "gpt-4-turbo", "gpt-4-turbo-guided", "ner-v3",
                                     "openai-compatible", "sim-gpt-4-turbo", "sim-gpt-4-turbo-hard"]
    for name in packaged_annotators():
        assert "[components.llm]" in annotator_config_text(name)
        assert annotator_config_text(f"configs/annotator-{name}.cfg") == annotator_config_text(name)  # old paths
    assert published_f1("zul") == pytest.approx(88.4, abs=0.05) and price_for("gpt-4-turbo") is not None
    annotator = make_llm_annotator("openai-compatible", "openai-compatible", "tsn", cache_path=None,
                                   endpoint="http://127.0.0.1:9/v1/chat/completions")
    assert annotator.nlp.pipe_names == ["llm"] and "Setswana" in annotator._llm()._task.render([["Pula"]])


def test_a_file_of_ones_own_wins_and_an_unknown_name_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "gpt-4-turbo"
    mine.write_text("[nlp]\n", encoding="utf-8")
    assert annotator_config_text("gpt-4-turbo") == "[nlp]\n"
    with pytest.raises(ValueError, match="neither a file nor one of the packaged configs.*openai-compatible"):
        annotator_config_text("gpt-5")


def test_packaged_configs_are_the_projects_and_the_loop_runs_from_another_folder(small_corpus, tmp_path, python):
    import subprocess

    from spacy_llm_loop.package_data import config_file

    from .conftest import FAST_TRAINING, ROOT

    for name in ("loop.cfg", "learner-cnn.cfg", "learner-trf.cfg"):
        packaged = (ROOT / "components" / "resources" / "configs" / name).read_text()
        assert packaged == (ROOT / "configs" / name).read_text(), f"components/resources/configs/{name} is stale"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = [python, "-m", "spacy_llm_loop", "loop", "--lang", "tsn", "--annotator", "gold", "--corpus",
            str(small_corpus), "--runs-dir", str(tmp_path / "runs"), "--rounds", "0", "--seed-size", "48"]
    args += [a for k, v in FAST_TRAINING.items() for a in (f"--learner.{k}", str(v))]
    proc = subprocess.run(args, cwd=elsewhere, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "runs" / "tsn-gold-entropy-seed0" / "loop.json").exists()
    assert config_file("configs/nope.cfg") == Path("configs/nope.cfg")
