"""Cross-lingual transfer: the gold-oracle loop with and without other languages' gold train data, paired by seed.

Both arms run the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the pool per round by mean
token entropy, 5 rounds, the learner's dev data carved out of its labelled set, the gold oracle); the transfer
arm adds ``--transfer-langs`` (default ``auto``: the two languages closest by character trigrams) with
``--transfer-max`` sentences each to every round's training, never to dev and never counted (see
``components/learner/transfer.py``). It prints, per language, the seed-round and per-round test entity F1 of
both arms with the paired difference (95% t-interval) and which sources ``auto`` chose; ``--full-seeds`` also
trains the full-data learner with transfer.

    python bench/transfer.py --langs zul tsn --seeds 0 1 2 3 4 --jobs 2 --out bench/results \
        --baseline-runs bench/results/runs

``--baseline-runs``: read the no-transfer arm's finished runs from there (``bench/label_efficiency.py``'s gold
entropy runs) instead of running it. The script checks that one of them reproduces: it reruns the seed round of
the first seed with the current code into ``--out`` and compares. Every run is resumable.
"""
import argparse
import itertools
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import srsly

from jobs import run_all
from label_efficiency import FULL_SCHEDULE, full_data
from stats import mean_sd, paired


def folder(lang: str, seed: int, transfer: str = "", ratio: float = 0.0) -> str:
    """The loop's run folder name for the gold-oracle entropy run (``-tx-<langs>[-r<ratio>]`` with transfer)."""
    tx = f"-tx-{'+'.join(transfer.split())}" + (f"-r{ratio:g}" if ratio else "") if transfer else ""
    return f"{lang}-gold-entropy{tx}-seed{seed}"


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The transfer arm's loops (and the baseline arm's, unless read from ``--baseline-runs``), then full data."""
    todo = []
    for seed, lang in itertools.product(opts.seeds, opts.langs):
        base = ["loop", "--lang", lang, "--annotator", "gold", "--strategy", "entropy", "--seed", str(seed),
                "--rounds", str(opts.rounds)]
        todo.append((folder(lang, seed, opts.transfer, opts.transfer_ratio),
                     base + ["--runs-dir", str(opts.out / "runs"), "--transfer-langs", opts.transfer,
                             "--transfer-max", str(opts.transfer_max), "--transfer-ratio", str(opts.transfer_ratio)]))
        if opts.baseline_runs is None:
            todo.append((folder(lang, seed), base + ["--runs-dir", str(opts.out / "runs")]))
    if opts.baseline_runs is not None:  # one seed round again with today's code: does the baseline reproduce?
        lang, seed = opts.langs[0], opts.seeds[0]
        todo.insert(0, (f"check-{folder(lang, seed)}", ["loop", "--lang", lang, "--annotator", "gold", "--strategy",
                                                        "entropy", "--seed", str(seed), "--rounds", "0",
                                                        "--runs-dir", str(opts.out / "check")]))
    for seed, lang in itertools.product(opts.full_seeds, opts.langs):
        out = opts.out / "baselines-transfer" / f"{lang}-full-tx-{'+'.join(opts.transfer.split())}-seed{seed}"
        if not (out / "metrics.json").exists():
            todo.append((out.name, ["train-full", lang, "--seed", str(seed), "--output", str(out), "--transfer-langs",
                                    opts.transfer, "--transfer-max", str(opts.transfer_max), *FULL_SCHEDULE]))
    return todo


def f1_by_round(root: Path, name_of, seeds: Sequence[int], rounds: int,
                split: str = "test") -> Tuple[Dict[int, Dict[int, float]], dict]:
    """``{round: {seed: F1 %}}`` on ``split`` (the gold ``test`` or ``dev`` split) of the finished runs, and one
    run's transfer record."""
    f1: Dict[int, Dict[int, float]] = {}
    transfer = {}
    for seed in seeds:
        path = root / name_of(seed) / "loop.json"
        if not path.exists():
            continue
        loop = srsly.read_json(path)
        if len(loop["rounds"]) < rounds + 1:
            continue
        transfer = loop.get("transfer") or transfer
        for r in loop["rounds"]:
            f1.setdefault(r["round"], {})[seed] = 100 * r[split]["ents_f"]
    return f1, transfer


def full_by_seed(root: Path, prefix: str) -> Dict[int, float]:
    """``{seed: test F1 %}`` of the full-data trainings ``<root>/<prefix><seed>/metrics.json``."""
    found = {}
    for path in root.glob(f"{prefix}*/metrics.json"):
        suffix = path.parent.name[len(prefix):]
        if suffix.isdigit():
            found[int(suffix)] = 100 * srsly.read_json(path)["test"]["ents_f"]
    return dict(sorted(found.items()))


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """The table of one language."""
    base_root = opts.baseline_runs or opts.out / "runs"
    base, _ = f1_by_round(base_root, lambda s: folder(lang, s), opts.seeds, opts.rounds)
    name = lambda s: folder(lang, s, opts.transfer, opts.transfer_ratio)  # noqa: E731
    tx, record = f1_by_round(opts.out / "runs", name, opts.seeds, opts.rounds)
    base_dev, _ = f1_by_round(base_root, lambda s: folder(lang, s), opts.seeds, opts.rounds, "dev")
    tx_dev, _ = f1_by_round(opts.out / "runs", name, opts.seeds, opts.rounds, "dev")
    sources = ", ".join(record.get("langs", [])) or "?"
    ratio = f", at most {opts.transfer_ratio:g} per target train sentence" if opts.transfer_ratio else ""
    lines = [f"### {lang} (transfer from {sources}, {record.get('sentences', '?')} sentences{ratio})", "",
             "| round | test F1, no transfer | test F1, with transfer | transfer - none, test (paired, 95% CI) | "
             "transfer - none, gold dev split (paired) |", "|---|---|---|---|---|"]
    for k in sorted(k for k in set(base) | set(tx) if k <= opts.rounds):
        lines.append(f"| {k} | {mean_sd(list(base.get(k, {}).values()))} | {mean_sd(list(tx.get(k, {}).values()))} | "
                     f"{paired(tx.get(k, {}), base.get(k, {}))} | {paired(tx_dev.get(k, {}), base_dev.get(k, {}))} |")
    if tx and base:
        rounds = [k for k in sorted(tx) if k in base]
        means = [np.mean([tx[k][s] - base[k][s] for s in set(tx[k]) & set(base[k])]) for k in rounds]
        lines.append(f"\n- mean paired gain over rounds 0-{rounds[-1]}: {np.mean(means):+.2f} F1")
    full, _ = full_data(opts.full_from, lang) if opts.full_from else ([], [])
    tag = "+".join(opts.transfer.split())
    full_tx = full_by_seed(opts.out / "baselines-transfer", f"{lang}-full-tx-{tag}-seed")
    lines.append(f"- full-data learner: {mean_sd(full)} without transfer, {mean_sd(list(full_tx.values()))} with it")
    if opts.full_from and full_tx:
        full_none = full_by_seed(opts.full_from / "baselines", f"{lang}-full-seed")
        lines.append(f"- full-data learner, transfer - none (paired by seed, 95% CI): {paired(full_tx, full_none)}")
    if record.get("auto_scores"):
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(record["auto_scores"].items())[:5])
        lines.append(f"- `auto`'s trigram cosine to the {lang} pool: {top}")
    return lines + [""]


def check_lines(opts: argparse.Namespace) -> List[str]:
    """Whether the baseline's seed round reproduces with today's code."""
    if opts.baseline_runs is None:
        return []
    lang, seed = opts.langs[0], opts.seeds[0]
    old = opts.baseline_runs / folder(lang, seed) / "loop.json"
    new = opts.out / "check" / folder(lang, seed) / "loop.json"
    if not (old.exists() and new.exists()):
        return ["- baseline check: not run", ""]
    a, b = (100 * srsly.read_json(p)["rounds"][0]["test"]["ents_f"] for p in (old, new))
    return [f"- baseline check ({lang}, seed {seed}, seed round): read {a:.2f}, rerun today {b:.2f}"
            f"{' (identical)' if abs(a - b) < 1e-9 else ' (DIFFERS: the baseline arm is not comparable)'}", ""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["zul", "tsn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transfer", default="auto", help="Transfer languages ('auto' or e.g. 'nya swa')")
    parser.add_argument("--transfer-max", type=int, default=2000)
    parser.add_argument("--transfer-ratio", type=float, default=0.0, help="0: all of the sample in every round")
    parser.add_argument("--full-seeds", nargs="*", type=int, default=[])
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (each uses one BLAS thread)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--baseline-runs", type=Path, default=None)
    parser.add_argument("--full-from", type=Path, default=None, help="Where <lang>-full-seed* baselines are")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    if not opts.report_only:
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    lines = [f"## Cross-lingual transfer (gold oracle, entropy, CNN learner, seeds {opts.seeds}, "
             f"transfer {opts.transfer!r}, {opts.transfer_max} sentences per source"
             f"{f', ratio {opts.transfer_ratio:g}' if opts.transfer_ratio else ''})", ""] + check_lines(opts)
    for lang in opts.langs:
        lines += lang_table(opts, lang)
    text = "\n".join(lines)
    print(text)
    suffix = f"-r{opts.transfer_ratio:g}" if opts.transfer_ratio else ""
    (opts.out / f"transfer{suffix}-rounds{opts.rounds}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
