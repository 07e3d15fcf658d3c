"""Query strategies against entropy and random, paired by seed, from finished gold-oracle runs.

Reads ``<lang>-gold-<strategy>-seed<k>`` runs (project defaults: CNN learner, entity-rich 5% gold seed, 5% per
round, learner dev carved out of the labelled set) from one or more folders, e.g. the label-efficiency
benchmark's entropy and random runs and new runs of other strategies made with
``bench/label_efficiency.py --strategies entropy-diverse mnlp --no-full``. Per language and round it prints
each strategy's test entity F1 and, for each candidate, the paired difference against ``--against``
strategies (95% t-interval), and the mean over rounds 1-5 of each seed's difference, paired by seed with a
95% t-interval over the seeds that finished every round in both arms. ``--summary`` adds a table with a row
per language: each arm's mean F1 over rounds 1-5 and those paired differences, and with several languages a
row that pools their (language, seed) pairs into one paired sample. With ``--full <folder>`` (the
label-efficiency benchmark's output, holding ``baselines/<lang>-full-seed<k>``) it adds a table of the room
above random: the full-data learner's F1, random's headroom (full-data F1 - random's mean over rounds 1-5), and
each arm's gain over random, paired by seed, as a share of that headroom (over the seeds the arm shares with
random; a gain of 4 F1 needs 4 / headroom of it).

    python bench/compare_strategies.py --runs bench/results/runs results/al/runs --langs tsn --seeds 0 1 2 \
        --strategies entropy-diverse mnlp --against entropy random
"""
import argparse
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from label_efficiency import full_data
from stats import mean_sd, paired
from transfer import f1_by_round


def find(roots: Sequence[Path], name: str) -> Path:
    """The first of ``roots`` that holds the run folder ``name`` (else the first root)."""
    return next((root for root in roots if (root / name / "loop.json").exists()), roots[0])


def load_f1(opts: argparse.Namespace, lang: str) -> Dict[str, Dict[int, Dict[int, float]]]:
    """Per strategy (candidates and references), round and seed: test entity F1 of the finished rounds."""
    f1: Dict[str, Dict[int, Dict[int, float]]] = {}
    for strategy in (*opts.against, *opts.strategies):
        per_seed: Dict[int, Dict[int, float]] = {}
        for seed in opts.seeds:
            name = f"{lang}-gold-{strategy}-seed{seed}"
            got, _ = f1_by_round(find(opts.runs, name), lambda s, n=name: n, [seed], opts.rounds)
            for k, values in got.items():
                per_seed.setdefault(k, {}).update(values)
        f1[strategy] = per_seed
    return f1


def lang_lines(opts: argparse.Namespace, lang: str,
               f1: Optional[Dict[str, Dict[int, Dict[int, float]]]] = None) -> List[str]:
    """The table of one language (``f1``: its runs' scores, when already read by ``load_f1``)."""
    f1 = load_f1(opts, lang) if f1 is None else f1
    pairs = [(c, a) for c in opts.strategies for a in opts.against]
    lines = [f"### {lang}", "", "| round | " + " | ".join(f"{s} F1" for s in (*opts.against, *opts.strategies)) +
             " | " + " | ".join(f"{c} - {a}" for c, a in pairs) + " |",
             "|---" * (1 + len(opts.against) + len(opts.strategies) + len(pairs)) + "|"]
    for k in range(opts.rounds + 1):
        cells = [mean_sd(list(f1[s].get(k, {}).values())) for s in (*opts.against, *opts.strategies)]
        diffs = [paired(f1[c].get(k, {}), f1[a].get(k, {})) for c, a in pairs]
        lines.append(f"| {k} | " + " | ".join(cells + diffs) + " |")
    for c, a in pairs:
        curves = {strategy: curve_means(f1[strategy], opts.rounds) for strategy in (c, a)}
        if set(curves[c]) & set(curves[a]):
            lines.append(f"\n- {c} - {a}, mean over rounds 1-{opts.rounds}, paired by seed (seeds with every round "
                         f"in both arms): {paired(curves[c], curves[a])} F1")
    return lines + [""]


def summary_lines(opts: argparse.Namespace,
                  loaded: Optional[Dict[str, Dict[str, Dict[int, Dict[int, float]]]]] = None) -> List[str]:
    """One row per language: each arm's mean F1 over rounds 1-R (seeds with every round) and the paired differences.

    ``loaded``: per language, the scores ``load_f1`` already read (the others are read here).
    """
    arms = (*opts.against, *opts.strategies)
    pairs = [(c, a) for c in opts.strategies for a in opts.against]
    lines = [f"### Mean test entity F1 over rounds 1-{opts.rounds}, paired by seed", "",
             "| lang | " + " | ".join(arms) + " | " + " | ".join(f"{c} - {a}" for c, a in pairs) + " |",
             "|---" * (1 + len(arms) + len(pairs)) + "|"]
    pooled: Dict[str, Dict[str, float]] = {arm: {} for arm in arms}  # (language, seed) pairs of every language
    for lang in opts.langs:
        f1 = (loaded or {}).get(lang) or load_f1(opts, lang)
        curves = {arm: curve_means(f1[arm], opts.rounds) for arm in arms}
        lines.append(f"| {lang} | " + " | ".join(mean_sd(list(curves[arm].values())) for arm in arms) + " | " +
                     " | ".join(paired(curves[c], curves[a]) for c, a in pairs) + " |")
        for arm in arms:
            pooled[arm].update({f"{lang}:{seed}": value for seed, value in curves[arm].items()})
    if len(opts.langs) > 1:  # every language's seeds as pairs of one sample (n = languages x seeds)
        lines.append("| all, pooled | " + " | ".join(mean_sd(list(pooled[arm].values())) for arm in arms) + " | " +
                     " | ".join(paired(pooled[c], pooled[a]) for c, a in pairs) + " |")
    return lines + [""]


GAIN_TARGET = 4.0  # the target: active learning >= 4 F1 over random, averaged over rounds 1-5


def headroom_lines(opts: argparse.Namespace, loaded: Dict[str, Dict[str, Dict[int, Dict[int, float]]]],
                   full: Dict[str, List[float]]) -> List[str]:
    """Per language: full-data F1, random's headroom below it (full-data F1 - random's mean over rounds 1-R) and,
    per other arm, its gain over random paired by seed with the share of the headroom it closes, both over the
    seeds the arm shares with random; ``full``: per language, the full-data baselines' test F1."""
    others = [arm for arm in (*opts.against, *opts.strategies) if arm != "random"]
    lines = [f"### The room above random: full-data F1 - random's mean over rounds 1-{opts.rounds}", "",
             f"Each arm's gain and share use the seeds it shares with random; the share a +{GAIN_TARGET:g} F1 gain "
             "needs uses all of random's seeds.", "",
             f"| lang | full data | random | headroom | share a +{GAIN_TARGET:g} F1 gain needs | " +
             " | ".join(f"{arm} - random (share of headroom)" for arm in others) + " |",
             "|---" * (5 + len(others)) + "|"]
    for lang in opts.langs:
        curves = {arm: curve_means(loaded[lang][arm], opts.rounds) for arm in ("random", *others)}
        if not full.get(lang) or not curves["random"]:
            continue
        top = float(np.mean(full[lang]))
        room = top - float(np.mean(list(curves["random"].values())))
        cells = []
        for arm in others:
            seeds = sorted(set(curves[arm]) & set(curves["random"]))
            arm_room = top - float(np.mean([curves["random"][s] for s in seeds])) if seeds else 0.0
            if not seeds or arm_room <= 0:
                cells.append("-")
                continue
            gain = float(np.mean([curves[arm][s] - curves["random"][s] for s in seeds]))
            interval = paired({s: curves[arm][s] for s in seeds}, {s: curves["random"][s] for s in seeds})
            cells.append(f"{interval} ({100 * gain / arm_room:.0f}% of {arm_room:.2f})")
        needs = f"{100 * GAIN_TARGET / room:.0f}%" if room > 0 else "-"
        lines.append(f"| {lang} | {mean_sd(full[lang])} | {mean_sd(list(curves['random'].values()))} | "
                     f"{room:.2f} | {needs} | " + " | ".join(cells) + " |")
    return lines + [""]


def curve_means(per_round: Dict[int, Dict[int, float]], rounds: int) -> Dict[int, float]:
    """Per seed that has every round 1..``rounds``: its mean F1 over those rounds."""
    if rounds < 1:
        return {}
    seeds = set.intersection(*(set(per_round.get(k, {})) for k in range(1, rounds + 1)))
    return {s: float(np.mean([per_round[k][s] for k in range(1, rounds + 1)])) for s in sorted(seeds)}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--langs", nargs="+", default=["tsn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--strategies", nargs="+", default=["entropy-diverse", "mnlp"])
    parser.add_argument("--against", nargs="+", default=["entropy", "random"])
    parser.add_argument("--summary", action="store_true", help="Also a table of the means over rounds, a row per "
                        "language")
    parser.add_argument("--full", type=Path, default=None, help="With --summary: the folder holding "
                        "baselines/<lang>-full-seed<k> (label-efficiency output), for the room above random")
    opts = parser.parse_args(argv)
    if opts.full is not None and (not opts.summary or "random" not in opts.against):
        parser.error("--full needs --summary and 'random' among --against")
    lines = [f"## Strategies paired by seed (gold oracle, CNN learner, seeds {opts.seeds})", ""]
    loaded = {lang: load_f1(opts, lang) for lang in opts.langs}  # each run folder is read once
    for lang in opts.langs:
        lines += lang_lines(opts, lang, loaded[lang])
    if opts.summary:
        lines += summary_lines(opts, loaded)
        if opts.full is not None:
            lines += headroom_lines(opts, loaded, {lang: full_data(opts.full, lang)[0] for lang in opts.langs})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
