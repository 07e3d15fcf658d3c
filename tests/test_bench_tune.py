"""bench/tune_cnn.py: variants are paired with the base config by seed, with a 95% t-interval."""

from .helpers.bench import bench_module

tune = bench_module("tune_cnn")


def _row(lang, variant, seed, f1):
    return {"run": f"{lang}-gold-entropy-seed{seed}", "variant": variant, "seed": seed, "dev_f1": f1,
            "train_seconds": 50.0}


def test_table_pairs_by_seed_with_an_interval_and_the_range():
    rows = [_row("zul", "base", s, f) for s, f in [(0, 50.0), (1, 52.0), (2, 54.0)]]
    rows += [_row("zul", "width128", s, f) for s, f in [(0, 51.0), (1, 53.5), (2, 56.0)]]
    rows.append(_row("zul", "width128", 3, 90.0))  # no base for seed 3: left out of the pairing
    lines = tune.table(rows, ["zul"], "dev_f1").splitlines()
    assert "95% CI" in lines[0]
    width = next(line for line in lines if line.startswith("| width128 "))
    # differences +1.0, +1.5, +2.0: mean +1.50, sem 0.289, t(0.975, 2) = 4.303 -> [+0.26, +2.74]
    assert "+1.50 [+0.26, +2.74] (n=3); range [+1.00, +2.00]" in width
    assert "| 53.50 |" in width  # the mean over the paired seeds only


def test_run_path_takes_a_run_from_the_first_folder_that_holds_it(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    (second / "zul-gold-entropy-seed5").mkdir(parents=True)
    (second / "zul-gold-entropy-seed5" / "loop.json").write_text("{}")
    assert tune.run_path([first, second], "zul-gold-entropy-seed5") == second / "zul-gold-entropy-seed5"
    assert tune.run_path([first, second], "zul-gold-entropy-seed6") == first / "zul-gold-entropy-seed6"
