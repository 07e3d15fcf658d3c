"""The report over runs and baselines: Markdown table and learning-curve PNG."""
import srsly

from spacy_llm_loop.reporting.collect import collect_runs, published_f1
from spacy_llm_loop.reporting.report import write_report


def fake_run(root, strategy, seed, f1s):
    rounds = [{"round": k, "n_train": 100 * (k + 1), "test": {"ents_f": f}} for k, f in enumerate(f1s)]
    folder = root / f"zul-gold-{strategy}-seed{seed}"
    folder.mkdir(parents=True)
    srsly.write_json(folder / "loop.json", {"lang": "zul", "annotator": "gold", "strategy": strategy, "seed": seed,
                                            "rounds": rounds})


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
    assert "Full train data, gold labels: **75.00**" in text and "AfroXLMR-large, published" in text
    png = out / "learning_curve_zul.png"
    assert png in written and png.read_bytes()[:4] == b"\x89PNG"
    assert len(collect_runs(runs)) == 2


def test_empty_report(tmp_path):
    write_report(tmp_path / "runs", tmp_path / "b", tmp_path / "out")
    assert "No runs found" in (tmp_path / "out" / "report.md").read_text()


def test_published_figures():
    assert published_f1("zul") == 88.4 and published_f1("tsn") == 87.7 and published_f1("xyz") is None
