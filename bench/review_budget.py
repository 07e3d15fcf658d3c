"""Review within a budget: a SIMULATED reviewer corrects the most doubtful (or random) LLM labels of each round.

Runs (or resumes) the loop on the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the pool per
round by mean token entropy, 5 rounds, the learner's dev data carved out of the labelled set, the audit) with the
label policy ``--label-policy`` names (default ``disagree-gold3``, the loop's default until 2026-12-07, under which
the first pages were made), the SIMULATED GPT-4-Turbo (``sim-gpt-4-turbo``; no API is called) and the SIMULATED
reviewer (``--reviewer simulated``: it answers with the gold labels and records the time a person would have spent,
a sourced range: ``components/review/timing.py``). An arm is ``<budget>:<rank>``: a share of each round's
LLM-labelled sentences reviewed, chosen by the doubt ranking (``components/review/rank.py``), by the doubt the
label policy leaves in what is taught (``residual``) or at random (same size, seeded). Budget ``0`` is the label
policy alone: its runs are read from ``--base-runs`` (the label-policy benchmark's), and the gold-oracle runs of
the same seeds from ``--gold-runs`` (both optional: without them, those columns are empty). Every arm is given the
same gold seed and nothing else (no gold dev split); the audit labels the gold seed once more (counted in the
dollars).

It prints, and writes to ``--doc``, per language: per round and arm, test entity F1 (mean ± sd over seeds), the
paired difference from budget 0, sentences reviewed and changed by the reviewer, LLM dollars so far and
reviewer hours so far (central estimate); then the issue's targets: last round >= 95% of gold-oracle active
learning, doubt - random at the same budget (paired, 95% interval over seeds), and the total cost (LLM plus
reviewer at the cost report's central hourly rate) against people annotating the same sentences. With a
``residual`` arm, a last table compares each ranking with random and doubt review of the same budget (paired),
with the sentences the reviewer changed of those sent (so far) and the quality of the labels taught outside review.

    python bench/review_budget.py --langs bam tsn zul --seeds 0 1 --arms 10%:doubt 10%:random --jobs 2 \\
        --out bench/results/review --base-runs bench/results/pol/runs --gold-runs bench/results/base/runs \\
        --doc docs/benchmarks/review_budget.md

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
from label_policies import billed_by_round
from spacy_llm_loop.cost.human import DEFAULTS, human_cost
from spacy_llm_loop.loop.settings import run_name
from spacy_llm_loop.policy.registry import PRESETS, make_label_policy
from spacy_llm_loop.review.settings import ReviewSettings
from stats import interval, mean_over_rounds, mean_sd, paired, share_cells, verdict

LLM = "sim-gpt-4-turbo"
POLICY = "disagree-gold3"  # the default until 2026-12-07, under which the first pages were made
GOLD_SHARE_TARGET = 95.0  # last round / gold-oracle last round, %
SAVINGS_TARGET = 10.0  # people annotating the same sentences / (LLM + reviewer), central rates


def parse_arm(arm: str) -> Tuple[str, str]:
    """``10%:doubt`` -> (``10%``, ``doubt``); ``0`` -> (``0``, ``doubt``)."""
    budget, _, rank = arm.partition(":")
    ReviewSettings(budget, rank or "doubt", "simulated")  # a ValueError for a bad arm
    return budget, rank or "doubt"


def folder(lang: str, annotator: str, budget: str, rank: str, seed: int, policy: str = POLICY) -> str:
    """The loop's default run folder name (the loop's own naming)."""
    gold = annotator == "gold"
    settings = SimpleNamespace(lang=lang, run_name=None, seed=seed, warm_start=False, dev="labelled",
                               learner_config=Path("configs/learner-cnn.cfg"),
                               label_policy=make_label_policy(name="trust" if gold else policy,
                                                              **({} if gold else PRESETS[policy])),
                               review=ReviewSettings(budget, rank, "simulated"))
    return run_name(settings, SimpleNamespace(name=annotator, gives_gold=gold), SimpleNamespace(name="entropy"))


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """Loop commands seed by seed, language by language, arm by arm (finished loops return at once)."""
    todo = []
    for seed, lang, arm in itertools.product(opts.seeds, opts.langs, opts.arms):
        budget, rank = parse_arm(arm)
        if not ReviewSettings(budget).active:
            continue  # budget 0: the label-policy benchmark's runs (--base-runs)
        todo.append((folder(lang, LLM, budget, rank, seed, opts.label_policy),
                     ["loop", "--lang", lang, "--seed", str(seed), "--rounds", str(opts.rounds), "--runs-dir",
                      str(opts.out / "runs"), "--annotator.cache_path", str(opts.out / "cache" / "llm.sqlite"),
                      "--label-policy", opts.label_policy, "--review", budget, "--review-rank", rank, "--reviewer",
                      "simulated"]))
    return todo


class Arm:
    """One arm's finished runs on one language, per round and seed."""

    def __init__(self, root: Optional[Path], lang: str, annotator: str, budget: str, rank: str,
                 seeds: Sequence[int], rounds: int, policy: str = POLICY) -> None:
        self.f1: Dict[int, Dict[int, float]] = {}
        self.reviewed: Dict[int, Dict[int, int]] = {}
        self.changed: Dict[int, Dict[int, int]] = {}
        self.dollars: Dict[int, Dict[int, float]] = {}
        self.hours: Dict[int, Dict[int, float]] = {}
        self.words: Dict[int, int] = {}  # words the LLM was asked about, over the query rounds
        self.taught: Dict[int, Dict[str, float]] = {}  # the last round's labels outside review, against gold
        for seed in seeds if root is not None else ():  # no folder given: no runs
            run_dir = root / folder(lang, annotator, budget, rank, seed, policy)
            path = run_dir / "loop.json"
            records = srsly.read_json(path).get("rounds", []) if path.exists() else []
            if len(records) < rounds + 1:
                continue  # unfinished: left out, so that every round has the same seeds
            billed = billed_by_round(run_dir)
            spent, hours, reviewed, changed = 0.0, 0.0, 0, 0
            for r in records:
                k = r["round"]
                review = r.get("review") or {}
                spent += billed.get(k, 0.0)  # round 0: the audit
                hours += (review.get("person_hours") or {}).get("central", 0.0)
                reviewed += review.get("accepted", 0)
                changed += review.get("changed", 0)
                self.f1.setdefault(k, {})[seed] = 100 * r["test"]["ents_f"]
                self.dollars.setdefault(k, {})[seed] = spent
                self.hours.setdefault(k, {})[seed] = hours
                self.reviewed.setdefault(k, {})[seed] = reviewed
                self.changed.setdefault(k, {})[seed] = changed
            self.taught[seed] = (records[-1].get("taught") or {}).get("all") or {}
            self.words[seed] = _asked_words(run_dir, rounds)

    @property
    def seeds(self) -> List[int]:
        """Seeds with every round finished."""
        return sorted(self.f1.get(0, {}))


def _asked_words(run_dir: Path, rounds: int) -> int:
    """Words of the sentences the query rounds selected (what people would annotate instead)."""
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import sentence_id

    corpus = Path(srsly.read_json(run_dir / "loop.json")["corpus"])
    words = {sentence_id(d): len(d) for d in load_docs(corpus / "train.spacy")}
    return sum(words[item["id"]] for k in range(1, rounds + 1)
               for item in srsly.read_json(run_dir / f"round-{k:02d}" / "selection.json")["selected"])


def lang_lines(opts: argparse.Namespace, lang: str) -> List[str]:
    """The tables of one language."""
    gold = Arm(opts.gold_runs, lang, "gold", "0", "doubt", opts.seeds, opts.rounds)
    arms: Dict[str, Arm] = {}
    for arm in opts.arms:
        budget, rank = parse_arm(arm)
        root = opts.base_runs if not ReviewSettings(budget).active else opts.out / "runs"
        arms[arm] = Arm(root, lang, LLM, budget, rank, opts.seeds, opts.rounds, opts.label_policy)
    base = next((a for name, a in arms.items() if not ReviewSettings(parse_arm(name)[0]).active), None)
    lines = [f"### {lang}", "", "| arm | round | test entity F1 | - budget 0 (paired, 95% CI) | reviewed so far | "
             "changed by the reviewer | LLM $ so far | reviewer hours so far (central) |",
             "|---|---|---|---|---|---|---|---|"]
    for k in sorted(gold.f1):
        lines.append(f"| gold oracle | {k} | {mean_sd(list(gold.f1[k].values()))} | - | - | - | - | - |")
    for name, arm in arms.items():
        for k in sorted(arm.f1):
            diff = paired(arm.f1[k], base.f1.get(k, {})) if base is not None and arm is not base else "-"
            lines.append(f"| {name} | {k} | {mean_sd(list(arm.f1[k].values()))} | {diff} | "
                         f"{_mean(arm.reviewed[k])} | {_mean(arm.changed[k])} | {_mean(arm.dollars[k], '.2f')} | "
                         f"{_mean(arm.hours[k], '.2f')} |")
    lines += ["", "- seeds with all rounds finished: " + (f"gold oracle {gold.seeds}; " if opts.gold_runs else "")
              + "; ".join(f"{name} {arm.seeds}" for name, arm in arms.items()), "",
              "| arm | last round F1 | last / gold oracle last (paired, 95% CI) | target 95% | - budget 0 (paired, "
              "mean over rounds 1-5) | doubt - random, same budget (paired, mean over rounds 1-5) | total $ (LLM + "
              "reviewer, central) | people, same sentences (central) | people / total | target 10x |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        if not arm.f1:
            continue
        last = max(arm.f1)
        budget, rank = parse_arm(name)
        random_arm = arms.get(f"{budget}:random") if rank == "doubt" and ReviewSettings(budget).active else None
        rounds = range(1, last + 1)
        vs_random = paired(mean_over_rounds(arm.f1, rounds), mean_over_rounds(random_arm.f1, rounds)) \
            if random_arm else "-"
        vs_base = paired(mean_over_rounds(arm.f1, rounds), mean_over_rounds(base.f1, rounds)) \
            if base is not None and arm is not base else "-"
        rate = (DEFAULTS.hourly_usd[0] + DEFAULTS.hourly_usd[1]) / 2
        total = [arm.dollars[last][s] + rate * arm.hours[last][s] for s in arm.seeds]
        people = [human_cost(arm.words[s])["central"] for s in arm.seeds]
        ratio = interval([p / t for p, t in zip(people, total)])
        share = share_cells(arm.f1[last], gold.f1.get(last, {}), GOLD_SHARE_TARGET)
        lines.append(f"| {name} | {mean_sd(list(arm.f1[last].values()))} | {share} | {vs_base} | {vs_random} | "
                     f"{np.mean(total):.2f} | {np.mean(people):.2f} | {ratio[0]:.1f}x | "
                     f"{verdict(*ratio, SAVINGS_TARGET, len(arm.seeds))} |")
    return lines + [""] + ranking_lines(arms)


def ranking_lines(arms: Dict[str, Arm]) -> List[str]:
    """With a ``residual`` arm: each ranking against random review and the doubt ranking of the same budget
    (paired), how often the reviewer changed what it sent, and the quality of the LLM labels taught outside review
    (the last round's labelled set against gold, outside the tokens the policy made missing)."""
    ranked = [name for name in arms if parse_arm(name)[1] == "residual"]
    if not ranked:
        return []
    lines = ["| arm | - random, same budget (paired, mean over rounds 1-5) | - doubt, same budget (paired, mean over "
             "rounds 1-5) | - random, last round | - doubt, last round | changed / reviewed so far | taught outside "
             "review, last round: entity P / R | tokens made missing |", "|---|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        budget, rank = parse_arm(name)
        if not arm.f1 or not ReviewSettings(budget).active:
            continue
        last = max(arm.f1)
        rounds = range(1, last + 1)
        cells = []
        for other in ("random", "doubt"):
            peer = arms.get(f"{budget}:{other}")
            if peer is None or peer is arm or not peer.f1:
                cells.append(("-", "-"))
                continue
            cells.append((paired(mean_over_rounds(arm.f1, rounds), mean_over_rounds(peer.f1, rounds)),
                          paired(arm.f1[last], peer.f1.get(last, {}))))
        taught = [arm.taught[s] for s in arm.seeds if arm.taught.get(s)]
        share = {key: 100 * float(np.mean([t[key] for t in taught])) if taught else None
                 for key in ("ents_p", "ents_r", "missing_share")}
        quality = f"{share['ents_p']:.1f} / {share['ents_r']:.1f}" if taught else "-"
        missing = f"{share['missing_share']:.1f}%" if taught else "-"
        lines.append(f"| {name} | {cells[0][0]} | {cells[1][0]} | {cells[0][1]} | {cells[1][1]} | "
                     f"{_mean(arm.changed[last])} / {_mean(arm.reviewed[last])} | {quality} | {missing} |")
    return lines + [""]


def _mean(values: Dict[int, float], fmt: str = ".0f") -> str:
    return format(float(np.mean(list(values.values()))), fmt) if values else "-"


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--arms", nargs="+", default=["0", "10%:doubt", "10%:random"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label-policy", default=POLICY, choices=sorted(PRESETS),
                        help="the label policy of every LLM arm (default: the one the first pages were made under)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/review"))
    parser.add_argument("--base-runs", type=Path, help="the budget-0 runs (label_policies.py); needed for arm 0")
    parser.add_argument("--gold-runs", type=Path, help="the gold-oracle runs of the same seeds (the 95% target)")
    parser.add_argument("--doc", type=Path, help="write the tables to this Markdown file")
    parser.add_argument("--note-file", type=Path, help="Markdown put under the command on the page")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    if not opts.report_only:
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    command = "python bench/review_budget.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])
                                                           if a != "--report-only")
    text = "\n".join(["# Review within a budget: SIMULATED GPT-4-Turbo labels, a SIMULATED reviewer", "",
                      f"Written by `{command}`.", "", opts.note_file.read_text() if opts.note_file else "",
                      *[line for lang in opts.langs for line in lang_lines(opts, lang)]])
    print(text)
    if opts.doc:
        opts.doc.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
