"""What candidate subsampling costs in label efficiency: gold-oracle active learning, whole pool against a share.

Runs (or resumes) the loop on the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the pool per
round by mean token entropy, 5 rounds, the learner's dev data carved out of the labelled set) with the gold
oracle, once scoring the whole pool each round and once per ``--shares`` scoring only a seeded random share of it
(``--loop.subsample``; the draw changes each round). Every arm is given the same gold seed, the same learner seed
and the same number of labelled sentences per round; only which sentences the strategy may choose from differs.
The gold oracle isolates the selection: no annotator noise.

It prints, and writes to ``--doc``, per language: per round and arm, test entity F1 (mean ± sd over seeds) and the
paired difference from the whole pool (95% t-interval over seeds); then the mean over rounds 1-5 and the last
round, paired, and the seconds spent scoring per round.

    python bench/subsample_cost.py --langs tsn zul --seeds 0 1 2 --shares 25% 50% --jobs 2 \\
        --out bench/results/subsample --doc docs/benchmarks/subsample_cost.md

Every run is resumable; ``--report-only`` writes the tables from the runs present (a seed counts for an arm once
all its rounds are finished).
"""
import argparse
import itertools
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import srsly

from jobs import run_all
from spacy_llm_loop.loop.settings import parse_subsample, run_name
from stats import mean_over_rounds, mean_sd, paired

WHOLE = "all"


def folder(lang: str, share: str, seed: int) -> str:
    """The loop's default run folder name for a gold-oracle run (the loop's own naming)."""
    settings = SimpleNamespace(lang=lang, run_name=None, seed=seed, warm_start=False, dev="labelled",
                               learner_config=Path("configs/learner-cnn.cfg"), subsample=parse_subsample(share))
    return run_name(settings, SimpleNamespace(name="gold", gives_gold=True), SimpleNamespace(name="entropy"))


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """Loop commands seed by seed, language by language, arm by arm (finished loops return at once)."""
    todo = []
    for seed, lang, share in itertools.product(opts.seeds, opts.langs, [WHOLE, *opts.shares]):
        args = ["loop", "--lang", lang, "--annotator", "gold", "--strategy", "entropy", "--seed", str(seed),
                "--rounds", str(opts.rounds), "--runs-dir", str(opts.out / "runs")]
        if share != WHOLE:
            args += ["--loop.subsample", share]
        todo.append((folder(lang, share, seed), args))
    return todo


def read_arm(root: Path, lang: str, share: str, seeds: Sequence[int], rounds: int
             ) -> Tuple[Dict[int, Dict[int, float]], Dict[int, float]]:
    """Test entity F1 per round and seed (finished runs only), and scoring seconds per query round per seed."""
    f1: Dict[int, Dict[int, float]] = {}
    score_seconds: Dict[int, float] = {}
    for seed in seeds:
        path = root / folder(lang, share, seed) / "loop.json"
        records = srsly.read_json(path).get("rounds", []) if path.exists() else []
        if len(records) < rounds + 1:
            continue  # unfinished: left out, so that every round has the same seeds
        for r in records:
            f1.setdefault(r["round"], {})[seed] = 100 * r["test"]["ents_f"]
        score_seconds[seed] = float(np.mean([r["seconds"]["score"] for r in records if r["round"] > 0]))
    return f1, score_seconds


def lang_lines(opts: argparse.Namespace, lang: str) -> List[str]:
    """The language's tables."""
    arms = {share: read_arm(opts.out / "runs", lang, share, opts.seeds, opts.rounds)
            for share in [WHOLE, *opts.shares]}
    whole = arms[WHOLE][0]
    label = {WHOLE: "whole pool", **{s: f"subsample {s}" for s in opts.shares}}
    lines = [f"## {lang}", "", "| arm | round | test entity F1 | - whole pool (paired, 95% CI) |", "|---|---|---|---|"]
    for share, (f1, _) in arms.items():
        for k in sorted(f1):
            diff = "-" if share == WHOLE else paired(f1[k], whole.get(k, {}))
            lines.append(f"| {label[share]} | {k} | {mean_sd(list(f1[k].values()))} | {diff} |")
    query = list(range(1, opts.rounds + 1))
    lines += ["", "| arm | seeds | mean over rounds 1-5 - whole pool (paired) | last round - whole pool (paired) "
              "| scoring seconds per round |", "|---|---|---|---|---|"]
    for share, (f1, seconds) in arms.items():
        seeds = sorted(f1.get(0, {}))
        over = "-" if share == WHOLE else paired(mean_over_rounds(f1, query), mean_over_rounds(whole, query))
        last = "-" if share == WHOLE else paired(f1.get(opts.rounds, {}), whole.get(opts.rounds, {}))
        mean_seconds = f"{np.mean(list(seconds.values())):.1f}" if seconds else "-"
        lines.append(f"| {label[share]} | {seeds} | {over} | {last} | {mean_seconds} |")
    return lines + [""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", nargs="+", default=["tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--shares", nargs="+", default=["25%", "50%"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/subsample"))
    parser.add_argument("--doc", type=Path, help="write the tables to this Markdown file")
    parser.add_argument("--note-file", type=Path, help="Markdown put under the command on the page")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    for share in opts.shares:
        parse_subsample(share)  # a ValueError for a bad share, before any run starts
    if not opts.report_only:
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    command = "python bench/subsample_cost.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])
                                                            if a != "--report-only")
    text = "\n".join(["# Candidate subsampling: what scoring part of the pool costs, gold-oracle active learning",
                      "", f"Written by `{command}`.", "", opts.note_file.read_text() if opts.note_file else "",
                      *[line for lang in opts.langs for line in lang_lines(opts, lang)]])
    print(text)
    if opts.doc:
        opts.doc.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
