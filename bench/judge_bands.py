"""The learner as judge: how often the annotator's entities are right, by the learner's probability and type.

Reads finished loop runs (``judged.jsonl`` of rounds 1 to ``--rounds``: each answer's entities with the probability
the judging learner gave them, :mod:`spacy_llm_loop.policy.judge`) and scores each entity against the gold labels
of ``<--corpus>/<lang>/train.spacy`` (exact span and type). Per language, type and band of the learner's
probability it gives the share that is right and the count, pooled over the seeds and rounds, beside the types the
audit called unreliable (``loop.json``). This is what a threshold such as ``keep_above`` trades: the entities
below it are made missing. Nothing is trained, so ``--report-only`` changes nothing (``bench/summarize.py``
passes it).

    python bench/judge_bands.py --langs bam tsn zul --seeds 0 1 2 3 4 --arm disagree-gold3 \\
        --base-runs bench/results/pol/runs --corpus corpus --doc docs/benchmarks/judge_bands.md
"""
import argparse
import math
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import srsly

from label_policies import LLM, folder, parse_arm
from spacy_llm_loop.fileio import iter_jsonl
from spacy_llm_loop.policy.registry import PRESETS

TYPES = ("PER", "ORG", "LOC", "DATE")  # MasakhaNER's; other labels follow in alphabetical order
# label, low (inclusive), high (exclusive): the thresholds a policy compares with (``p < keep_above`` is missing)
BANDS: Tuple[Tuple[str, float, float], ...] = (
    ("0 < p < 0.05", 0.0, 0.05), ("0.05 ≤ p < 0.2", 0.05, 0.2), ("0.2 ≤ p < 0.5", 0.2, 0.5),
    ("p ≥ 0.5", 0.5, math.inf))
ZERO = "p = 0"  # no parse the learner kept holds the entity (p is rounded to 4 digits: below 0.00005)
Span = Tuple[int, int, str]


def band(p: float) -> str:
    """The band label of a learner probability."""
    if not 0.0 <= p <= 1.0:  # NaN fails too
        raise ValueError(f"a learner probability must lie in [0, 1], got {p}")
    if p == 0.0:
        return ZERO
    return next(label for label, low, high in BANDS if low <= p < high)


def gold_spans(corpus: Path, lang: str) -> Dict[str, Set[Span]]:
    """Every train sentence's gold entities, by sentence id."""
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import sentence_id

    return {sentence_id(d): {(e.start, e.end, e.label_) for e in d.ents}
            for d in load_docs(corpus / lang / "train.spacy")}


def count(run_dir: Path, gold: Dict[str, Set[Span]], rounds: int) -> Tuple[Counter, Counter]:
    """(right, all) counts by (type, band) over a run's judged rounds 1 to ``rounds``."""
    right: Counter = Counter()
    total: Counter = Counter()
    for k in range(1, rounds + 1):
        path = run_dir / f"round-{k:02d}" / "judged.jsonl"
        for line, record in iter_jsonl(path):
            if record["id"] not in gold:
                raise SystemExit(f"{path}:{line}: sentence '{record['id']}' is not in the gold train set")
            for s, e, label, p in record["llm"]:
                try:
                    key = (label, band(float(p)))
                except ValueError as err:
                    raise SystemExit(f"{path}:{line}: {err}") from None
                total[key] += 1
                right[key] += (s, e, label) in gold[record["id"]]
    return right, total


def finished(run_dir: Path, rounds: int) -> Optional[Dict]:
    """The run's ``loop.json`` once rounds 0 to ``rounds`` are done (it is written after every round), else None."""
    path = run_dir / "loop.json"
    if not path.exists():
        return None
    loop = srsly.read_json(path)
    return loop if len(loop.get("rounds") or []) >= rounds + 1 else None


def lang_lines(runs: Path, corpus: Path, lang: str, arm: str, seeds: Sequence[int], rounds: int = 5) -> List[str]:
    """The language's table: a row per type (and all), a column per band; then the audit's verdicts."""
    policy, strategy, dev = parse_arm(arm)
    if PRESETS[policy].get("rejudge"):  # each round's judgement holds every earlier answer again
        raise SystemExit(f"arm '{arm}' judges every answer again each round; its rounds cannot be pooled")
    gold = gold_spans(corpus, lang)
    right: Counter = Counter()
    total: Counter = Counter()
    unreliable: Counter = Counter()
    found, audited = [], 0
    for seed in seeds:
        run_dir = runs / folder(lang, LLM, policy, strategy, seed, dev)
        loop = finished(run_dir, rounds)
        if loop is None:
            continue
        found.append(seed)
        r, t = count(run_dir, gold, rounds)
        right.update(r)
        total.update(t)
        if loop.get("audit"):
            audited += 1
            unreliable.update(loop["audit"].get("unreliable") or [])
    if not found:
        return [f"### {lang}", "", "No finished runs.", ""]
    labels = [t for t in TYPES if any(k[0] == t for k in total)] + sorted({k[0] for k in total} - set(TYPES))
    bands = [ZERO] + [label for label, _, _ in BANDS]
    rows = ["| type | " + " | ".join(bands) + " | audit: unreliable in |", "|---" * (len(bands) + 2) + "|"]
    for label in (*labels, "all"):
        cells = []
        for name in bands:
            keys = [(t, name) for t in labels] if label == "all" else [(label, name)]
            n, ok = sum(total[k] for k in keys), sum(right[k] for k in keys)
            cells.append(f"{100 * ok / n:.0f}% ({n:,})" if n else "-")
        audit = "-" if label == "all" or not audited else f"{unreliable[label]} of {audited} audited seeds"
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {audit} |")
    return [f"### {lang}", "", f"Seeds {', '.join(map(str, found))}, rounds 1-{rounds} pooled: the share of the "
            "LLM's entities that are right (exact span and type), and how many there were.", "", *rows, ""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=5, help="a run counts once these rounds are finished")
    parser.add_argument("--arm", default="disagree-gold3", help="the arm whose runs are read (bench/label_policies.py)")
    parser.add_argument("--base-runs", type=Path, required=True, help="the folder of the runs")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--note-file", type=Path, help="Markdown put between the command and the tables")
    parser.add_argument("--doc", type=Path)
    parser.add_argument("--report-only", action="store_true", help="accepted for bench/summarize.py; no effect")
    opts = parser.parse_args(argv)
    command = "python bench/judge_bands.py " + shlex.join(a for a in (argv if argv is not None else sys.argv[1:])
                                                          if a != "--report-only")
    note = opts.note_file.read_text(encoding="utf-8").strip() if opts.note_file else ""
    lines = ["# The learner as judge: how often the LLM's entities are right, by the learner's probability", "",
             f"Written by `{command}`. SIMULATED GPT-4-Turbo answers, judged by the learner that chose each "
             f"round's sentences (the runs of the arm `{opts.arm}`); p is that learner's probability of the exact "
             "span and type.", ""]
    lines += [note, ""] if note else []
    for lang in opts.langs:
        lines += lang_lines(opts.base_runs, opts.corpus, lang, opts.arm, opts.seeds, opts.rounds)
    text = "\n".join(lines)
    print(text)
    if opts.doc:
        opts.doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
