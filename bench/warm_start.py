"""Warm start vs retraining each round: test entity F1 and training seconds per round, for one learner config.

Runs (or resumes) the loop twice per seed with the gold oracle and mean-entropy selection: as the
paper does (every round retrains from the learner config) and with ``loop.warm_start`` (round k
continues from round k-1's weights). Prints a Markdown table. Runs are resumable.

    python bench/warm_start.py --lang zul --seeds 0                        # the CNN learner, CPU
    python bench/warm_start.py --lang zul --learner-config configs/learner-trf.cfg --gpu-id 0

Any other option (``--learner.training.max_steps 200``, ``--query-size 200``) is passed to every loop run,
so a reduced schedule can be compared on CPU; use a separate ``--out`` for each schedule. ``--jobs 2``
runs the two arms side by side (one thread each).
"""
import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Sequence

import numpy as np
import srsly

from spacy_llm_loop.loop.settings import run_name


def folder(opts: argparse.Namespace, warm: bool, seed: int) -> Path:
    """The loop's default run folder for these settings."""
    settings = SimpleNamespace(lang=opts.lang, run_name=None, seed=seed, warm_start=warm, dev="labelled",
                               learner_config=Path(opts.learner_config))
    return opts.out / run_name(settings, SimpleNamespace(name="gold"), SimpleNamespace(name="entropy"))


# Set by this script for each arm; an extra option may not change them (the table reads the folders they name).
OWN_OPTIONS = ("--lang", "--seed", "--strategy", "--rounds", "--runs-dir", "--run-name", "--learner-config", "--gpu-id",
               "--annotator", "--loop.warm_start", "--loop.run_name", "--loop.seed", "--loop.lang", "--loop.rounds",
               "--paths.runs", "--paths.learner_config")


def loop_args(opts: argparse.Namespace, extra: Sequence[str], warm: bool, seed: int) -> List[str]:
    """The ``spacy_llm_loop loop`` command line of one arm."""
    args = [sys.executable, "-m", "spacy_llm_loop", "loop", "--lang", opts.lang, "--seed", str(seed),
            "--strategy", "entropy", "--rounds", str(opts.rounds), "--runs-dir", str(opts.out),
            "--learner-config", opts.learner_config, "--gpu-id", str(opts.gpu_id), *extra]
    return args + (["--loop.warm_start", "true"] if warm else [])


def run_all(opts: argparse.Namespace, extra: Sequence[str]) -> None:
    """Run (or resume) every unfinished arm, ``opts.jobs`` at a time; fail if any run fails.

    With more than one job, each run's output goes to ``<out>/logs/<run>.log`` instead of the terminal.
    """
    pending = []
    for seed in opts.seeds:
        for warm in (False, True):
            run = folder(opts, warm, seed)
            if (run / "loop.json").exists() and len(srsly.read_json(run / "loop.json")["rounds"]) > opts.rounds:
                continue  # finished (e.g. by bench/label_efficiency.py)
            pending.append((loop_args(opts, extra, warm, seed), opts.out / "logs" / f"{run.name}.log"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def one(args: List[str], log: Path) -> int:
        if opts.jobs == 1:
            return subprocess.run(args, env=env).returncode
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"running {' '.join(args[2:])}\n  log: {log}", flush=True)
        with log.open("a", encoding="utf-8") as out:
            return subprocess.run(args, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=out,
                                  stderr=subprocess.STDOUT).returncode

    with ThreadPoolExecutor(opts.jobs) as pool:  # every run finishes (or fails) before this returns
        codes = list(pool.map(lambda job: one(*job), pending))
    failed = [f"{' '.join(args)} (log: {log})" for (args, log), code in zip(pending, codes) if code != 0]
    if failed:
        raise SystemExit("failed:\n" + "\n".join(failed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--lang", default="zul")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--learner-config", default="configs/learner-cnn.cfg")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/runs"))
    parser.add_argument("--jobs", type=int, default=1,
                        help="loop runs at a time (a transformer run on CPU can take 12-15 GB of memory)")
    parser.add_argument("--table-only", action="store_true")
    opts, extra = parser.parse_known_args()
    if opts.jobs < 1:
        parser.error("--jobs must be 1 or more")
    clashes = [a for a in extra if a.split("=")[0] in OWN_OPTIONS]
    if clashes:
        parser.error(f"{', '.join(clashes)}: set by this script (use --seeds, --rounds, --out, --learner-config)")
    if not opts.table_only:
        run_all(opts, extra)
    f1: Dict[bool, Dict[int, List[float]]] = {False: {}, True: {}}
    secs: Dict[bool, Dict[int, List[float]]] = {False: {}, True: {}}
    for seed in opts.seeds:
        for warm in (False, True):
            path = folder(opts, warm, seed) / "loop.json"
            for r in srsly.read_json(path)["rounds"] if path.exists() else []:
                f1[warm].setdefault(r["round"], []).append(100 * r["test"]["ents_f"])
                secs[warm].setdefault(r["round"], []).append(r["seconds"]["train"])
    print(f"Warm start vs retraining, {opts.lang}, {opts.learner_config}, seeds {opts.seeds} (means)"
          + (f", with {' '.join(extra)}" if extra else "") + "\n")
    print("| round | retrain F1 | warm F1 | retrain train s | warm train s |\n|---|---|---|---|---|")
    for k in sorted(f1[False]):
        cells = [f"{np.mean(d[k]):.2f}" if d.get(k) else "-" for d in (f1[False], f1[True])]
        cells += [f"{np.mean(d[k]):.0f}" if d.get(k) else "-" for d in (secs[False], secs[True])]
        print(f"| {k} | " + " | ".join(cells) + " |")
    for warm in (False, True):
        rounds = [k for k in f1[warm] if k >= 1]
        if rounds:
            print(f"\n{'warm' if warm else 'retrain'}: mean F1 over rounds 1-{max(rounds)} "
                  f"{np.mean([np.mean(f1[warm][k]) for k in rounds]):.2f}, "
                  f"training time {sum(np.mean(secs[warm][k]) for k in rounds):.0f} s")


if __name__ == "__main__":
    main()
