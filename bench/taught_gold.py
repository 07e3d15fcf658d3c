"""What the learner is taught of the gold entities in its LLM-labelled sentences, arm by arm.

Reads finished loop runs: the last round's ``labelled.jsonl`` holds each sentence's taught entities and, in
``meta["label_policy"]``, the token ranges its label policy made missing and the answer's entities it removed. Every
gold entity (``<--corpus>/<lang>/train.spacy``) of the LLM-labelled sentences the learner trains on
(``learner_split`` ``train``) falls in one class:

- ``taught``: taught with its exact span and type;
- ``missing, answer right``: some of its tokens made missing though the answer had it exactly (the learner, as
  judge, rejected a right entity);
- ``missing, answer wrong``: some of its tokens made missing, the answer wrong or silent about it;
- ``taught wrong``: another taught entity overlaps it (wrong span or type);
- ``taught O``: taught as "not an entity".

Beside them, the share of the taught entities that are not gold. Why: a policy's gap to gold labels is mostly
recall (``label_policies.py``'s precision / recall table); these counts say which lever is left, a better judge
(``missing, answer right``), review, or a better annotator. Nothing is trained, so ``--report-only`` changes nothing.

    python bench/taught_gold.py --langs bam tsn zul --seeds 0 1 2 3 4 --arms disagree-gold3 disagree-both-gold3 \\
        --base-runs bench/results/pol2/runs --corpus corpus --doc docs/benchmarks/taught_gold.md
"""
import argparse
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from judge_bands import finished, gold_spans
from label_policies import LLM, folder, parse_arm
from spacy_llm_loop.fileio import iter_jsonl
from stats import mean_sd

Span = Tuple[int, int, str]
CLASSES = ("taught", "missing, answer right", "missing, answer wrong", "taught wrong", "taught O")


def gold_fate(gold: Set[Span], taught: Set[Span], missing: Set[int], removed: Set[Span]) -> Counter:
    """The classes of one sentence's gold entities (see the module docstring), and ``taught, not gold``."""
    counts: Counter = Counter()
    taught_tokens = {i for s, e, _ in taught for i in range(s, e)}
    for s, e, label in gold:
        if (s, e, label) in taught:
            counts["taught"] += 1
        elif missing.intersection(range(s, e)):
            counts["missing, answer right" if (s, e, label) in removed else "missing, answer wrong"] += 1
        elif taught_tokens.intersection(range(s, e)):
            counts["taught wrong"] += 1
        else:
            counts["taught O"] += 1
    counts["taught entities"] = len(taught)
    counts["taught, not gold"] = len(taught - gold)
    return counts


def count_run(path: Path, gold: Dict[str, Set[Span]]) -> Counter:
    """The classes over one run's LLM-labelled training sentences (``labelled.jsonl`` of its last round)."""
    counts: Counter = Counter()
    if not path.exists():
        raise SystemExit(f"{path}: not found (the run's loop.json counts the round as finished)")
    for line, task in iter_jsonl(path):
        meta = task.get("meta") or {}
        if not str(meta.get("source", "")).startswith("llm") or meta.get("learner_split", "train") != "train":
            continue
        sid = meta.get("sentence_id")
        if sid not in gold:
            raise SystemExit(f"{path}:{line}: sentence '{sid}' is not in the gold train set")
        decision = meta.get("label_policy") or {}
        try:
            taught = {(s["token_start"], s["token_end"] + 1, s["label"]) for s in task.get("spans", [])}
            missing = {i for s, e, _ in decision.get("missing", []) for i in range(s, e)}
            removed = {(s, e, label) for s, e, label in decision.get("removed", [])}
        except (KeyError, TypeError, ValueError) as err:
            raise SystemExit(f"{path}:{line}: a span or a label policy range is malformed ({err!r})") from None
        counts.update(gold_fate(gold[sid], taught, missing, removed))
    return counts


def lang_lines(runs: Path, corpus: Path, lang: str, arms: Sequence[str], seeds: Sequence[int],
               rounds: int = 5) -> List[str]:
    """The language's table: a row per arm, each class's share of the gold entities (mean ± sd over seeds)."""
    gold = gold_spans(corpus, lang)
    rows = ["| arm | seeds | gold entities per seed | " + " | ".join(f"{c} (%)" for c in CLASSES)
            + " | taught entities not gold (%) |", "|---" * (len(CLASSES) + 4) + "|"]
    for arm in arms:
        policy, strategy, dev = parse_arm(arm)
        per_seed: Dict[int, Counter] = {}
        for seed in seeds:
            run_dir = runs / folder(lang, LLM, policy, strategy, seed, dev)
            if finished(run_dir, rounds) is not None:
                per_seed[seed] = count_run(run_dir / f"round-{rounds:02d}" / "labelled.jsonl", gold)
        if not per_seed:
            rows.append(f"| {arm} | none finished |" + " - |" * (len(CLASSES) + 2))
            continue
        n_gold = [sum(c[k] for k in CLASSES) for c in per_seed.values()]
        cells = [mean_sd([100 * c[k] / n for c, n in zip(per_seed.values(), n_gold) if n]) for k in CLASSES]
        spurious = mean_sd([100 * c["taught, not gold"] / c["taught entities"] for c in per_seed.values()
                            if c["taught entities"]])
        rows.append(f"| {arm} | {', '.join(map(str, per_seed))} | {sum(n_gold) / len(n_gold):,.0f} | "
                    + " | ".join(cells) + f" | {spurious} |")
    return [f"### {lang}", "", *rows, ""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=5, help="the round whose labelled set is read")
    parser.add_argument("--arms", nargs="+", default=["disagree-gold3", "disagree-both-gold3"])
    parser.add_argument("--base-runs", type=Path, required=True, help="the folder of the runs (label_policies.py)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--note-file", type=Path, help="Markdown put between the command and the tables")
    parser.add_argument("--doc", type=Path)
    parser.add_argument("--report-only", action="store_true", help="accepted for bench/summarize.py; no effect")
    opts = parser.parse_args(argv)
    command = "python bench/taught_gold.py " + shlex.join(a for a in (argv if argv is not None else sys.argv[1:])
                                                          if a != "--report-only")
    note = opts.note_file.read_text(encoding="utf-8").strip() if opts.note_file else ""
    lines = ["# What the learner is taught of the gold entities in its LLM-labelled sentences", "",
             f"Written by `{command}`. SIMULATED GPT-4-Turbo answers; the last round's labelled set of each run, its "
             "LLM-labelled sentences the learner trains on (not its dev data); shares of their gold entities, mean ± "
             "sd over seeds.", ""]
    lines += [note, ""] if note else []
    for lang in opts.langs:
        lines += lang_lines(opts.base_runs, opts.corpus, lang, opts.arms, opts.seeds, opts.rounds)
    text = "\n".join(lines)
    print(text)
    if opts.doc:
        opts.doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
