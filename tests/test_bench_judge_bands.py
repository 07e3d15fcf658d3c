"""bench/judge_bands.py: the LLM's entities scored against gold, by the judging learner's probability and type."""
import pytest
import srsly

from .helpers.bench import bench_module, gold_corpus

bench = bench_module("judge_bands")


@pytest.mark.parametrize("p, expected", [(0.0, "p = 0"), (0.01, "0 < p < 0.05"), (0.05, "0.05 ≤ p < 0.2"),
                                         (0.1999, "0.05 ≤ p < 0.2"), (0.2, "0.2 ≤ p < 0.5"), (0.5, "p ≥ 0.5"),
                                         (1.0, "p ≥ 0.5")])
def test_bands_split_where_a_policy_compares(p, expected) -> None:
    assert bench.band(p) == expected  # a policy makes missing what lies below keep_above (p < 0.2: missing)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_a_probability_out_of_range_is_an_error(p) -> None:
    with pytest.raises(ValueError, match="must lie in"):
        bench.band(p)


def _corpus(root) -> None:
    gold_corpus(root, [("s1", ["Ama", "Zulu", "went"], [(0, 2, "PER")]),
                       ("s2", ["in", "Durban", "today"], [(1, 2, "LOC"), (2, 3, "DATE")])])


def _run(runs, seed, n_rounds, judged, audit=True):
    run = runs / bench.folder("tsn", bench.LLM, "disagree-gold3", "entropy", seed)
    (run / "round-01").mkdir(parents=True)
    loop = {"rounds": [{"round": k} for k in range(n_rounds + 1)]}
    if audit:
        loop["audit"] = {"unreliable": ["DATE"]}
    srsly.write_json(run / "loop.json", loop)
    srsly.write_jsonl(run / "round-01" / "judged.jsonl", judged)


def test_entities_are_counted_right_only_on_exact_span_and_type(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    _run(tmp_path / "runs", 0, 1, [
        {"id": "s1", "llm": [[0, 2, "PER", 0.0], [2, 3, "ORG", 0.0]], "learner": []},  # right, spurious
        {"id": "s2", "llm": [[1, 2, "LOC", 0.9], [1, 3, "DATE", 0.1]], "learner": []}])  # right, wrong extent
    _run(tmp_path / "runs", 1, 0, [{"id": "s1", "llm": [[0, 2, "PER", 0.0]], "learner": []}])  # unfinished
    text = "\n".join(bench.lang_lines(tmp_path / "runs", tmp_path / "corpus", "tsn", "disagree-gold3", [0, 1, 2],
                                      rounds=1))
    assert "Seeds 0, rounds 1-1 pooled" in text  # seed 1 is unfinished, seed 2 has no run
    assert "| PER | 100% (1) | - | - | - | - | 0 of 1 audited seeds |" in text
    assert "| DATE | - | - | 0% (1) | - | - | 1 of 1 audited seeds |" in text
    assert "| all | 50% (2) | - | 0% (1) | - | 100% (1) | - |" in text


def test_runs_without_an_audit_say_so(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    _run(tmp_path / "runs", 0, 1, [{"id": "s1", "llm": [[0, 2, "PER", 0.7]], "learner": []}], audit=False)
    text = "\n".join(bench.lang_lines(tmp_path / "runs", tmp_path / "corpus", "tsn", "disagree-gold3", [0], 1))
    assert "| PER | - | - | - | - | 100% (1) | - |" in text


def test_a_judged_sentence_missing_from_gold_names_its_line(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    (run / "round-01").mkdir(parents=True)
    (run / "round-01" / "judged.jsonl").write_text(
        '{"id": "s1", "llm": [], "learner": []}\n\n{"id": "nope", "llm": [], "learner": []}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"judged.jsonl:3: sentence 'nope'"):
        bench.count(run, bench.gold_spans(tmp_path / "corpus", "tsn"), 1)


def test_an_arm_that_rejudges_cannot_be_pooled(tmp_path) -> None:
    with pytest.raises(SystemExit, match="cannot be pooled"):
        bench.lang_lines(tmp_path, tmp_path, "tsn", "disagree-rejudge", [0])
