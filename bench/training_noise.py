"""Training noise: retrain one round's exact labelled set with other learner seeds and report the test F1 spread.

Nothing but the learner's own randomness (initial weights, batch order, dropout) changes between the
retrainings: same train and dev files, same config. The spread says how far a figure can move when
nothing that the loop chose has changed (a rerun on another machine, whose floating-point kernels
differ, moves it by the same mechanism), and so how large an effect must be before it is measured.

    python bench/training_noise.py bench/results/runs/tsn-gold-entropy-seed0 --round 5 --seeds 0 1 2 3 4

Run it from the folder the loop ran in (the run's paths are relative to it).
"""
import argparse
import os
from pathlib import Path
from typing import Dict, List

import numpy as np
import srsly
from thinc.api import Config

from spacy_llm_loop.evaluation.evaluate import evaluate_model
from spacy_llm_loop.learner.train import train_pipeline


def retrain(run: Path, k: int, seed: int, out: Path) -> Dict[str, float]:
    """Train round ``k``'s labelled set of ``run`` with learner seed ``seed``; test F1 and stopping step."""
    rd = run / f"round-{k:02d}"
    saved = srsly.read_json(run / "run.json")
    if "warm" in run.name:
        raise SystemExit(f"{run}: a warm-started round continues from the previous model; retraining it from the "
                         "config would not be the same training")
    paths = Config().from_str(saved["loop_config"], interpolate=False)["paths"]
    corpus = Path(paths["corpus"])
    model = out / f"seed{seed}" / "model"
    if not model.exists():
        dev = rd / "dev.spacy" if (rd / "dev.spacy").exists() else corpus / "dev.spacy"
        overrides = saved.get("learner_overrides") or {}
        overrides = {**overrides, "training.seed": seed, "system.seed": seed}
        train_pipeline(Path(paths["learner_config"]), model,
                       train_path=rd / "train.spacy", dev_path=dev, seed=seed, overrides=overrides,
                       log_path=model.parent / "train.log")
    return {"seed": seed, "test_f1": 100 * evaluate_model(model, corpus / "test.spacy")["ents_f"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="A run folder")
    parser.add_argument("--round", type=int, default=5)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=None, help="Default: bench/results/noise/<run>-round<k>")
    opts = parser.parse_args()
    out = opts.out or Path("bench/results/noise") / f"{opts.run.name}-round{opts.round}"
    os.makedirs(out, exist_ok=True)
    rows: List[Dict[str, float]] = [retrain(opts.run, opts.round, seed, out) for seed in opts.seeds]
    recorded = srsly.read_json(opts.run / "loop.json")["rounds"][opts.round]["test"]["ents_f"] * 100
    f1 = np.array([r["test_f1"] for r in rows])
    lines = [f"Training noise: {opts.run.name}, round {opts.round}'s labelled set retrained with learner seeds "
             f"{opts.seeds} (same data, same config)", "", "| learner seed | test entity F1 |", "|---|---|"]
    lines += [f"| {r['seed']} | {r['test_f1']:.2f} |" for r in rows]
    lines += ["", f"- recorded in the run: {recorded:.2f}",
              f"- retrained: mean {f1.mean():.2f}, sd {f1.std(ddof=1) if len(f1) > 1 else 0.0:.2f}, "
              f"range {f1.min():.2f}-{f1.max():.2f} "
              f"({f1.max() - f1.min():.2f} points)"]
    text = "\n".join(lines)
    (out / "training_noise.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
