"""Metrics on hand-made examples, and the evaluate command on a trained pipeline."""
import json
import subprocess

import pytest
import spacy
from spacy.training import Example

from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.evaluation.evaluate import evaluate_model, format_table, resolve_model
from spacy_llm_loop.evaluation.metrics import entity_scores, paper_token_f1, score_examples, tag_agreement

WORDS = ["Rre", "Masisi", "o", "tsamaile", "Gaborone", "ka", "Labobedi"]
GOLD = ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-DATE"]


def example(pred_tags):
    vocab = spacy.blank("xx").vocab
    return Example(make_doc(vocab, WORDS, pred_tags), make_doc(vocab, WORDS, GOLD))


def test_entity_f1_is_exact_span_and_type():
    # PER boundary wrong, LOC right, DATE typed wrong, one false positive
    eg = example(["B-PER", "O", "B-ORG", "O", "B-LOC", "O", "B-LOC"])
    scores = entity_scores([eg])
    assert scores["ents_p"] == pytest.approx(1 / 4) and scores["ents_r"] == pytest.approx(1 / 3)
    assert scores["ents_per_type"]["LOC"]["p"] == pytest.approx(0.5)
    assert scores["ents_per_type"]["PER"]["r"] == 0.0


def test_paper_metric_ignores_false_positives_on_o():
    perfect_plus_fp = ["B-PER", "I-PER", "B-ORG", "B-ORG", "B-LOC", "B-ORG", "B-DATE"]
    paper = paper_token_f1([GOLD], [perfect_plus_fp])
    assert paper["micro"] == 1.0
    assert entity_scores([example(perfect_plus_fp)])["ents_p"] < 1.0


def test_tag_agreement():
    pred = ["B-PER", "O", "O", "O", "B-LOC", "O", "O"]
    result = tag_agreement([GOLD], [pred])
    assert result["token_accuracy"] == pytest.approx(5 / 7)
    assert result["ents_p"] == pytest.approx(1 / 2) and result["ents_r"] == pytest.approx(1 / 3)


def test_score_examples_keys():
    result = score_examples([example(GOLD)])
    assert result["ents_f"] == 1.0 and result["n_docs"] == 1
    assert set(result["paper_token_f1_entity_positions"]) == {"micro", "macro", "weighted"}
    assert "ALL" in format_table(result)


def test_evaluate_any_pipeline(trained_model, small_corpus):
    result = evaluate_model(trained_model, small_corpus / "test.jsonl")
    assert result["n_docs"] == 60 and 0 <= result["ents_f"] <= 1 and result["words_per_second"] > 0
    assert set(result["ents_per_type"]) <= {"PER", "ORG", "LOC", "DATE"}


def test_evaluate_cli_writes_json_and_table(trained_model, small_corpus, tmp_path, python):
    out = tmp_path / "m.json"
    proc = subprocess.run([python, "-m", "spacy_llm_loop", "evaluate", str(trained_model),
                           str(small_corpus / "test.spacy"), "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "ALL" in proc.stdout and json.loads(out.read_text())["n_docs"] == 60


def test_evaluate_cli_names_a_missing_file(trained_model, tmp_path, python):
    proc = subprocess.run([python, "-m", "spacy_llm_loop", "evaluate", str(trained_model), str(tmp_path / "x.spacy")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "x.spacy: file not found" in proc.stdout + proc.stderr


def test_run_folder_resolves_to_last_round(tmp_path):
    (tmp_path / "loop.json").write_text(json.dumps({"rounds": [{"round": 0}, {"round": 1}]}))
    assert resolve_model(tmp_path) == str(tmp_path / "round-01" / "model")
    (tmp_path / "loop.json").write_text(json.dumps({"rounds": []}))
    with pytest.raises(InputError, match="no finished round"):
        resolve_model(tmp_path)
