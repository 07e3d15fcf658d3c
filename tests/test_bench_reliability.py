"""bench/reliability_figure.py draws one figure from the bins bench/calibration.py writes."""

import srsly

from .helpers.bench import bench_module

figure = bench_module("reliability_figure")


def test_draws_a_grid_from_the_written_bins(tmp_path):
    bins = [{"low": 0.0, "high": 0.5, "n": 3, "confidence": 0.3, "accuracy": 0.33},
            {"low": 0.5, "high": 1.0, "n": 5, "confidence": 0.8, "accuracy": 0.8}]
    for name in ("reliability_tsn.json", "reliability_tsn-mc_dropout.json"):
        srsly.write_json(tmp_path / name, {"lang": "tsn", "bins": {"raw": bins, "calibrated": bins}})
    out = tmp_path / "fig" / "reliability.png"
    figure.main(["--results", str(tmp_path), "--langs", "tsn", "--estimators", "beam", "mc_dropout",
                 "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reads_what_calibration_writes(tmp_path):
    """The JSON that bench/calibration.py writes next to its figure is what the grid reads."""
    calibration = bench_module("calibration")
    results = [{"raw": ([0.2, 0.9, 0.95], [False, True, True]), "calibrated": ([0.3, 0.8, 0.85], [False, True, True])}]
    calibration.plot("tsn", results, tmp_path / "reliability_tsn-mc_dropout.png", "mc_dropout")
    written = srsly.read_json(tmp_path / "reliability_tsn-mc_dropout.json")
    assert written["estimator"] == "mc_dropout" and [b["n"] for b in written["bins"]["raw"]] == [1, 2]
    out = tmp_path / "grid.png"
    figure.main(["--results", str(tmp_path), "--langs", "tsn", "--estimators", "mc_dropout", "--out", str(out)])
    assert out.exists()


def test_a_failed_platt_fit_is_left_out_of_the_calibrated_curve(tmp_path):
    """A model without calibrated confidences adds nothing to the Platt curve (not its raw ones)."""
    calibration = bench_module("calibration")
    results = [{"raw": ([0.2, 0.9], [False, True]), "calibrated": ([0.3, 0.8], [False, True])},
               {"raw": ([0.95, 0.97, 0.99], [True, True, False]), "calibrated": None}]
    calibration.plot("tsn", results, tmp_path / "reliability_tsn.png")
    bins = srsly.read_json(tmp_path / "reliability_tsn.json")["bins"]
    assert sum(b["n"] for b in bins["raw"]) == 5
    assert sum(b["n"] for b in bins["calibrated"]) == 2
    written = srsly.read_json(tmp_path / "reliability_tsn.json")
    assert (written["models"], written["fitted"]) == (2, 1)


def test_the_ece_after_platt_counts_fitted_models_only():
    calibration = bench_module("calibration")
    base = {"auroc": {}, "auroc_with_entity": {}, "ece_raw": 0.2, "seconds": {"uncertainty": 2.0, "plain": 1.0}}
    results = [{**base, "ece": 0.05, "fitted": {"a": 1.0, "b": 0.0}}, {**base, "ece": 0.2, "fitted": None}]
    (line,) = calibration.lang_lines("tsn", results, measures=())
    assert "| 5.00 ± 0.00 (n=1) | 1/2 |" in line  # the failed fit's raw ECE (20) is not averaged in
