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
