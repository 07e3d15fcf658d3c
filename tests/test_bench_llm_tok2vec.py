"""bench/llm_tok2vec.py: the loops it runs (seed by seed, named as the loop names them) and its paired tables."""
import argparse
from pathlib import Path

import pytest
import srsly

from .helpers.bench import bench_module, gold_corpus

bench = bench_module("llm_tok2vec")


def _opts(tmp_path: Path, **kwargs) -> argparse.Namespace:
    settings = dict(langs=["tsn", "zul"], seeds=[0, 1], policy="disagree-both-gold3", ner_from="auto", rounds=1,
                    out=tmp_path / "tx", base_runs=tmp_path / "base")
    return argparse.Namespace(**{**settings, **kwargs})


def test_loops_run_seed_by_seed_from_the_source_tok2vec(tmp_path) -> None:
    todo = bench.jobs(_opts(tmp_path))[1:]  # after the check
    assert [name for name, _ in todo] == [
        "tsn-gold-entropy-pt-seed0", "tsn-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed0",
        "zul-gold-entropy-pt-seed0", "zul-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed0",
        "tsn-gold-entropy-pt-seed1", "tsn-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed1",
        "zul-gold-entropy-pt-seed1", "zul-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed1"]
    weights = str(tmp_path / "tx" / "pretrain" / "zul-ner-auto" / "weights" / "model-last.bin")
    for name, args in todo:
        assert args[args.index("--init-tok2vec") + 1].endswith(f"{name[:3]}-ner-auto/weights/model-last.bin")
        assert args[args.index("--runs-dir") + 1] == str(tmp_path / "tx" / "runs")
    llm = dict(todo)["zul-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed1"]
    assert llm[llm.index("--label-policy") + 1] == "disagree-both-gold3" and weights in llm
    assert [name for name, _ in bench.pretrain.pretrain_jobs(bench.pretrain_options(_opts(tmp_path), [0]))] == \
        ["pretrain-tsn", "pretrain-zul"]


def _run(root: Path, name: str, f1s, labelled=None) -> None:
    rounds = [{"round": k, "n_labelled": 100 * (k + 1), "annotation": None,
               "test": {"ents_f": f, "ents_p": f, "ents_r": f, "paper_token_f1_entity_positions": {"weighted": f}}}
              for k, f in enumerate(f1s)]
    (root / name / "round-01").mkdir(parents=True)
    srsly.write_json(root / name / "loop.json", {"rounds": rounds})
    if labelled is not None:
        srsly.write_jsonl(root / name / "round-01" / "labelled.jsonl", labelled)


def _task(sid, spans, missing=()):
    """An LLM-labelled training sentence: its taught spans and the tokens its policy made missing."""
    removed = [[s, e, "PER"] for s, e, _ in missing]  # the answer's entity there
    meta = {"sentence_id": sid, "source": "llm:sim", "learner_split": "train",
            "label_policy": {"missing": [list(m) for m in missing], "removed": removed}}
    return {"spans": [{"token_start": s, "token_end": e - 1, "label": label} for s, e, label in spans], "meta": meta}


def test_tables_pair_each_arm_with_and_without_the_tok2vec(tmp_path) -> None:
    opts = _opts(tmp_path, langs=["tsn"], corpus=tmp_path / "corpus")
    gold_corpus(opts.corpus, [("s1", ["Ama", "Zulu", "went"], [(0, 2, "PER")]), ("s2", ["Thabo", "left"],
                                                                                 [(0, 1, "PER")])])
    taught = [_task("s1", [(0, 2, "PER")]), _task("s2", [])]  # s2's PER taught as O
    judged = [_task("s1", [(0, 2, "PER")]), _task("s2", [], missing=[(0, 1, "learner-rejects")])]
    for seed, (llm, llm_pt, gold, gold_pt) in enumerate([(0.62, 0.66, 0.70, 0.73), (0.64, 0.69, 0.72, 0.74)]):
        _run(opts.base_runs, f"tsn-gold-entropy-seed{seed}", [0.55, gold])
        _run(opts.base_runs, f"tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-seed{seed}", [0.55, llm], taught)
        _run(opts.out / "runs", f"tsn-gold-entropy-pt-seed{seed}", [0.58, gold_pt])
        _run(opts.out / "runs", f"tsn-sim-gpt-4-turbo-entropy-pt-lp-disagree-both-gold3-seed{seed}", [0.58, llm_pt],
             judged)
    lines = bench.lang_lines(opts, "tsn")
    # round 1: LLM with - without +4 and +5; gold +3 and +2
    assert "| 1 | 63.00 ± 1.41 (n=2) | 67.50 ± 2.12 (n=2) | 71.00 ± 1.41 (n=2) | 73.50 ± 0.71 (n=2) | +4.50 [" \
        in "\n".join(lines)
    assert any(line.startswith("- gold oracle, mean over rounds 1-1, source tok2vec - none (paired): +2.50 [")
               for line in lines)
    plain = next(line for line in lines if line.startswith("| LLM | "))
    # 62/70 and 64/72 of the gold oracle: 88.6%, 88.9%; last - seed round +7, +9; half the gold entities taught
    assert plain.startswith("| LLM | - | 88.7% [") and "| missed | 88.7% [" in plain and "| +8.00 [" in plain
    assert plain.endswith("| 50.00 ± 0.00 (n=2) | 0.00 ± 0.00 (n=2) | 50.00 ± 0.00 (n=2) |")
    pt = next(line for line in lines if line.startswith("| LLM, source tok2vec |"))
    # 66/70, 69/72 of the gold oracle without the tok2vec (94.3%, 95.8%); 66/73, 69/74 with it (90.4%, 93.2%)
    assert pt.startswith("| LLM, source tok2vec | +4.50 [") and "| 95.1% [" in pt and "| 91.8% [" in pt
    assert pt.endswith("| 50.00 ± 0.00 (n=2) | 50.00 ± 0.00 (n=2) | 0.00 ± 0.00 (n=2) |")


def test_the_check_reruns_the_seed_round_of_the_runs_read(tmp_path) -> None:
    opts = _opts(tmp_path)
    name, args = bench.jobs(opts)[0]
    assert name == "check-tsn-gold-entropy-seed0" and args[args.index("--rounds") + 1] == "0"
    assert bench.check_lines(opts) == ["- check of the runs without the tok2vec: not run", ""]
    _run(opts.base_runs, "tsn-gold-entropy-seed0", [0.55])
    _run(opts.out / "check", "tsn-gold-entropy-seed0", [0.56])
    assert "read 55.00, rerun today 56.00 (DIFFERS" in bench.check_lines(opts)[0]


def test_bad_options_stop_before_anything_runs(tmp_path) -> None:
    base = ["--out", str(tmp_path / "tx"), "--report-only"]
    with pytest.raises(SystemExit, match="unknown label policy 'nope'"):
        bench.main(["--policy", "nope", "--base-runs", str(tmp_path), *base])
    with pytest.raises(SystemExit, match="--ner-from names the languages"):
        bench.main(["--ner-from", " ", "--base-runs", str(tmp_path), *base])
    with pytest.raises(SystemExit, match="no such folder"):
        bench.main(["--base-runs", str(tmp_path / "missing"), *base])
