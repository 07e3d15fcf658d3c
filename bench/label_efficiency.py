"""Label efficiency: entropy vs random selection with the gold oracle, against the full-data learner.

Runs (or resumes) one loop per language, strategy and seed with the project's
default settings (CNN learner, entity-rich 5% seed, 5% of the pool per round,
5 rounds), trains the full-data baseline per language and seed with spaCy's
default, converged schedule, then prints a Markdown table. Every run is
resumable, so the script can be stopped and started again.

    python bench/label_efficiency.py --langs tsn zul --seeds 0 1 2 --jobs 2
"""
import argparse
import itertools
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import srsly

# The full-data learner is trained to convergence (spaCy's default schedule), not with the per-round cap.
FULL_SCHEDULE = ["--training.max_steps", "20000", "--training.patience", "1600", "--training.eval_frequency", "200"]


def run(job: Tuple[str, List[str]], logs: Path) -> None:
    """Run a project command, one BLAS thread per process so that parallel jobs do not fight over cores."""
    name, args = job
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("a") as f:
        subprocess.run([sys.executable, "-m", "spacy_llm_loop", *args], env=env, stdout=f, stderr=f, check=True)
    print(f"finished {name}", flush=True)


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The full-data and loop commands (finished loops return at once: they resume)."""
    todo = []
    for lang, seed in itertools.product(opts.langs, opts.seeds):
        full = opts.out / "baselines" / f"{lang}-full-seed{seed}"
        if not (full / "metrics.json").exists():
            todo.append((f"{lang}-full-seed{seed}",
                         ["train-full", lang, "--seed", str(seed), "--output", str(full), *FULL_SCHEDULE]))
        for strategy in opts.strategies:
            todo.append((f"{lang}-{strategy}-seed{seed}",
                         ["loop", "--lang", lang, "--strategy", strategy, "--seed", str(seed),
                          "--runs-dir", str(opts.out / "runs"), "--rounds", str(opts.rounds)]))
    return todo


def mean_sd(values: List[float]) -> str:
    """``mean ± sd (n=..)``."""
    if not values:
        return "-"
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.2f} ± {sd:.2f} (n={len(values)})"


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """Per round: labelled sentences and test entity F1 of each strategy; then the summary lines."""
    f1: Dict[str, Dict[int, List[float]]] = {s: {} for s in opts.strategies}
    sizes: Dict[int, List[int]] = {}
    aurocs: Dict[int, List[float]] = {}
    for strategy, seed in itertools.product(opts.strategies, opts.seeds):
        path = opts.out / "runs" / f"{lang}-gold-{strategy}-seed{seed}" / "loop.json"
        for r in srsly.read_json(path)["rounds"] if path.exists() else []:
            f1[strategy].setdefault(r["round"], []).append(100 * r["test"]["ents_f"])
            sizes.setdefault(r["round"], []).append(r["n_train"])
            if r["dev"].get("uncertainty_auroc") is not None:
                aurocs.setdefault(r["round"], []).append(r["dev"]["uncertainty_auroc"])
    full = [100 * srsly.read_json(p)["test"]["ents_f"]
            for p in sorted((opts.out / "baselines").glob(f"{lang}-full-seed*/metrics.json"))]
    lines = [f"### {lang}", "", "| round | labelled sentences | " + " | ".join(f"{s} F1" for s in opts.strategies)
             + " | entropy - random | uncertainty AUROC (dev) |", "|---" * (4 + len(opts.strategies)) + "|"]
    gains = []
    for k in sorted(sizes):
        means = {s: float(np.mean(f1[s][k])) if f1[s].get(k) else float("nan") for s in opts.strategies}
        gain = means.get("entropy", float("nan")) - means.get("random", float("nan"))
        gains += [gain] if k >= 1 else []
        lines.append(f"| {k} | {np.mean(sizes[k]):.0f} | "
                     + " | ".join(mean_sd(f1[s].get(k, [])) for s in opts.strategies)
                     + f" | {gain:+.2f} | {np.mean(aurocs.get(k, [float('nan')])):.3f} |")
    last = max(sizes, default=0)
    entropy_last = float(np.mean(f1.get("entropy", {}).get(last, [float("nan")])))
    full_mean = float(np.mean(full)) if full else float("nan")
    return lines + [
        "", f"- full train data, gold labels, converged schedule: {mean_sd(full)}",
        f"- entropy - random, mean over rounds 1-{last}: {np.nanmean(gains) if gains else float('nan'):+.2f} F1",
        f"- last round with entropy / full data: {100 * entropy_last / full_mean:.1f}%",
        "- uncertainty AUROC: how well the learner's mean token entropy on a dev sentence predicts that its "
        "entities are wrong (any error), mean over the runs of both strategies", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=["entropy", "random"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="Runs in parallel (one core each)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--table-only", action="store_true", help="Print the table of what is there")
    opts = parser.parse_args()
    if not opts.table_only:
        for lang in opts.langs:
            if not (Path("corpus") / lang / "train.spacy").exists():
                run((f"convert-{lang}", ["convert", lang]), opts.out / "logs")
        with ThreadPoolExecutor(opts.jobs) as pool:
            list(pool.map(lambda job: run(job, opts.out / "logs"), jobs(opts)))
    text = "\n".join(line for lang in opts.langs for line in lang_table(opts, lang))
    (opts.out / "label_efficiency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
