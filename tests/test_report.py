"""The report over runs and baselines: Markdown table and learning-curve PNG."""
import csv

import pytest
import srsly

from spacy_llm_loop.package_data import read_text
from spacy_llm_loop.reporting.collect import PUBLISHED, collect_runs, published_f1
from spacy_llm_loop.reporting.report import write_report


def fake_run(root, strategy, seed, f1s, dev="labelled", tag="", **fields):
    rounds = [{"round": k, "n_labelled": 100 * (k + 1), "n_train": 80 * (k + 1), "test": {"ents_f": f}}
              for k, f in enumerate(f1s)]
    folder = root / f"zul-gold-{strategy}-{tag or dev}-seed{seed}"
    folder.mkdir(parents=True)
    srsly.write_json(folder / "loop.json", {"lang": "zul", "annotator": "gold", "strategy": strategy, "seed": seed,
                                            "dev": dev, "rounds": rounds, **fields})
    return folder


def test_report_groups_seeds_and_draws_curves(tmp_path):
    runs, baselines, out = tmp_path / "runs", tmp_path / "baselines", tmp_path / "reports"
    fake_run(runs, "entropy", 0, [0.5, 0.6, 0.7])
    fake_run(runs, "entropy", 1, [0.52, 0.62, 0.72])
    fake_run(runs, "random", 0, [0.5, 0.55, 0.6])
    (baselines / "zul-full-seed0").mkdir(parents=True)
    srsly.write_json(baselines / "zul-full-seed0" / "metrics.json", {"test": {"ents_f": 0.75}})
    written = write_report(runs, baselines, out)
    text = (out / "report.md").read_text()
    assert "| gold | entropy | cnn | 2 | 300 | 71.00 ± 1.41 | 2 |" in text
    assert "| gold | random | cnn | 1 | 200 | 55.00 ± 0.00 | 1 |" in text
    assert "Full train data, gold labels (the gold dev split for early stopping): **75.00**" in text
    assert "AfroXLMR-large, published" in text
    png = out / "learning_curve_zul.png"
    assert png in written and png.read_bytes()[:4] == b"\x89PNG"
    assert len(collect_runs(runs)) == 2


def test_oracle_dev_runs_are_marked_and_counted_apart(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs, "entropy", 0, [0.5, 0.6])
    fake_run(runs, "entropy", 0, [0.55, 0.65], dev="oracle")
    fake_run(runs, "entropy", 0, [0.52, 0.62], dev="seed")
    write_report(runs, tmp_path / "baselines", tmp_path / "reports")
    text = (tmp_path / "reports" / "report.md").read_text()
    assert "| gold | entropy | cnn | 1 | 200 | 60.00 ± 0.00 | 1 |" in text
    assert "| gold | entropy | cnn-oracledev | 1 | 200 | 65.00 ± 0.00 | 1 |" in text and "free labels" in text
    assert "| gold | entropy | cnn-seeddev | 1 | 200 | 62.00 ± 0.00 | 1 |" in text and "`seeddev`" in text


def test_runs_with_another_estimator_are_a_curve_of_their_own(tmp_path):
    """Monte Carlo dropout and committee runs are not pooled with the beam's; runs from before loop.json named
    the estimator are told apart by run.json's learner overrides."""
    runs = tmp_path / "runs"
    fake_run(runs, "entropy", 0, [0.5, 0.6], estimator="beam")
    fake_run(runs, "entropy", 1, [0.5, 0.7], tag="committee", estimator="committee")
    older = fake_run(runs, "entropy", 2, [0.5, 0.8], tag="mc")
    srsly.write_json(older / "run.json", {"learner_overrides": {"components.uncertainty.estimator": "mc_dropout"}})
    assert sorted(c.learner for c in collect_runs(runs).values()) == ["cnn", "cnn+committee", "cnn+mc_dropout"]
    write_report(runs, tmp_path / "baselines", tmp_path / "reports")
    text = (tmp_path / "reports" / "report.md").read_text()
    assert "| gold | entropy | cnn | 1 | 200 | 60.00 ± 0.00 | 1 |" in text
    assert "| gold | entropy | cnn+committee | 1 | 200 | 70.00 ± 0.00 | 1 |" in text


def test_a_run_json_that_cannot_be_read_leaves_the_curve_in_the_report(tmp_path):
    runs = tmp_path / "runs"
    broken = fake_run(runs, "entropy", 0, [0.5, 0.6])
    (broken / "run.json").write_text("{not json", encoding="utf-8")
    assert [c.learner for c in collect_runs(runs).values()] == ["cnn"]


def test_report_shows_the_labels_each_round_received(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs, "entropy", 0, [0.5, 0.6])
    data = srsly.read_json(runs / "zul-gold-entropy-labelled-seed0" / "loop.json")
    data["annotator"] = "sim-gpt-4-turbo"
    data["rounds"][1]["annotation"] = {"n_requested": 100, "n_received": 96, "n_dropped": 4, "token_accuracy": 0.9,
                                       "ents_f": 0.62, "drop_reasons": {"length_mismatch": 3, "invalid_output": 1}}
    srsly.write_json(runs / "zul-gold-entropy-labelled-seed0" / "loop.json", data)
    write_report(runs, tmp_path / "baselines", tmp_path / "reports")
    text = (tmp_path / "reports" / "report.md").read_text()
    assert ("| sim-gpt-4-turbo | entropy | cnn | 1 | 200 | 60.00 ± 0.00 | 1 | 90.0 | 62.0 | 4.0% "
            "(invalid_output 1, length_mismatch 3) |") in text
    assert "| sim-gpt-4-turbo | entropy | cnn | 0 | 100 | 50.00 ± 0.00 | 1 | - | - | - |" in text
    assert "SIMULATED" in text


def test_empty_report(tmp_path):
    write_report(tmp_path / "runs", tmp_path / "b", tmp_path / "out")
    assert "No runs found" in (tmp_path / "out" / "report.md").read_text()


def test_published_figures():
    assert published_f1("zul") == 88.4 and published_f1("tsn") == 87.7 and published_f1("xyz") is None
    assert published_f1("kin") == 86.1 and published_f1("wol", "mdeberta") == 83.6  # languages the old table lacked
    assert published_f1("luo") is None  # no published results upstream


def test_published_table_covers_19_languages_without_unreliable_columns():
    lines = read_text(PUBLISHED).splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert lines[0] == header[0] and any("masakhane-io/masakhane-ner" in line for line in header)
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert len(rows) == 19 and "luo" not in {row["lang"] for row in rows}
    assert list(rows[0]) == ["lang", "xlmrbase", "xlmrlarge", "mdeberta", "rembert", "afroxlmr"]
    assert all(0 < float(row[col]) < 100 for row in rows for col in list(row)[1:])


@pytest.mark.parametrize("model", ["mbert", "afriberta", "bert"])
def test_published_f1_rejects_unreliable_or_unknown_models(model):
    with pytest.raises(ValueError, match=f"model '{model}'.*afroxlmr"):
        published_f1("zul", model)
