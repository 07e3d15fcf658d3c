"""bench/simulator_hardness.py: matching recorded sentences, the per-entity keep split, AUROC and the comparison."""

import numpy as np
import pytest

from .helpers.bench import bench_module

hardness = bench_module("simulator_hardness")

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"]]


def test_locate_matches_exactly_then_in_nfc_and_says_none_otherwise():
    splits = {"train": [["a", "b"], ["Zo\u0301la", "x"]], "dev": [["a", "b"], ["c"]], "test": [["d"]]}
    recorded = [["c"], ["a", "b"], ["Z\u00f3la", "x "], ["nowhere"]]
    assert hardness.locate(recorded, splits) == [("dev", 1), ("train", 0), ("train", 1), None]


def test_sentence_f1_is_exact_span_and_type():
    assert hardness.sentence_f1(GOLD[0], GOLD[0]) == 1.0
    assert hardness.sentence_f1(GOLD[0], ["B-PER", "I-PER", "O", "B-ORG"]) == pytest.approx(0.5)
    assert hardness.sentence_f1(["O"], ["O"]) == 1.0
    assert hardness.sentence_f1(["O", "O"], ["B-PER", "O"]) == 0.0


def test_measure_answers_and_keep_split_on_a_hand_made_example():
    answers = [[tuple(GOLD[0]), ("B-PER", "O", "O", "B-LOC")], [("O", "B-ORG", "O")]]
    scores = {(0, tuple(GOLD[0])): [0.9, 0.1], (0, ("B-PER", "O", "O", "B-LOC")): [0.3, 0.1],
              (1, ("O", "B-ORG", "O")): [0.05]}
    m = hardness.measure_answers(GOLD, answers, scores)
    # sentence 0: PER right (0.9), LOC right (0.1), PER cut short: wrong (0.3), LOC right (0.1); sentence 1: right
    assert m.sentence.tolist() == [0, 0, 0, 0, 1]
    assert m.correct.tolist() == [True, True, False, True, True]
    assert m.p.tolist() == [0.9, 0.1, 0.3, 0.1, 0.05]
    assert m.error.tolist() == pytest.approx([1 - (1.0 + 0.5) / 2, 0.0])
    assert m.kind.tolist() == ["correct", "correct", "boundary", "correct", "correct"]
    assert hardness.wrong_kept([m])["boundary"] == [1.0, 1.0]  # one wrong entity per answer set, p 0.3: kept
    split = hardness.keep_split([m], np.ones(2), threshold=0.2)
    assert split["n"] == 5 and split["precision"] == pytest.approx(0.8)
    assert split["kept_share"] == pytest.approx(0.4)
    assert split["kept_precision"] == pytest.approx(0.5) and split["dropped_precision"] == pytest.approx(1.0)
    # a sentence counted twice (a bootstrap resample) weighs its entities twice
    assert hardness.keep_split([m], np.array([0.0, 2.0]))["dropped_precision"] == 1.0
    assert hardness.keep_split([m], np.array([0.0, 2.0]))["kept_precision"] is None


def test_auroc_on_a_tiny_example_and_when_undefined():
    assert hardness.auroc([True, True, False, False], [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert hardness.auroc([True, False, True, False], [0.9, 0.8, 0.1, 0.2]) == pytest.approx(0.5)
    assert hardness.auroc([True, True], [0.3, 0.4]) is None
    assert hardness.auroc([True, False, False], [0.5, 0.9, 0.1], weight=[1, 0, 1]) == 1.0


def test_spearman_is_undefined_on_constant_input():
    assert hardness.spearman([1, 2, 3, 4], [2, 4, 6, 9])[0] == pytest.approx(1.0)
    assert hardness.spearman([1, 2, 3, 4], [0, 0, 0, 0]) == (None, None)


def test_compare_is_zero_for_the_same_answers_and_verdicts_need_a_clear_interval():
    rng = np.random.default_rng(0)
    n = 30
    m = hardness.Measured(np.repeat(np.arange(n), 2), rng.random(2 * n), rng.random(2 * n) > 0.3, rng.random(n))
    row = hardness.compare(m, [m, m], rng.random(n), n_bootstrap=50)
    assert row["delta"]["kept_precision"] == pytest.approx(0.0) and row["delta"]["rho"] == pytest.approx(0.0)
    assert row["delta_ci"]["auroc"] == pytest.approx((0.0, 0.0))
    assert hardness.verdict(0.05, (0.01, 0.09), 1) == "flatters"
    assert hardness.verdict(-0.05, (-0.09, -0.01), -1) == "flatters"
    assert hardness.verdict(0.05, (0.01, 0.09), -1) == "understates"
    assert hardness.verdict(0.05, (-0.01, 0.09), 1) == "no clear difference"


def test_buckets_and_gold_hits():
    assert [hardness.bucket(c, hardness.FREQ_BUCKETS) for c in (0, 1, 4, 5)] == ["unseen", "1-4x", "1-4x", ">=5x"]
    assert [hardness.bucket(p, hardness.P_BUCKETS) for p in (0.0, 0.19, 0.2, 1.0)] == \
        ["p<0.2", "p<0.2", "p>=0.2", "p>=0.2"]
    rows = hardness.gold_hits(GOLD, [[tuple(GOLD[0]), ("B-PER", "O", "O", "B-LOC")], [("O", "O", "O")]])
    assert rows == [(0, (0, 2, "PER"), 0.5), (0, (3, 4, "LOC"), 1.0), (1, (1, 2, "ORG"), 0.0)]
    assert hardness.surface(["Jo\u0301", "X"], (0, 2, "PER")) == "j\u00f3 x"


def test_error_kinds():
    gold = [(0, 2, "PER"), (3, 4, "LOC")]
    assert hardness.error_kind((0, 2, "PER"), gold) == "correct"
    assert hardness.error_kind((0, 2, "ORG"), gold) == "type"
    assert hardness.error_kind((1, 3, "PER"), gold) == "boundary"
    assert hardness.error_kind((2, 3, "PER"), gold) == "spurious"


def test_verdicts_need_a_clear_flattering_interval_in_two_languages():
    def row(delta, ci):
        figures = {"kept_precision": 0.9, "auroc": 0.9, "rho": 0.1}
        return {"real": figures, "sim": {k: v + delta for k, v in figures.items()},
                "delta": {k: delta for k in figures}, "delta_ci": {k: ci for k in figures}}

    def results(ci_b):
        return {f"m/{lang}": {"learners": {"seed s0": {"in-sample": row(0.05, ci), "LOO": row(0.05, ci)}}}
                for lang, ci in (("bam", (0.01, 0.09)), ("tsn", ci_b))}

    lines, clear = hardness.verdicts(results((0.02, 0.08)))
    assert clear and "**flattered**" in lines[0] and "bam, tsn" in lines[0]
    assert "**no clear difference**" in lines[2]  # Spearman: simulated higher does not flatter
    assert not hardness.verdicts(results((-0.01, 0.09)))[1]
    assert "1/1" in hardness.summary_table(results((0.02, 0.08)))[2]
