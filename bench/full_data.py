"""The full-data learner with and without the source tok2vec (sequential transfer), paired by seed.

For each language, ``pretrain <lang> --ner-from <sources>`` runs once (seed 0, the full-data schedule; the
target's labels unused) into ``<out>/pretrain/<lang>-ner-<sources>``; then ``train-full`` runs for every seed
with the converged schedule (``--training.max_steps 20000 --training.patience 1600 --training.eval_frequency
200``, gold dev for early stopping), once from fresh weights (``<out>/baselines/<lang>-full-seed<k>``) and once
from the source tok2vec (``--paths.init_tok2vec``; ``<out>/ntx/<lang>-full-ner-<sources>-seed<k>``). It prints per
language each seed's test entity F1 in both arms, their mean ± sd, the paired difference (95% t-interval) on
test and on the gold dev split (the full-data learner's early-stopping set, so not held out: no second
replication of test), how the trainings stopped, and the issue's target (>= 80 test entity F1, mean over the
seeds; "met" only when the one-sample 95% interval lies above it, "missed" when below). ``--loop-runs`` adds the
gap between that and the last round of the gold-oracle loop's runs with the same tok2vec
(``<lang>-gold-entropy-pt-seed<k>``, ``bench/pretrain.py --ner-from``; a run whose ``run.json`` records other
weights than this benchmark's is left out and counted), with a Welch interval, since the loop's and the
full-data learner's seeds are not paired.

    python bench/full_data.py --langs zul tsn --seeds 0 1 2 3 4 --jobs 2 --out bench/results/full-data

Every step is skipped when its output exists (``pretrain.json``, ``metrics.json``: both are written last), so
an interrupted benchmark resumes.
"""
import argparse
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import srsly
from scipy import stats

from jobs import run_all
from label_efficiency import FULL_SCHEDULE
from pretrain import pretrain_dir, pretrain_jobs, weights  # (the source tok2vec's folder and job)
from spacy_llm_loop.fileio import file_digest
from stats import mean_sd, paired, welch

TARGET = 80.0


def arm_dir(out: Path, lang: str, seed: int, sources: str = "") -> Path:
    """A full-data training's folder: without transfer (``sources`` empty) or from the source tok2vec."""
    if not sources:
        return out / "baselines" / f"{lang}-full-seed{seed}"
    return out / "ntx" / f"{lang}-full-ner-{'+'.join(sources.split())}-seed{seed}"


def train_jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The full-data trainings still to run, both arms, seed by seed."""
    todo = []
    for seed in opts.seeds:
        for lang in opts.langs:
            for sources in (opts.ner_from, ""):
                out = arm_dir(opts.out, lang, seed, sources)
                if (out / "metrics.json").exists():
                    continue
                init = ["--paths.init_tok2vec", str(weights(opts, lang))] if sources else []
                todo.append((out.name, ["train-full", lang, "--seed", str(seed), "--output", str(out),
                                        *FULL_SCHEDULE, *init]))
    return todo


def arm_metrics(out: Path, lang: str, seeds: Sequence[int], sources: str) -> Dict[int, Dict[str, Any]]:
    """``{seed: metrics.json}`` of the arm's finished trainings."""
    paths = {seed: arm_dir(out, lang, seed, sources) / "metrics.json" for seed in seeds}
    return {seed: srsly.read_json(path) for seed, path in paths.items() if path.exists()}


def f1(metrics: Dict[int, Dict[str, Any]], split: str = "test") -> Dict[int, float]:
    """``{seed: entity F1 %}`` on ``split``."""
    return {seed: 100 * m[split]["ents_f"] for seed, m in metrics.items()}


def stops(metrics: Dict[int, Dict[str, Any]]) -> str:
    """How the arm's trainings stopped: ``patience x4, max_steps x1`` and the range of their best steps."""
    trainings = [m.get("training") or {} for m in metrics.values()]
    how = Counter(str(t.get("stopped_by")) for t in trainings)
    best = [int(t["best_step"]) for t in trainings if t.get("best_step") is not None]
    steps = f", best step {min(best)}-{max(best)}" if best else ""
    return ", ".join(f"{k} x{v}" for k, v in sorted(how.items())) + steps


def last_round(runs: Path, lang: str, seeds: Sequence[int], rounds: int,
               weights_digest: Optional[str] = None) -> Tuple[Dict[int, float], int]:
    """``{seed: test F1 %}`` at round ``rounds`` of the loop runs ``<lang>-gold-entropy-pt-seed<k>`` that reached it,
    and how many were left out because their ``run.json`` records other tok2vec weights than ``weights_digest``."""
    found, other = {}, 0
    for seed in seeds:
        run_dir = runs / f"{lang}-gold-entropy-pt-seed{seed}"
        if not (run_dir / "loop.json").exists():
            continue
        if weights_digest and (run_dir / "run.json").exists() and \
                srsly.read_json(run_dir / "run.json").get("init_tok2vec") != weights_digest:
            other += 1
            continue
        for record in srsly.read_json(run_dir / "loop.json")["rounds"]:
            if record["round"] == rounds:
                found[seed] = 100 * record["test"]["ents_f"]
    return found, other


def target_verdict(values: Sequence[float], target: float = TARGET) -> str:
    """``80.12 [78.90, 81.34], not shown either way``: the mean with its one-sample 95% t-interval, "met" when the
    interval lies at or above ``target``, "missed by <gap>" when it lies below."""
    mean = float(np.mean(values))
    if len(values) < 2 or np.std(values) == 0:
        return f"{mean:.2f} (no interval), " + ("met" if mean >= target else f"missed by {target - mean:.2f}")
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    verdict = "met" if low >= target else f"missed by {target - mean:.2f}" if high < target else \
        f"not shown either way (mean {mean - target:+.2f} from it)"
    return f"{mean:.2f} [{low:.2f}, {high:.2f}], {verdict}"


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """Per-seed rows, the summary rows and the target lines of one language."""
    none_m, src_m = (arm_metrics(opts.out, lang, opts.seeds, sources) for sources in ("", opts.ner_from))
    none, src, none_dev, src_dev = f1(none_m), f1(src_m), f1(none_m, "dev"), f1(src_m, "dev")
    record_path = pretrain_dir(opts, lang) / "pretrain.json"
    record = srsly.read_json(record_path) if record_path.exists() else {}
    sources = ", ".join(record.get("langs", [])) or opts.ner_from
    lines = [f"### {lang} (source tok2vec from {sources})", "",
             "| seed | none, test | source tok2vec, test | none, gold dev (early stopping) | "
             "source tok2vec, gold dev (early stopping) |",
             "|---|---|---|---|---|"]
    for seed in opts.seeds:
        cells = [d.get(seed) for d in (none, src, none_dev, src_dev)]
        lines.append(f"| {seed} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |")
    lines += ["", f"- none: {mean_sd(list(none.values()))}; stopped by {stops(none_m)}",
              f"- source tok2vec: {mean_sd(list(src.values()))}; stopped by {stops(src_m)}",
              f"- source tok2vec - none, paired by seed (95% CI): test {paired(src, none)}; "
              f"gold dev, the early-stopping set {paired(src_dev, none_dev)}"]
    for name, arm in (("none", none), ("source tok2vec", src)):
        if arm:
            lines.append(f"- target >= {TARGET:g} (mean over {len(arm)} seeds, 95% CI), {name}: "
                         f"{target_verdict(list(arm.values()))}")
    if opts.loop_runs is not None:
        path = weights(opts, lang)
        loop, other = last_round(opts.loop_runs, lang, opts.seeds, opts.rounds,
                                 file_digest(path) if path.exists() else None)
        left_out = f" ({other} runs left out: other weights)" if other else ""
        lines.append(f"- loop's round {opts.rounds} (source tok2vec, gold oracle): {mean_sd(list(loop.values()))}"
                     f"{left_out}; full data with the same tok2vec - it (Welch 95% CI): "
                     f"{welch(list(src.values()), list(loop.values()))}; plain full data - it: "
                     f"{welch(list(none.values()), list(loop.values()))}")
    return lines + [""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["zul", "tsn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--ner-from", default="auto", help="The sources of the tok2vec ('auto' or 'nya swa')")
    parser.add_argument("--jobs", type=int, default=1, help="Trainings at once (each uses one BLAS thread)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/full-data"))
    parser.add_argument("--loop-runs", type=Path, default=None,
                        help="Runs of bench/pretrain.py --ner-from with the same sources, for the last-round gap")
    parser.add_argument("--rounds", type=int, default=5, help="With --loop-runs: the loop's last round")
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    if not opts.ner_from.split():
        parser.error("--ner-from names the sources of the tok2vec ('auto' or 'nya swa'); it cannot be empty")
    if not opts.report_only:
        run_all(pretrain_jobs(opts), opts.out / "logs", opts.jobs)  # the full-data runs start from these weights
        run_all(train_jobs(opts), opts.out / "logs", opts.jobs)
    lines = [f"## The full-data learner, with and without the source tok2vec ({opts.ner_from}); seeds {opts.seeds}",
             ""]
    for lang in opts.langs:
        lines += lang_table(opts, lang)
    text = "\n".join(lines)
    print(text)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "full_data.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
