"""The paper's main experiment, offline: active learning with a SIMULATED GPT-4-Turbo's labels.

Runs (or resumes) the loop on the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the
pool per round by mean token entropy, 5 rounds, the learner's dev data carved out of the labelled set)
with two annotators on the same seeds, their answers taught as they are (label policy ``trust``, the paper's):

- ``sim-gpt-4-turbo``: the SIMULATED GPT-4-Turbo (gold labels with GPT-4-Turbo's measured errors, the
  real prompt, parser, cache and ledger; see ``components/simulate/model.py``);
- ``gold``: the gold oracle (the upper bound; the same runs ``bench/label_efficiency.py`` makes).

and the full-data learner (converged schedule). It prints a Markdown table per language: per round,
labelled sentences and test entity F1 of each arm, the paired difference LLM - gold on the same seeds
with a 95% t-interval, and the quality of the labels the loop received (token accuracy including O and
entity F1 against gold, share dropped), then the last round against full data and against gold, beside
the paper's figures (which used another learner and another F1: see the reference notes).

    python bench/llm_labels.py --langs bam tsn zul --seeds 0 1 2 3 4 --jobs 2 --out bench/results

Every run is resumable, so the script can be stopped and started again. ``--report-only`` prints the
tables from the runs present.
"""
import argparse
import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Sequence, Tuple

import numpy as np
import srsly

from jobs import run_all
from label_efficiency import FULL_SCHEDULE, full_data
from spacy_llm_loop.loop.settings import run_name
from stats import mean_sd, paired

LLM = "sim-gpt-4-turbo"
# The paper (arXiv 2404.02261; ../shared/reference/paper_reference.md): afro-xlmr-mini learner, F1 over entity
# positions (not entity-level F1), micro: LLM-labelled AL, full train data, gold-label AL at the same size;
# the share of queried sentences dropped for a wrong length. Label accuracy on queried sentences: 82-92%.
PAPER = {"bam": (0.76, 0.82, 0.84, 9.0), "tsn": (0.75, 0.87, 0.83, 4.6), "zul": (0.77, 0.90, 0.88, 2.5)}


def folder(lang: str, annotator: str, seed: int) -> str:
    """The loop's default run folder name (the loop's own naming)."""
    settings = SimpleNamespace(lang=lang, run_name=None, seed=seed, warm_start=False, dev="labelled",
                               learner_config=Path("configs/learner-cnn.cfg"))
    return run_name(settings, SimpleNamespace(name=annotator), SimpleNamespace(name="entropy"))


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """Loop commands seed by seed (the LLM arm first; finished loops return at once), then full-data ones."""
    todo = []
    arms = (LLM, "gold") if opts.gold_runs is None else (LLM,)  # finished gold runs elsewhere are only read
    for seed, lang, annotator in itertools.product(opts.seeds, opts.langs, arms):
        args = ["loop", "--lang", lang, "--annotator", annotator, "--strategy", "entropy", "--seed", str(seed),
                "--runs-dir", str(opts.out / "runs"), "--rounds", str(opts.rounds), "--label-policy", "trust"]
        if annotator == LLM:  # the simulated model's prompt cache, kept with the results
            args += ["--annotator.cache_path", str(opts.out / "cache" / "llm.sqlite")]
        todo.append((folder(lang, annotator, seed), args))
    for seed, lang in itertools.product(opts.full_seeds if opts.full_from is None else [], opts.langs):
        full = opts.out / "baselines" / f"{lang}-full-seed{seed}"
        if not (full / "metrics.json").exists():
            todo.append((f"{lang}-full-seed{seed}",
                         ["train-full", lang, "--seed", str(seed), "--output", str(full), *FULL_SCHEDULE]))
    return todo


class Runs:
    """One annotator's finished runs on one language: per round and seed, F1, size and annotation quality."""

    def __init__(self, root: Path, lang: str, annotator: str, seeds: Sequence[int], rounds: int) -> None:
        self.f1: Dict[int, Dict[int, float]] = {}
        self.size: Dict[int, Dict[int, int]] = {}
        self.quality: Dict[int, Dict[str, List[float]]] = {}
        for seed in seeds:
            path = root / folder(lang, annotator, seed) / "loop.json"
            records = srsly.read_json(path)["rounds"] if path.exists() else []
            if len(records) < rounds + 1:
                continue  # unfinished: left out, so that every round has the same seeds
            for r in records:
                self.f1.setdefault(r["round"], {})[seed] = 100 * r["test"]["ents_f"]
                self.size.setdefault(r["round"], {})[seed] = r["n_labelled"]
                a = r.get("annotation")
                if a and a["n_requested"]:
                    q = self.quality.setdefault(r["round"], {"acc": [], "ents_f": [], "dropped": []})
                    q["acc"].append(100 * a["token_accuracy"])
                    q["ents_f"].append(100 * a["ents_f"])
                    q["dropped"].append(100 * a["n_dropped"] / a["n_requested"])

    @property
    def seeds(self) -> List[int]:
        """Seeds with every round finished."""
        return sorted(self.f1.get(0, {}))

    def pooled(self, key: str) -> List[float]:
        """A label-quality figure over every query round and seed."""
        return [v for q in self.quality.values() for v in q[key]]


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """The table and summary lines of one language."""
    llm = Runs(opts.out / "runs", lang, LLM, opts.seeds, opts.rounds)
    gold = Runs(opts.gold_runs or opts.out / "runs", lang, "gold", opts.seeds, opts.rounds)
    lines = [f"### {lang}", "", "| round | labelled, LLM arm | labelled, gold arm | F1, SIMULATED GPT-4-Turbo labels | "
             "F1, gold labels | LLM - gold (paired, 95% CI) | label token accuracy | label entity F1 | dropped % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(llm.f1):
        q = llm.quality.get(k)
        quality = (f"{np.mean(q['acc']):.1f} | {np.mean(q['ents_f']):.1f} | {np.mean(q['dropped']):.1f}" if q
                   else "gold seed | gold seed | -")
        gold_size = f"{np.mean(list(gold.size[k].values())):.0f}" if gold.size.get(k) else "-"
        lines.append(f"| {k} | {np.mean(list(llm.size[k].values())):.0f} | {gold_size} | "
                     f"{mean_sd(list(llm.f1[k].values()))} | {mean_sd(list(gold.f1.get(k, {}).values()))} | "
                     f"{paired(llm.f1[k], gold.f1.get(k, {}))} | {quality} |")
    full, _ = full_data(opts.full_from or opts.out, lang)
    lines += ["", f"- seeds with all rounds finished: LLM arm {llm.seeds}, gold arm {gold.seeds}; "
                  f"full-data learner: {mean_sd(full)} (gold dev for early stopping, converged schedule)"]
    if llm.f1:
        last = max(llm.f1)
        llm_last = np.mean(list(llm.f1[last].values()))
        shared = sorted(set(llm.f1[last]) & set(gold.f1.get(last, {})))
        ratio_gold = [llm.f1[last][s] / gold.f1[last][s] for s in shared]
        paper = PAPER.get(lang)
        lines.append(f"- last round: LLM-labelled / full data {100 * llm_last / np.mean(full):.1f}% (target >= 90%)"
                     if full else "- last round: no full-data baseline")
        if ratio_gold:
            lines.append(f"- last round: LLM-labelled / gold-labelled, paired by seed: "
                         f"{100 * np.mean(ratio_gold):.1f}% (min {100 * min(ratio_gold):.1f}%; target >= 95%)")
        lines.append(f"- labels received over rounds 1-{last} and seeds: token accuracy {mean_sd(llm.pooled('acc'))}, "
                     f"entity F1 {mean_sd(llm.pooled('ents_f'))}, dropped {mean_sd(llm.pooled('dropped'))}%")
        if paper:
            lines.append(f"- the paper (afro-xlmr-mini, F1 over entity positions, one run): LLM-labelled / full "
                         f"{100 * paper[0] / paper[1]:.1f}%, / gold-labelled {100 * paper[0] / paper[2]:.1f}%, "
                         f"dropped {paper[3]}%, label accuracy 82-92%")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--full-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (each uses one BLAS thread)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--gold-runs", type=Path, default=None,
                        help="Read the gold arm's finished runs from this folder (e.g. bench/label_efficiency.py's "
                             "runs) instead of running them in --out")
    parser.add_argument("--full-from", type=Path, default=None,
                        help="Read the full-data baselines from <this>/baselines instead of training them in --out")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args()
    if not opts.report_only:
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    lines = [f"## Active learning with SIMULATED GPT-4-Turbo labels against gold labels (entropy, CNN learner, "
             f"seeds {opts.seeds})", ""]
    for lang in opts.langs:
        lines += lang_table(opts, lang)
    text = "\n".join(lines)
    print(text)
    (opts.out / "llm_labels.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
