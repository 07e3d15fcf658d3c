"""A better judge: LLM labels with a learner that starts from a tok2vec trained on other languages' gold NER.

Under the label policy the learner is the annotator's judge: an answer's entity it gives less than 0.2 becomes
missing, and most right entities lost that way sit at a probability of 0 (``docs/benchmarks/judge_bands.md``,
measured on ``disagree-gold3``'s runs; ``taught_gold.md`` counts them under both policies). A stronger learner may
judge better. The strongest free lever measured so far is sequential transfer (``pretrain <lang> --ner-from auto``:
the learner config trained once on other MasakhaNER languages' gold NER, its tok2vec kept; +2.74 F1 on tsn and
+1.22 on zul over rounds 1-5 with gold labels, ``docs/benchmarks/transfer_pretraining.md``). This script asks
whether it also lifts the SIMULATED GPT-4-Turbo's arm, and how much of its answers' gold entities it is taught.

Four arms per language and seed, all on the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the
pool per round by mean token entropy, 5 rounds, the learner's dev data carved out of its labelled set, no gold dev
split): the SIMULATED GPT-4-Turbo under ``--policy`` and the gold oracle, each with and without the source tok2vec.
The weights are ``bench/pretrain.py``'s (``<out>/pretrain/<lang>-ner-<sources>``, trained here if missing, seed 0);
the arms without them are read from ``--base-runs`` (``bench/label_policies.py``'s runs and their gold oracle), and
the first language's and seed's seed round is run again with today's code to check that they still reproduce.

    python bench/llm_tok2vec.py --langs tsn zul --seeds 0 1 2 --jobs 2 --out bench/results/tx \\
        --base-runs bench/results/pol2/runs --doc docs/benchmarks/llm_tok2vec.md

Every run is resumable; ``--report-only`` writes the tables from the runs present.
"""
import argparse
import itertools
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import srsly

import pretrain
from jobs import run_all
from judge_bands import finished, gold_spans
from label_policies import GOLD_SHARE_TARGET, LLM, SEED_GAIN_TARGET, Arm, folder, parse_arm
from stats import gain_cells, mean_over_rounds, mean_sd, paired, share_cells
from taught_gold import CLASSES, count_run

GOLD_ORACLE = ("gold", "trust")  # annotator, label policy
ARMS = ("LLM", "LLM, source tok2vec", "gold oracle", "gold oracle, source tok2vec")


def pretrain_options(opts: argparse.Namespace, seeds: Sequence[int]) -> argparse.Namespace:
    """The options ``bench/pretrain.py``'s helpers read: the tok2vec trained on ``--ner-from``'s gold NER, and the
    gold-oracle loops of ``seeds`` that start from it."""
    return argparse.Namespace(out=opts.out, ner_from=opts.ner_from, epochs=0, langs=opts.langs, seeds=list(seeds),
                              rounds=opts.rounds, baseline_runs=opts.base_runs)


def check_job(opts: argparse.Namespace) -> Tuple[str, List[str]]:
    """The first language's and seed's seed round once more, with today's code, beside ``--base-runs``'s."""
    lang, seed = opts.langs[0], opts.seeds[0]
    name = folder(lang, *GOLD_ORACLE, "entropy", seed)
    return f"check-{name}", ["loop", "--lang", lang, "--annotator", "gold", "--strategy", "entropy", "--seed",
                             str(seed), "--rounds", "0", "--runs-dir", str(opts.out / "check")]


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The check, then the loops with the source tok2vec seed by seed (so that an interrupted benchmark leaves whole
    pairs): the gold oracle's (``bench/pretrain.py``'s) and the LLM arm's."""
    todo = [check_job(opts)]
    for seed, lang in itertools.product(opts.seeds, opts.langs):
        weights = pretrain.weights(pretrain_options(opts, [seed]), lang)
        todo += pretrain.jobs(pretrain_options(opts, [seed]), lang)
        todo.append((folder(lang, LLM, opts.policy, "entropy", seed, pretrained=True),
                     ["loop", "--lang", lang, "--annotator", LLM, "--strategy", "entropy", "--seed", str(seed),
                      "--label-policy", opts.policy, "--runs-dir", str(opts.out / "runs"), "--rounds", str(opts.rounds),
                      "--annotator.cache_path", str(opts.out / "cache" / "llm.sqlite"),
                      "--init-tok2vec", str(weights)]))
    return todo


def load_arms(opts: argparse.Namespace, lang: str) -> Dict[str, Arm]:
    """The four arms of one language, named as in ``ARMS``."""
    def arm(annotator: str, policy: str, pretrained: bool) -> Arm:
        root = opts.out / "runs" if pretrained else opts.base_runs
        return Arm(root, lang, annotator, policy, "entropy", opts.seeds, opts.rounds, pretrained=pretrained)

    return dict(zip(ARMS, (arm(LLM, opts.policy, False), arm(LLM, opts.policy, True), arm(*GOLD_ORACLE, False),
                           arm(*GOLD_ORACLE, True))))


def gold_fates(opts: argparse.Namespace, lang: str, pretrained: bool, gold: Dict[str, set]) -> Dict[int, Counter]:
    """Per seed, what the LLM arm's learner was taught of the gold entities of its LLM-labelled training sentences
    (``bench/taught_gold.py``'s classes, the last round's labelled set)."""
    fates = {}
    root = opts.out / "runs" if pretrained else opts.base_runs
    for seed in opts.seeds:
        run_dir = root / folder(lang, LLM, opts.policy, "entropy", seed, pretrained=pretrained)
        if finished(run_dir, opts.rounds) is not None:
            fates[seed] = count_run(run_dir / f"round-{opts.rounds:02d}" / "labelled.jsonl", gold)
    return fates


def fate_share(fates: Dict[int, Counter], what: str) -> str:
    """One class's share of the gold entities (%), mean ± sd over seeds."""
    totals = {seed: sum(c[k] for k in CLASSES) for seed, c in fates.items()}
    return mean_sd([100 * fates[seed][what] / n for seed, n in totals.items() if n])


def lang_lines(opts: argparse.Namespace, lang: str) -> List[str]:
    """The tables of one language."""
    arms = load_arms(opts, lang)
    llm, llm_pt, gold, gold_pt = arms.values()
    lines = [f"### {lang}", "", "| round | " + " | ".join(ARMS) + " | LLM: source tok2vec - none (paired, 95% CI) | "
             "gold oracle: source tok2vec - none (paired, 95% CI) |", "|---" * (len(ARMS) + 3) + "|"]
    for k in range(opts.rounds + 1):
        cells = [mean_sd(list(arm.f1.get(k, {}).values())) for arm in arms.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {paired(llm_pt.f1.get(k, {}), llm.f1.get(k, {}))} | "
                     f"{paired(gold_pt.f1.get(k, {}), gold.f1.get(k, {}))} |")
    rounds, last = range(1, opts.rounds + 1), opts.rounds
    spans = gold_spans(opts.corpus, lang)
    lines += ["", "- seeds with all rounds finished: " + "; ".join(f"{name} {a.seeds}" for name, a in arms.items()),
              f"- gold oracle, mean over rounds 1-{last}, source tok2vec - none (paired): "
              f"{paired(mean_over_rounds(gold_pt.f1, rounds), mean_over_rounds(gold.f1, rounds))}", "",
              f"| arm | mean over rounds 1-{last}: source tok2vec - none (paired) | last round / gold oracle's, "
              f"no tok2vec (paired) | target {GOLD_SHARE_TARGET:.0f}% | last round / gold oracle's, same tok2vec "
              f"(paired) | target {GOLD_SHARE_TARGET:.0f}% | last - seed round (paired) | target "
              f"+{SEED_GAIN_TARGET:.0f} | gold entities of its LLM-labelled sentences: taught (%) | made missing, the "
              "answer right (%) | taught as O (%) |", "|---" * 11 + "|"]
    for name, arm, pretrained, ref in (("LLM", llm, False, gold), ("LLM, source tok2vec", llm_pt, True, gold_pt)):
        vs_none = paired(mean_over_rounds(arm.f1, rounds), mean_over_rounds(llm.f1, rounds)) if pretrained else "-"
        f1 = arm.f1.get(last, {})
        fates = gold_fates(opts, lang, pretrained, spans)
        lines.append(f"| {name} | {vs_none} | {share_cells(f1, gold.f1.get(last, {}), GOLD_SHARE_TARGET)} | "
                     f"{share_cells(f1, ref.f1.get(last, {}), GOLD_SHARE_TARGET)} | "
                     f"{gain_cells(f1, arm.f1.get(0, {}), SEED_GAIN_TARGET)} | "
                     + " | ".join(fate_share(fates, c) for c in ("taught", "missing, answer right", "taught O")) + " |")
    return lines + [""]


def check_lines(opts: argparse.Namespace) -> List[str]:
    """Whether ``--base-runs``' seed round reproduces with today's code."""
    lang, seed = opts.langs[0], opts.seeds[0]
    name = folder(lang, *GOLD_ORACLE, "entropy", seed)
    old, new = opts.base_runs / name / "loop.json", opts.out / "check" / name / "loop.json"
    if not (old.exists() and new.exists()):
        return ["- check of the runs without the tok2vec: not run", ""]
    a, b = (100 * srsly.read_json(p)["rounds"][0]["test"]["ents_f"] for p in (old, new))
    same = abs(a - b) < 1e-9
    return [f"- check of the runs without the tok2vec ({lang}, seed {seed}, seed round): read {a:.2f}, rerun today "
            f"{b:.2f} ({'identical' if same else 'DIFFERS: those arms are not comparable'})", ""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--policy", default="disagree-both-gold3", help="The LLM arm's label policy")
    parser.add_argument("--ner-from", default="auto", help="The languages whose gold NER trains the tok2vec")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="Runs in parallel (one core each)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tx"))
    parser.add_argument("--base-runs", type=Path, required=True,
                        help="The runs without the source tok2vec: the LLM arm's and the gold oracle's")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="Where <lang>/train.spacy is")
    parser.add_argument("--doc", type=Path, default=None, help="Also write the tables to this Markdown file")
    parser.add_argument("--note-file", type=Path, default=None, help="Markdown put under the header")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    parse_arm(opts.policy)  # an unknown policy stops here, naming the presets
    if not opts.ner_from.strip():
        raise SystemExit("--ner-from names the languages whose gold NER trains the tok2vec ('auto' or 'nya swa')")
    if not opts.base_runs.is_dir():
        raise SystemExit(f"--base-runs {opts.base_runs}: no such folder")
    if not opts.report_only:
        run_all(pretrain.pretrain_jobs(pretrain_options(opts, opts.seeds)), opts.out / "logs", opts.jobs)
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    command = shlex.join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--report-only")
    lines = ["# LLM labels with a learner that starts from other languages' NER", "",
             f"Written by `python bench/llm_tok2vec.py {command}`. SIMULATED GPT-4-Turbo (`{LLM}`) under "
             f"`{opts.policy}`, and the gold oracle, each with and without the tok2vec trained on the gold NER of "
             f"other MasakhaNER languages (`--ner-from {opts.ner_from}`); seeds {opts.seeds}, paired by seed.", ""]
    if opts.note_file:
        lines += [opts.note_file.read_text(encoding="utf-8").strip(), ""]
    lines += check_lines(opts)
    for lang in opts.langs:
        lines += lang_lines(opts, lang)
    text = "\n".join(lines)
    print(text)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "llm_tok2vec.md").write_text(text + "\n", encoding="utf-8")
    if opts.doc:
        opts.doc.parent.mkdir(parents=True, exist_ok=True)
        opts.doc.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
