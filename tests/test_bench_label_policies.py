"""bench/label_policies.py: arms, run folders named as the loop names them, paired verdicts against the targets."""
import argparse
from pathlib import Path

import pytest
import srsly

from .helpers.bench import bench_module, gold_corpus

bench = bench_module("label_policies")


def test_arms_and_folders_follow_the_loops_naming() -> None:
    assert bench.parse_arm("disagree") == ("disagree", "entropy", "labelled")
    assert bench.parse_arm("disagree-gold3@entropy-quality") == ("disagree-gold3", "entropy-quality", "labelled")
    assert bench.parse_arm("disagree-gold3+seeddev") == ("disagree-gold3", "entropy", "seed")
    with pytest.raises(SystemExit, match="unknown label policy 'nope'"):
        bench.parse_arm("nope")
    with pytest.raises(SystemExit, match=r"unknown arm suffix '\+golddev'"):
        bench.parse_arm("disagree+golddev")
    assert bench.folder("tsn", "sim-gpt-4-turbo", "trust", "entropy", 0) == "tsn-sim-gpt-4-turbo-entropy-seed0"
    assert bench.folder("tsn", "sim-gpt-4-turbo", "disagree", "entropy", 1) == \
        "tsn-sim-gpt-4-turbo-entropy-lp-disagree-seed1"
    assert bench.folder("tsn", "gold", "disagree", "entropy", 1) == "tsn-gold-entropy-seed1"  # gold: no policy
    assert bench.folder("tsn", "sim-gpt-4-turbo", "disagree", "entropy", 1, "seed") == \
        "tsn-sim-gpt-4-turbo-entropy-seeddev-lp-disagree-seed1"


@pytest.mark.parametrize("values, target, expected", [
    ((7.0, 6.5, 7.5), 6.0, "**met**"), ((6.5, 5.0, 8.0), 6.0, "not shown"), ((5.0, 3.0, 7.0), 6.0, "missed")])
def test_verdict_needs_the_interval_above_the_target(values, target, expected) -> None:
    stats = bench_module("stats")
    assert stats.verdict(*values, target) == expected
    assert stats.verdict(7.0, 7.0, 7.0, 6.0, n=1) == "n=1: no interval"


def test_share_and_gain_cells_pair_the_seeds_both_have() -> None:
    stats = bench_module("stats")
    assert stats.share_cells({0: 9.0, 1: 9.5, 2: 5.0}, {0: 10.0, 1: 10.0}, 90.0) == "92.5% [60.7, 124.3] | not shown"
    assert stats.gain_cells({0: 9.0, 1: 9.5}, {0: 2.0, 1: 2.0, 3: 1.0}, 6.0) == "+7.25 [+4.07, +10.43] | not shown"
    assert stats.share_cells({0: 9.0}, {1: 10.0}, 90.0) == stats.gain_cells({}, {}, 6.0) == "- | -"


def _run(root, name, f1s, cost=0.5):
    rounds = [{"round": k, "n_labelled": 100 * (k + 1), "test": {"ents_f": f, "ents_p": f + 0.05, "ents_r": f - 0.05,
                                                                 "paper_token_f1_entity_positions": {"weighted": f}},
               "annotation": None if k == 0 else {"ents_f": 0.6, "usage": {"cost_usd": cost}},
               "taught": {"round": None if k == 0 else {"ents_f": 0.9, "missing_share": 0.1}}}
              for k, f in enumerate(f1s)]
    (root / name).mkdir(parents=True)
    srsly.write_json(root / name / "loop.json", {"rounds": rounds})
    # GPT-4-Turbo: $0.01 per 1K input tokens. The audit (round 0) billed; round 1 answered from the shared cache
    ledger = [{"model": "sim-gpt-4-turbo", "cache": "miss", "outcome": "ok", "input_tokens": 25000,
               "output_tokens": 0, "context": {"round": 0}},
              {"model": "sim-gpt-4-turbo", "cache": "hit", "outcome": "cache_hit", "input_tokens": 1000 * cost * 100,
               "output_tokens": 0, "context": {"round": 1}}]
    srsly.write_jsonl(root / name / "llm-usage.jsonl", ledger)


def test_tables_pair_each_arm_with_trust_and_gold(tmp_path) -> None:
    runs = tmp_path / "runs"
    for seed, (gold, trust, policy) in enumerate([(0.70, 0.60, 0.66), (0.72, 0.61, 0.69)]):
        _run(runs, f"tsn-gold-entropy-seed{seed}", [0.55, gold])
        _run(runs, f"tsn-sim-gpt-4-turbo-entropy-seed{seed}", [0.55, trust])
        _run(runs, f"tsn-sim-gpt-4-turbo-entropy-lp-disagree-seed{seed}", [0.55, policy])
        _run(runs, f"tsn-sim-gpt-4-turbo-entropy-seeddev-lp-disagree-seed{seed}", [0.55, policy + 0.01 * (seed + 1)])
    opts = argparse.Namespace(out=tmp_path, gold_runs=None, trust_runs=None, seeds=[0, 1], rounds=1,
                              arms=["trust", "disagree", "disagree+seeddev"], annotator="sim-gpt-4-turbo",
                              against="disagree")
    lines = bench.lang_lines(opts, "tsn", None)
    seeddev = next(line for line in lines if line.startswith("| disagree+seeddev | 69.00"))
    assert seeddev.endswith("| +1.50 [-4.85, +7.85] (n=2) | +1.50 [-4.85, +7.85] (n=2) |")  # +1 and +2 against disagree
    row = next(line for line in lines if line.startswith("| disagree | 1 |"))
    assert "+7.00 [" in row  # 66 - 60 and 69 - 61: +6, +8
    # taught F1, missing, received F1, $ so far (the audit's 0.25 + round 1's 0.50 from the cache at its price)
    assert "| 90.0 | 10.0% | 60.0 | 0.75 |" in row
    summary = next(line for line in lines if line.startswith("| disagree | 67.50"))
    assert "+12.50 [" in summary and "95.1% [" in summary  # 66/70 and 69/72 of gold: 94.3%, 95.8%
    assert "| disagree | 60.0 / 50.0 | 72.5 / 62.5 |" in "\n".join(lines)  # precision and recall, seed and last round


def test_the_page_names_its_command_title_and_note(tmp_path) -> None:
    """The page is written by the script: its title, its exact (quoted) command and the note file's text."""
    runs = tmp_path / "runs"
    for seed in (0, 1):
        _run(runs, f"tsn-gold-entropy-seed{seed}", [0.55, 0.70])
        _run(runs, f"tsn-sim-gpt-4-turbo-entropy-seed{seed}", [0.55, 0.60])
    (tmp_path / "note.md").write_text("**Runs of older code.** Read with care.\n", encoding="utf-8")
    doc = tmp_path / "page.md"
    bench.main(["--langs", "tsn", "--seeds", "0", "1", "--arms", "trust", "--rounds", "1", "--out", str(tmp_path),
                "--report-only", "--title", "A screen, two seeds", "--note-file", str(tmp_path / "note.md"),
                "--doc", str(doc)])
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("## A screen, two seeds\n") and "--title 'A screen, two seeds'" in text
    assert "**Runs of older code.** Read with care." in text and "### tsn" in text
    assert "pooled" not in text  # only with --against and more than one language


def test_against_must_name_one_of_the_arms(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--against disagree is not one of the arms"):
        bench.main(["--langs", "tsn", "--arms", "trust", "--against", "disagree", "--out", str(tmp_path),
                    "--report-only"])


def test_pooled_table_pairs_every_language_and_seed(tmp_path) -> None:
    """Against ``--against``, the (language, seed) pairs of all languages form one paired sample; the last round
    and the mean over rounds are told apart; a language without the arm adds no pairs."""
    runs = tmp_path / "runs"
    for lang, gains in (("tsn", (0.01, 0.03)), ("zul", (0.02, 0.04)), ("bam", ())):
        for seed in (0, 1):
            _run(runs, f"{lang}-sim-gpt-4-turbo-entropy-lp-disagree-seed{seed}", [0.55, 0.60, 0.60])
        for seed, gain in enumerate(gains):  # round 1 +2 points, the last round +gain
            _run(runs, f"{lang}-sim-gpt-4-turbo-entropy-lp-disagree-gold3-seed{seed}", [0.55, 0.62, 0.60 + gain])
    opts = argparse.Namespace(out=tmp_path, gold_runs=None, trust_runs=None, seeds=[0, 1], rounds=2,
                              langs=["tsn", "zul", "bam"], arms=["disagree", "disagree-gold3"],
                              annotator="sim-gpt-4-turbo", against="disagree")
    lines = bench.pooled_lines(opts)
    assert lines[0] == "### All languages, pooled: each arm against disagree"
    row = next(line for line in lines if line.startswith("| disagree-gold3 |"))
    # last round +1, +3, +2, +4: +2.50; mean over rounds 1-2 (+2 and the last round's) / 2: +2.25
    assert row.startswith("| disagree-gold3 | 4 (tsn 2, zul 2, bam 0) | +2.50 [") and "| +2.25 [" in row
    assert not any(line.startswith("| disagree |") for line in lines)


def test_the_llm_benchmarks_name_the_policy_their_folders_assume() -> None:
    """Their runs' folders name a policy; the loop must be told it, not fall back on the loop's default."""
    llm_labels, review = bench_module("llm_labels"), bench_module("review_budget")
    opts = argparse.Namespace(seeds=[0], langs=["tsn"], rounds=1, out=Path("out"), gold_runs=None,
                              full_seeds=[], full_from=None)
    for name, args in llm_labels.jobs(opts):
        assert args[args.index("--label-policy") + 1] == "trust"
    for policy in (review.POLICY, "disagree-both-gold3"):
        opts = argparse.Namespace(seeds=[0], langs=["tsn"], rounds=1, out=Path("out"), arms=["10%:doubt"],
                                  label_policy=policy)
        [(name, args)] = review.jobs(opts)
        assert args[args.index("--label-policy") + 1] == policy and f"-lp-{policy}-rv10pct-" in name


def test_the_review_benchmark_reads_the_runs_of_its_policy(tmp_path) -> None:
    """``review_budget.Arm`` reads the folders its ``--label-policy`` names, and only those: the runs of another
    policy are not this arm's seeds."""
    review = bench_module("review_budget")
    gold_corpus(tmp_path / "corpus", [("tsn-train-0", ["A", "b", "c"], [(0, 1, "PER")])])
    for seed, policy, f1 in ((0, "disagree-both-gold3", 0.66), (1, review.POLICY, 0.60)):
        run = tmp_path / "runs" / review.folder("tsn", review.LLM, "10%", "doubt", seed, policy)
        rounds = [{"round": k, "test": {"ents_f": f}, "review": {"accepted": k, "changed": k,
                                                                  "person_hours": {"central": 0.1 * k}}}
                  for k, f in enumerate([0.55, f1])]
        (run / "round-01").mkdir(parents=True)
        srsly.write_json(run / "loop.json", {"rounds": rounds, "corpus": str(tmp_path / "corpus" / "tsn")})
        srsly.write_json(run / "round-01" / "selection.json", {"selected": [{"id": "tsn-train-0"}]})
    arm = review.Arm(tmp_path / "runs", "tsn", review.LLM, "10%", "doubt", [0, 1], 1, "disagree-both-gold3")
    assert arm.seeds == [0] and arm.f1[1] == {0: 66.0} and arm.reviewed[1] == {0: 1} and arm.words == {0: 3}
    assert review.Arm(tmp_path / "runs", "tsn", review.LLM, "10%", "doubt", [0, 1], 1).seeds == [1]
