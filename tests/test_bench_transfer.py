"""bench/transfer.py: the full-data learner with transfer is paired with the one without, by seed."""
import argparse

import pytest
import srsly

from .helpers.bench import bench_module

transfer = bench_module("transfer")


def _metrics(folder, f1):
    folder.mkdir(parents=True)
    srsly.write_json(folder / "metrics.json", {"test": {"ents_f": f1}, "training": {}})


def test_full_data_with_transfer_is_paired_by_seed(tmp_path):
    full_from, out = tmp_path / "gold", tmp_path / "tx"
    for seed, f1 in [(0, 0.76), (1, 0.77), (2, 0.78), (3, 0.80)]:  # seed 3 has no transfer twin
        _metrics(full_from / "baselines" / f"zul-full-seed{seed}", f1)
    for seed, f1 in [(0, 0.77), (1, 0.785), (2, 0.80)]:
        _metrics(out / "baselines-transfer" / f"zul-full-tx-auto-seed{seed}", f1)
    _metrics(out / "baselines-transfer" / "zul-full-tx-nya+swa-seed0", 0.10)  # another source set: not read
    assert transfer.full_by_seed(out / "baselines-transfer", "zul-full-tx-auto-seed") == \
        {0: 77.0, 1: 78.5, 2: 80.0}
    opts = argparse.Namespace(out=out, full_from=full_from, baseline_runs=tmp_path / "none", seeds=[0, 1, 2],
                              rounds=5, transfer="auto", transfer_ratio=0.0)
    lines = transfer.lang_table(opts, "zul")
    paired = next(line for line in lines if "transfer - none (paired" in line)
    # differences +1.0, +1.5, +2.0: mean +1.50, sem 0.289, t(0.975, 2) = 4.303 -> [+0.26, +2.74]
    assert "+1.50 [+0.26, +2.74] (n=3)" in paired
    assert "78.50" in next(line for line in lines if line.startswith("- full-data learner:"))


def test_pretrain_bench_with_ner_from_names_its_folders_and_pairs_test_and_dev(tmp_path):
    bench = bench_module("pretrain")
    out, gold = tmp_path / "ner", tmp_path / "gold"
    opts = argparse.Namespace(out=out, ner_from="auto", epochs=20, seeds=[0, 1, 2], rounds=0, baseline_runs=gold,
                              langs=["tsn", "zul"])
    assert [name for name, _ in bench.pretrain_jobs(opts)] == ["pretrain-tsn", "pretrain-zul"]
    name, args = bench.pretrain_job(opts, "tsn")
    assert args == ["pretrain", "tsn", "--ner-from", "auto", "--output", str(out / "pretrain" / "tsn-ner-auto")]
    assert bench.weights(opts, "tsn") == out / "pretrain" / "tsn-ner-auto" / "weights" / "model-last.bin"
    (out / "pretrain" / "tsn-ner-auto").mkdir(parents=True)
    srsly.write_json(out / "pretrain" / "tsn-ner-auto" / "pretrain.json",
                     {"sentences": {"swa": 100, "zul": 50}, "source_dev_ents_f": 0.8, "seconds": 9})
    assert [name for name, _ in bench.pretrain_jobs(opts)] == ["pretrain-zul"]  # tsn's is finished: reused
    for seed, (base, pt) in enumerate([(60.0, 65.0), (61.0, 67.0), (62.0, 67.0)]):
        for root, name, f1 in ((gold, f"tsn-gold-entropy-seed{seed}", base),
                               (out / "runs", f"tsn-gold-entropy-pt-seed{seed}", pt)):
            (root / name).mkdir(parents=True)
            srsly.write_json(root / name / "loop.json", {"rounds": [{"round": 0, "test": {"ents_f": f1 / 100},
                                                                     "dev": {"ents_f": (f1 - 10) / 100}}]})
    lines = bench.lang_table(opts, "tsn")
    assert "gold NER of swa, zul (150 sentences, their dev entity F1 80.00)" in lines[0]
    row = next(line for line in lines if line.startswith("| 0 |"))
    # differences +5, +6, +5 on both splits: mean +5.33, sem 0.333, t(0.975, 2) = 4.303 -> [+3.90, +6.77]
    assert row.count("+5.33 [+3.90, +6.77] (n=3)") == 2
    assert bench.pretrain_job(argparse.Namespace(**{**vars(opts), "ner_from": ""}), "tsn")[1][2:4] == ["--epochs", "20"]
    pool = argparse.Namespace(**{**vars(opts), "ner_from": "", "langs": ["tsn"]})
    (out / "pretrain" / "tsn").mkdir(parents=True)
    srsly.write_json(out / "pretrain" / "tsn" / "pretrain.json", {"epochs": 20})
    assert bench.pretrain_jobs(pool) == []  # the same epochs: reused
    with pytest.raises(SystemExit, match="pretrained for 20 epochs, not --epochs 5"):
        bench.pretrain_jobs(argparse.Namespace(**{**vars(pool), "epochs": 5}))


def test_full_data_bench_plans_what_is_missing_and_pairs_both_splits(tmp_path):
    bench = bench_module("full_data")
    out = tmp_path / "full"
    opts = argparse.Namespace(out=out, langs=["tsn"], seeds=[0, 1, 2], ner_from="auto", loop_runs=tmp_path / "runs",
                              rounds=1)
    assert [name for name, _ in bench.pretrain_jobs(opts)] == ["pretrain-tsn"]
    planned = dict(bench.train_jobs(opts))
    weights = str(out / "pretrain" / "tsn-ner-auto" / "weights" / "model-last.bin")
    assert planned["tsn-full-ner-auto-seed1"][-2:] == ["--paths.init_tok2vec", weights]
    assert "--paths.init_tok2vec" not in planned["tsn-full-seed1"]
    assert "20000" in planned["tsn-full-seed1"] and len(planned) == 6
    (out / "pretrain" / "tsn-ner-auto").mkdir(parents=True)
    srsly.write_json(out / "pretrain" / "tsn-ner-auto" / "pretrain.json", {"langs": ["swa", "zul"]})
    for seed, (none, src) in enumerate([(78.0, 79.0), (79.0, 80.5), (78.5, 80.5)]):
        for folder, f1 in ((out / "baselines" / f"tsn-full-seed{seed}", none),
                           (out / "ntx" / f"tsn-full-ner-auto-seed{seed}", src)):
            folder.mkdir(parents=True)
            srsly.write_json(folder / "metrics.json", {"test": {"ents_f": f1 / 100}, "dev": {"ents_f": f1 / 100 + .05},
                                                       "training": {"stopped_by": "patience", "best_step": 3000}})
        run = tmp_path / "runs" / f"tsn-gold-entropy-pt-seed{seed}"
        run.mkdir(parents=True)
        srsly.write_json(run / "loop.json", {"rounds": [{"round": 0, "test": {"ents_f": 0.6}},
                                                        {"round": 1, "test": {"ents_f": (src - 2 + seed) / 100}}]})
    assert bench.pretrain_jobs(opts) == [] and bench.train_jobs(opts) == []  # finished: nothing runs again
    lines = bench.lang_table(opts, "tsn")
    assert "source tok2vec from swa, zul" in lines[0] and "| 1 | 79.00 | 80.50 | 84.00 | 85.50 |" in lines
    # differences +1.0, +1.5, +2.0 on both splits: mean +1.50, [+0.26, +2.74]
    assert next(line for line in lines if "paired by seed" in line).count("+1.50 [+0.26, +2.74] (n=3)") == 2
    # none 78.0, 79.0, 78.5: sem 0.289 -> [77.26, 79.74], below 80; source 79.0, 80.5, 80.5: sem 0.5 -> [77.85, 82.15]
    assert any("none: 78.50 [77.26, 79.74], missed by 1.50" in line for line in lines)
    assert any("source tok2vec: 80.00 [77.85, 82.15], not shown either way" in line for line in lines)
    assert bench.target_verdict([80.5, 81.0, 81.5]) == "81.00 [79.76, 82.24], not shown either way (mean +1.00 from it)"
    assert bench.target_verdict([81.0, 81.5, 82.0]) == "81.50 [80.26, 82.74], met"
    assert "patience x3, best step 3000-3000" in next(line for line in lines if line.startswith("- none:"))
    # loop's last round: 77.0, 79.5, 80.5 (mean 79.0); full data with the tok2vec 80.0: +1.00
    assert "same tok2vec - it (Welch 95% CI): +1.00 [" in next(line for line in lines if "round 1 (" in line)
    weights = out / "pretrain" / "tsn-ner-auto" / "weights" / "model-last.bin"  # now the weights exist: runs
    weights.parent.mkdir(parents=True)  # whose run.json records others are left out
    weights.write_bytes(b"tok2vec")
    from spacy_llm_loop.fileio import file_digest
    for seed in (0, 1, 2):
        digest = "0123456789abcdef" if seed == 2 else file_digest(weights)
        srsly.write_json(tmp_path / "runs" / f"tsn-gold-entropy-pt-seed{seed}" / "run.json", {"init_tok2vec": digest})
    loop, other = bench.last_round(tmp_path / "runs", "tsn", [0, 1, 2], 1, file_digest(weights))
    assert loop == {0: 77.0, 1: 79.5} and other == 1
    loop_line = next(line for line in bench.lang_table(opts, "tsn") if "round 1 (" in line)
    assert "(1 runs left out: other weights)" in loop_line
