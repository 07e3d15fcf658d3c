"""Pool scoring throughput: sentences per second and peak memory in 1 process and in N, on a synthetic pool.

The pool is SYNTHETIC: train sentences of the MasakhaNER languages in ``--langs`` resampled with replacement to
``--sizes`` sentences (it measures throughput and memory, not accuracy). The model is a trained learner
(``--model``, e.g. a run's ``round-00/model``). Each (size, processes) cell runs in a fresh interpreter, so its
peak resident memory (``ru_maxrss`` of the child, workers included) is its own; scores are checked identical to
the one-process cell's. ``--dask N`` adds a cell scored on a local Dask cluster of ``N`` worker processes
(``loop.score_cluster``), started before the clock, as a running cluster would be.

    python bench/scoring_throughput.py --model bench/results/base/runs/tsn-gold-entropy-seed0/round-00/model \\
        --sizes 10000 --processes 1 2 --doc docs/benchmarks/scoring_throughput.md
"""
import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

CHILD = """
import json, sys, time
from pathlib import Path
from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.loop.selecting import score_pool
from spacy_llm_loop.uncertainty.component import install_extensions
install_extensions()
model, pool_path, out, n = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
dask_workers = int(sys.argv[5])
pool = load_docs(pool_path)
cluster = None
if dask_workers:  # a local Dask cluster, started before the clock (in use, a cluster is already running)
    from distributed import LocalCluster
    cluster = LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
start = time.perf_counter()
score_pool(model, pool, out, n_process=n, cluster=cluster.scheduler_address if cluster else None)
seconds = time.perf_counter() - start
if cluster:
    cluster.close()
import resource
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "sentences": len(pool), "self_mb": self_kb / 1024,
                  "worker_mb": workers_kb / 1024}))
"""


def synthetic_pool(langs: Sequence[str], size: int, seed: int, out: Path) -> Path:
    """``size`` train sentences of ``langs`` drawn with replacement, each given a fresh id (SYNTHETIC)."""
    from spacy.tokens import DocBin

    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import get_meta, set_task

    docs = [doc for lang in langs for doc in load_docs(Path("corpus") / lang / "train.spacy")]
    rng = random.Random(seed)
    drawn = []
    for i in range(size):
        doc = rng.choice(docs).copy()
        set_task(doc, {"meta": {**get_meta(doc), "sentence_id": f"synthetic-{i}"}})
        drawn.append(doc)
    path = out / f"pool-{size}.spacy"
    DocBin(docs=drawn, store_user_data=True).to_disk(path)
    return path


def cell(model: Path, pool: Path, out: Path, processes: int, dask_workers: int = 0) -> dict:
    """One measurement in a fresh interpreter: seconds, sentences, its peak resident memory and its largest
    worker's (MB); ``dask_workers``: scored on a local Dask cluster of that many workers instead."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(model), str(pool), str(out), str(processes),
                           str(dask_workers)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["processes"] = processes
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10000])
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--dask", type=int, default=0, help="also score on a local Dask cluster of this many workers")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scoring"))
    parser.add_argument("--doc", type=Path)
    opts = parser.parse_args(argv)
    opts.out.mkdir(parents=True, exist_ok=True)
    lines = ["| pool (SYNTHETIC) | processes | seconds | sentences/s | speed-up | peak memory: main process (MB) | "
             "largest worker (MB) | scores identical to 1 process |", "|---|---|---|---|---|---|---|---|"]
    for size in opts.sizes:
        pool = synthetic_pool(opts.langs, size, 0, opts.out)
        base: List[float] = []
        for n, dask in [(n, 0) for n in opts.processes] + ([(1, opts.dask)] if opts.dask else []):
            scores = opts.out / f"scores-{size}-{f'dask{dask}' if dask else n}.jsonl"
            result = cell(opts.model, pool, scores, n, dask)
            rate = result["sentences"] / result["seconds"]
            base = base or [rate]
            same = scores.read_text() == (opts.out / f"scores-{size}-{opts.processes[0]}.jsonl").read_text()
            workers = f"{result['worker_mb']:.0f}" if n > 1 or dask else "-"
            label = f"Dask, {dask} local workers" if dask else str(n)
            lines.append(f"| {size} | {label} | {result['seconds']:.1f} | {rate:.0f} | {rate / base[0]:.2f}x | "
                         f"{result['self_mb']:.0f} | {workers} | {'yes' if same else 'NO'} |")
    command = "python bench/scoring_throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    cores = len(os.sched_getaffinity(0))
    text = "\n".join(["# Pool scoring throughput: one process and several", "", f"Written by `{command}`. "
                      f"Measured {time.strftime('%Y-%m-%d')} on this machine ({cores} cores); nothing else should "
                      "run meanwhile. One run per cell: no spread is measured.", "", *lines, ""])
    print(text)
    if opts.doc:
        opts.doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
