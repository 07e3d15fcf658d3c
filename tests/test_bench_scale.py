"""bench/subsample_cost.py, bench/scale_round.py and bench/annotation_scale.py: their run names, pairing,
measurements and checks."""
import argparse
import os

import pytest
import srsly

from .helpers.bench import bench_module

subsample_cost = bench_module("subsample_cost")
scale_round = bench_module("scale_round")


def _runs(root, lang, share, f1_by_seed, score_seconds=2.0):
    for seed, f1 in f1_by_seed.items():
        rounds = [{"round": k, "test": {"ents_f": v / 100}, "seconds": {"score": 0.0 if k == 0 else score_seconds}}
                  for k, v in enumerate(f1)]
        folder = root / subsample_cost.folder(lang, share, seed)
        folder.mkdir(parents=True)
        srsly.write_json(folder / "loop.json", {"rounds": rounds})


def test_subsample_arms_are_paired_with_the_whole_pool_by_seed(tmp_path) -> None:
    assert subsample_cost.folder("tsn", "all", 0) == "tsn-gold-entropy-seed0"
    assert subsample_cost.folder("tsn", "25%", 1) == "tsn-gold-entropy-sub25pct-seed1"
    runs = tmp_path / "runs"
    _runs(runs, "tsn", "all", {0: [50, 60, 70], 1: [50, 62, 72]})
    _runs(runs, "tsn", "25%", {0: [50, 59, 68], 1: [50, 60, 70], 2: [50, 61]}, score_seconds=0.5)  # seed 2 unfinished
    opts = argparse.Namespace(out=tmp_path, seeds=[0, 1, 2], shares=["25%"], rounds=2)
    lines = subsample_cost.lang_lines(opts, "tsn")
    row = [line for line in lines if line.startswith("| subsample 25% | [0, 1]")]
    # mean over rounds 1-2: seed 0 (59 + 68) / 2 - 65 = -1.5; seed 1 65 - 67 = -2.0
    assert len(row) == 1 and "-1.75 [" in row[0] and "| 0.5 |" in row[0]
    assert any(line.startswith("| whole pool | [0, 1] | - | - | 2.0 |") for line in lines)


def test_a_round_is_timed_from_the_end_of_round_0_to_the_end_of_round_1(tmp_path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("23:59:50 [x] round 0/1: 500 labelled sentences (0 annotated; learner dev: 100), test ...\n"
                   "00:01:05 [x] round 1/1: 1000 labelled sentences (500 annotated; learner dev: 200), test ...\n")
    assert scale_round.round_seconds(log) == pytest.approx(75.0)


def test_memory_is_read_for_a_process_and_its_tree() -> None:
    main, tree = scale_round._tree_memory(os.getpid())
    assert main > 10 * 2**20 and tree > 10 * 2**20


def test_annotation_at_scale_keeps_budget_cache_and_answers_through_a_kill(small_corpus, tmp_path) -> None:
    """The benchmark's four legs at a small size: its own checks pass (it exits otherwise), and the page says so."""
    annotation_scale = bench_module("annotation_scale")
    page = tmp_path / "page.md"
    argv = ["--requests", "120", "--latency", "0.05", "--concurrency", "2", "--corpus", str(small_corpus), "--work",
            str(tmp_path / "work"), "--doc", str(page)]
    annotation_scale.main(argv)
    text = page.read_text(encoding="utf-8")
    annotation_scale.main(argv + ["--report-only"])  # the same page again from the run's files
    assert page.read_text(encoding="utf-8") == text
    assert "| every sentence answered exactly once, as the server answered | 240 of 240 |" in text
    assert "| leg 2 (the same budget again): requests the server received | 0 |" in text
    assert "| distinct prompts / cache entries | 120 / 120 |" in text and "| leg 1 (budget $" in text
    assert "SIMULATED" in text and "SYNTHETIC" in text
