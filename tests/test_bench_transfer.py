"""bench/transfer.py: the full-data learner with transfer is paired with the one without, by seed."""
import argparse
import importlib.util
import sys

import srsly

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))  # transfer.py imports label_efficiency from its folder
spec = importlib.util.spec_from_file_location("transfer_bench", ROOT / "bench" / "transfer.py")
transfer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(transfer)


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
    spec = importlib.util.spec_from_file_location("pretrain_bench", ROOT / "bench" / "pretrain.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
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
