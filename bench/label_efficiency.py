"""Label efficiency: entropy vs random selection with the gold oracle, against the full-data learner.

Runs (or resumes) one loop per language, strategy, seed and learner-dev source with the project's
defaults (CNN learner, entity-rich 5% seed, 5% of the pool per round, 5 rounds, the learner's dev
data carved out of the labelled set), trains the full-data baseline per language and seed with a
converged schedule, then prints Markdown tables:

- per round: labelled sentences (the learner's dev included), test entity F1 of each strategy (mean
  ± sd over seeds), the paired difference entropy - random on the same seeds with a 95% t-interval,
  and how well the learner's uncertainty predicts an entity error on the TEST split (never used for
  training or model selection), beside two trivial scores (sentence length, predicted entities);
- with ``--dev labelled oracle``: what the gold dev split (free labels) changes, paired by seed.

    python bench/label_efficiency.py --langs bam tsn zul --seeds 0 1 2 3 4 --jobs 2

Every run is resumable, so the script can be stopped and started again.
"""
import argparse
import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import srsly

from jobs import run, run_all
from spacy_llm_loop.loop.settings import run_name
from stats import mean_over_rounds, mean_sd, paired

# The full-data learner is trained to convergence (patience), not with the per-round cap.
FULL_SCHEDULE = ["--training.max_steps", "20000", "--training.patience", "1600", "--training.eval_frequency", "200"]
AUROCS = (("uncertainty_auroc", "mean entropy"), ("uncertainty_auroc_length", "length"),
          ("uncertainty_auroc_n_ents", "predicted entities"), ("uncertainty_auroc_with_entity", "entropy, >=1 entity"))


def run_folder(lang: str, strategy: str, seed: int, dev: str) -> str:
    """The loop's default run folder name (the loop's own naming, so the two never drift apart)."""
    settings = SimpleNamespace(lang=lang, run_name=None, seed=seed, warm_start=False, dev=dev,
                               learner_config=Path("configs/learner-cnn.cfg"))
    return run_name(settings, SimpleNamespace(name="gold"), SimpleNamespace(name=strategy))


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The loop commands, seed by seed (finished loops return at once: they resume), then the full-data ones."""
    todo = []
    for seed, lang in itertools.product(opts.seeds, opts.langs):
        for dev, strategy in itertools.product(opts.dev, opts.strategies):
            if dev == "oracle" and strategy != "entropy":
                continue  # the oracle-dev arm measures what free dev labels change, on the default strategy
            todo.append((run_folder(lang, strategy, seed, dev),
                         ["loop", "--lang", lang, "--annotator", "gold", "--strategy", strategy, "--seed", str(seed),
                          "--loop.dev", dev,
                          "--runs-dir", str(opts.out / "runs"), "--rounds", str(opts.rounds)]))
    for seed, lang in itertools.product(opts.seeds if opts.full_seeds is None else opts.full_seeds, opts.langs):
        full = opts.out / "baselines" / f"{lang}-full-seed{seed}"
        if not opts.no_full and not (full / "metrics.json").exists():
            todo.append((f"{lang}-full-seed{seed}",
                         ["train-full", lang, "--seed", str(seed), "--output", str(full), *FULL_SCHEDULE]))
    return todo


class Arm:
    """One strategy and dev source on one language: per round and seed, F1, labelled size and AUROCs."""

    def __init__(self, root: Path, lang: str, strategy: str, dev: str, seeds: Sequence[int], rounds: int = 5) -> None:
        self.f1: Dict[int, Dict[int, float]] = {}
        self.size: Dict[int, List[int]] = {}
        self.auroc: Dict[str, Dict[int, List[float]]] = {key: {} for key, _ in AUROCS}
        for seed in seeds:
            path = root / run_folder(lang, strategy, seed, dev) / "loop.json"
            records = srsly.read_json(path)["rounds"] if path.exists() else []
            if len(records) < rounds + 1:
                continue  # an unfinished run (still running, or stopped): left out, so every round has the same seeds
            for r in records:
                self.f1.setdefault(r["round"], {})[seed] = 100 * r["test"]["ents_f"]
                self.size.setdefault(r["round"], []).append(r.get("n_labelled", r["n_train"]))
                for key, _ in AUROCS:
                    if r["test"].get(key) is not None:
                        self.auroc[key].setdefault(r["round"], []).append(r["test"][key])

    def mean_over_rounds(self, rounds: Sequence[int]) -> Dict[int, float]:
        """Per seed, the mean F1 over ``rounds`` (seeds that finished all of them)."""
        return mean_over_rounds(self.f1, rounds)


def capped_rounds(root: Path, lang: str, strategies: Sequence[str], seeds: Sequence[int]) -> Tuple[int, int]:
    """How many rounds of the default-dev runs the learner's ``max_steps`` stopped, of how many."""
    from thinc.api import Config

    from spacy_llm_loop.learner.progress import training_summary

    capped = total = 0
    for strategy, seed in itertools.product(strategies, seeds):
        for log in sorted((root / run_folder(lang, strategy, seed, "labelled")).glob("round-*/train.log")):
            config = log.parent / "model" / "config.cfg"
            if config.exists():
                training = Config().from_disk(config, interpolate=False)["training"]
                capped += training_summary(log, training)["stopped_by"] == "max_steps"
                total += 1
    return capped, total


def full_data(root: Path, lang: str) -> Tuple[List[float], List[str]]:
    """Test F1 of every full-data baseline of ``lang`` and how each training stopped."""
    f1, stopped = [], []
    for path in sorted((root / "baselines").glob(f"{lang}-full-seed*/metrics.json")):
        metrics = srsly.read_json(path)
        f1.append(100 * metrics["test"]["ents_f"])
        training = metrics.get("training") or {}
        stopped.append(f"{training.get('stopped_by')} (best step {training.get('best_step')}, "
                       f"last evaluation {training.get('last_step')})")
    return f1, stopped


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """The tables and summary lines for one language."""
    arms = {s: Arm(opts.out / "runs", lang, s, "labelled", opts.seeds, opts.rounds) for s in opts.strategies}
    entropy, random_ = arms.get("entropy"), arms.get("random")
    rounds = sorted(entropy.f1) if entropy else []
    lines = [f"### {lang}", "", "| round | labelled sentences | " + " | ".join(f"{s} F1" for s in opts.strategies)
             + " | entropy - random (paired, 95% CI) | " + " | ".join(f"AUROC {name}" for _, name in AUROCS) + " |",
             "|---" * (3 + len(opts.strategies) + len(AUROCS)) + "|"]
    for k in rounds:
        diff = paired(entropy.f1[k], random_.f1.get(k, {})) if entropy and random_ else "-"
        aurocs = [f"{np.mean(entropy.auroc[key][k]):.3f}" if entropy.auroc[key].get(k) else "-" for key, _ in AUROCS]
        lines.append(f"| {k} | {np.mean(entropy.size[k]):.0f} | "
                     + " | ".join(mean_sd(list(arms[s].f1.get(k, {}).values())) for s in opts.strategies)
                     + f" | {diff} | " + " | ".join(aurocs) + " |")
    finished = "; ".join(f"{s} {sorted(arms[s].f1.get(0, {}))}" for s in opts.strategies)
    lines += ["", f"- seeds with all {opts.rounds} rounds finished: {finished}"]
    query_rounds = [k for k in rounds if k >= 1]
    full, stopped = full_data(opts.out, lang)
    lines += ["", "- AUROC: how well a test sentence's score predicts that the entropy arm's model got one of its "
                  "entities wrong (mean over seeds); length and predicted entities are trivial baselines",
              f"- full train data + gold dev (early stopping), converged schedule: {mean_sd(full)}; "
                  f"stopped by: {', '.join(stopped) or '-'}"]
    if entropy and random_ and query_rounds:
        lines.append(f"- entropy - random, mean over rounds {query_rounds[0]}-{query_rounds[-1]}, paired by seed: "
                     f"{paired(entropy.mean_over_rounds(query_rounds), random_.mean_over_rounds(query_rounds))} F1")
    if entropy and rounds and full:
        last = list(entropy.f1[rounds[-1]].values())
        lines.append(f"- last round with entropy ({np.mean(entropy.size[rounds[-1]]):.0f} labelled sentences) / "
                     f"full data: {100 * np.mean(last) / np.mean(full):.1f}%")
    capped, total = capped_rounds(opts.out / "runs", lang, opts.strategies, opts.seeds)
    if total:
        lines.append(f"- rounds whose training the per-round step cap ended (patience would have gone on): "
                     f"{capped} of {total}")
    if "oracle" in opts.dev and entropy:
        lines += ["", oracle_table(opts, lang, entropy)]
    return lines + [""]


def oracle_table(opts: argparse.Namespace, lang: str, honest: "Arm") -> str:
    """What the gold dev split changes: entropy with the oracle dev against the default, paired by seed."""
    oracle = Arm(opts.out / "runs", lang, "entropy", "oracle", opts.seeds, opts.rounds)
    if not oracle.f1:
        return f"(no finished oracle-dev runs for {lang})"
    rows = ["| round | labelled (default) | labelled (oracle dev: + gold dev, uncounted) | F1, learner dev from "
            "labelled | F1, oracle dev | oracle - default (paired, 95% CI) |", "|---|---|---|---|---|---|"]
    for k in sorted(oracle.f1):
        default_size = f"{np.mean(honest.size[k]):.0f}" if honest.size.get(k) else "-"
        rows.append(f"| {k} | {default_size} | {np.mean(oracle.size[k]):.0f} | "
                    f"{mean_sd(list(honest.f1.get(k, {}).values()))} | {mean_sd(list(oracle.f1[k].values()))} | "
                    f"{paired(oracle.f1[k], honest.f1.get(k, {}))} |")
    return "\n".join(rows)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=["entropy", "random"])
    parser.add_argument("--dev", nargs="+", default=["labelled"], choices=["labelled", "oracle"],
                        help="Learner-dev sources to run (oracle: entropy only, to measure what it changes)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="Runs in parallel (one core each)")
    parser.add_argument("--no-full", action="store_true", help="Do not train the full-data baselines")
    parser.add_argument("--full-seeds", nargs="+", type=int, default=None,
                        help="Seeds of the full-data baselines (default: --seeds); they run after the loops")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--table-only", action="store_true", help="Print the table of what is there")
    opts = parser.parse_args(argv)
    if not opts.table_only:
        for lang in opts.langs:
            if not (Path("corpus") / lang / "train.spacy").exists():
                run((f"convert-{lang}", ["convert", lang]), opts.out / "logs")
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    header = (f"Label efficiency, gold oracle, CNN learner, seeds {opts.seeds}; learner dev carved out of the "
              "labelled set (counted) unless marked oracle; AUROCs on the test split\n")
    text = header + "\n" + "\n".join(line for lang in opts.langs for line in lang_table(opts, lang))
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "label_efficiency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
