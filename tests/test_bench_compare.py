"""bench/compare_strategies.py: the mean over rounds is paired by seed, over the seeds with every round."""

import pytest

from .conftest import ROOT
from .helpers.bench import bench_module

compare = bench_module("compare_strategies")


def test_curve_means_keep_only_seeds_with_every_round():
    per_round = {0: {0: 50.0, 1: 50.0}, 1: {0: 60.0, 1: 62.0, 2: 70.0}, 2: {0: 64.0, 1: 66.0}}
    assert compare.curve_means(per_round, rounds=2) == {0: pytest.approx(62.0), 1: pytest.approx(64.0)}
    assert compare.curve_means(per_round, rounds=0) == {}


def test_mean_over_rounds_is_a_paired_interval(monkeypatch):
    curves = {"mc-entropy": {1: {0: 61.0, 1: 63.0, 2: 65.0}, 2: {0: 71.0, 1: 73.0, 2: 74.0}},
              "entropy": {1: {0: 60.0, 1: 62.0, 2: 63.0}, 2: {0: 70.0, 1: 71.0, 2: 73.0}}}
    monkeypatch.setattr(compare, "f1_by_round",
                        lambda run, name, seeds, rounds: ({k: {seeds[0]: v[seeds[0]]}
                                                           for k, v in curves[run.name.split("-gold-")[1]
                                                                              .rsplit("-seed", 1)[0]].items()}, None))
    monkeypatch.setattr(compare, "find", lambda roots, name: roots[0] / name)
    opts = type("Opts", (), {"strategies": ["mc-entropy"], "against": ["entropy"], "seeds": [0, 1, 2],
                             "rounds": 2, "runs": [ROOT]})()
    lines = compare.lang_lines(opts, "tsn")
    # per seed: (1 + 1) / 2 = 1.0, (1 + 2) / 2 = 1.5, (2 + 1) / 2 = 1.5 -> mean 1.33 over n=3
    summary = [line for line in lines if "mean over rounds 1-2" in line]
    assert len(summary) == 1 and "+1.33 [+0.62, +2.05] (n=3)" in summary[0]


def test_summary_has_a_row_per_language_with_paired_means(monkeypatch):
    curves = {"mnlp": {1: {0: 61.0, 1: 63.0}, 2: {0: 71.0, 1: 73.0}},
              "entropy": {1: {0: 60.0, 1: 62.0}, 2: {0: 70.0, 1: 71.0}}}
    monkeypatch.setattr(compare, "load_f1", lambda opts, lang: curves)
    opts = type("Opts", (), {"strategies": ["mnlp"], "against": ["entropy"], "seeds": [0, 1], "rounds": 2,
                             "langs": ["tsn", "zul"]})()
    lines = compare.summary_lines(opts)
    rows = [line for line in lines if line.startswith("| tsn") or line.startswith("| zul")]
    # mnlp: seed 0 66.0, seed 1 68.0; entropy: 65.0, 66.5; paired: +1.0, +1.5 -> +1.25 over n=2
    assert len(rows) == 2 and all("+1.25 [" in row and "(n=2)" in row for row in rows)
    assert all(row.split(" | ")[1].startswith("65.75") and row.split(" | ")[2].startswith("67.00") for row in rows)
    table = [line for line in lines if line.startswith("|")]
    assert len({line.count("|") for line in table}) == 1  # header, separator and rows have the same columns


def test_headroom_is_full_data_minus_random_and_gains_are_shares_of_it():
    loaded = {"zul": {"random": {1: {0: 60.0, 1: 62.0, 2: 70.0}, 2: {0: 64.0, 1: 66.0, 2: 74.0}},  # 62, 64, 72
                      "entropy": {1: {0: 63.0, 1: 64.0}, 2: {0: 67.0, 1: 68.0}}}}  # 65, 66 (seeds 0, 1 only)
    opts = type("Opts", (), {"strategies": [], "against": ["entropy", "random"], "rounds": 2, "langs": ["zul"]})()
    lines = compare.headroom_lines(opts, loaded, {"zul": [72.0, 74.0]})  # full-data 73
    row = next(line for line in lines if line.startswith("| zul"))
    # random over its 3 seeds: 66.00 -> headroom 7.00, +4 needs 57%; entropy pairs with random on seeds 0, 1:
    # gain +3, +2 -> +2.50, random there 63.00 -> headroom 10.00 -> 25%
    assert "| 66.00 ± 5.29 (n=3) | 7.00 | 57% |" in row
    assert "+2.50 [" in row and "(n=2) (25% of 10.00) |" in row
    table = [line for line in lines if line.startswith("|")]
    assert len({line.count("|") for line in table}) == 1


def test_no_headroom_gives_no_share():
    loaded = {"zul": {"random": {1: {0: 80.0}}, "entropy": {1: {0: 81.0}}}}
    opts = type("Opts", (), {"strategies": [], "against": ["entropy", "random"], "rounds": 1, "langs": ["zul"]})()
    row = next(line for line in compare.headroom_lines(opts, loaded, {"zul": [75.0]}) if line.startswith("| zul"))
    assert row.endswith("| -5.00 | - | - |")


def test_full_needs_summary_and_random():
    with pytest.raises(SystemExit):
        compare.main(["--runs", str(ROOT), "--full", str(ROOT)])


def test_summary_pools_languages_into_one_paired_sample(monkeypatch):
    curves = {"tsn": {"mnlp": {1: {0: 61.0, 1: 63.0}}, "entropy": {1: {0: 60.0, 1: 62.5}}},
              "zul": {"mnlp": {1: {0: 50.0, 1: 52.0}}, "entropy": {1: {0: 48.0, 1: 51.5}}}}
    monkeypatch.setattr(compare, "load_f1", lambda opts, lang: curves[lang])
    opts = type("Opts", (), {"strategies": ["mnlp"], "against": ["entropy"], "seeds": [0, 1], "rounds": 1,
                             "langs": ["tsn", "zul"]})()
    pooled = next(line for line in compare.summary_lines(opts) if line.startswith("| all, pooled"))
    # differences +1.0, +0.5 (tsn), +2.0, +0.5 (zul): mean +1.00 over n=4
    assert "+1.00 [" in pooled and "(n=4)" in pooled
