"""A whole round on a large sharded pool: wall time and peak memory, with and without candidate subsampling.

The pool is SYNTHETIC: train sentences of the MasakhaNER languages in ``--langs`` resampled with replacement to
``--sizes`` sentences, each given a fresh id, written as ``train.shards`` (the loop reads it a shard at a time);
dev and test are ``corpus/<--lang>``'s. It measures time and memory, not accuracy. Each cell runs the loop in a
fresh process: gold oracle, mean entropy, ``--seed-size`` gold sentences, one round of ``--query-size``, scoring in
``--processes`` processes, the whole pool or a ``--subsample`` of it. A sampler reads ``/proc`` every 0.2 s for
the resident memory of the loop's process, and the proportional set size of its whole process tree (the scoring
workers included, shared pages counted once); a peak shorter than that can be missed.

Columns: the round's wall time (from the log line that ends round 0 to the one that ends round 1: pool, scoring,
selection, annotation, training, evaluation), its scoring seconds, the run's whole wall time (round 0 too: reading
the pool's ids, drawing the seed, training on it), and the peaks.

    python bench/scale_round.py --cells 100000:all 1000000:100000 1000000:all --processes 2 \\
        --doc docs/benchmarks/scale_round.md
"""
import argparse
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import srsly

from jobs import one_thread_env

PAGE = 4096


def synthetic_corpus(langs: Sequence[str], size: int, lang: str, out: Path) -> Tuple[Path, float]:
    """``out/corpus-<size>/<lang>``: ``size`` resampled train sentences (SYNTHETIC) as shards, with ``lang``'s dev
    and test; made once (seconds it took, 0 when it was there)."""
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import get_meta, set_task
    from spacy_llm_loop.data.shards import is_sharded, write_shards

    corpus = out / f"corpus-{size}" / lang
    if is_sharded(corpus / "train.shards"):
        return corpus, 0.0
    start = time.perf_counter()
    corpus.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        shutil.copy(Path("corpus") / lang / f"{split}.spacy", corpus / f"{split}.spacy")
    docs = [doc for name in langs for doc in load_docs(Path("corpus") / name / "train.spacy")]
    rng = random.Random(0)

    def drawn() -> Iterator:
        for i in range(size):
            doc = rng.choice(docs).copy()
            set_task(doc, {"meta": {**get_meta(doc), "sentence_id": f"synthetic-{i:07d}"}})
            yield doc

    write_shards(drawn(), corpus / "train.shards")
    return corpus, time.perf_counter() - start


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split between the processes sharing them), or 0."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_memory(root: int) -> Tuple[int, int]:
    """Resident bytes of ``root``, and the proportional set size of ``root`` with every descendant (forked workers
    share their parent's pages, which a sum of resident sizes would count once per process)."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier += children
    try:
        stat = Path(f"/proc/{root}/stat").read_text()
        rss = int(stat[stat.rindex(")") + 2:].split()[21]) * PAGE
    except (OSError, ValueError, IndexError):
        rss = 0
    return rss, sum(_pss(p) for p in tree)


def run_cell(args: List[str], log: Path) -> Dict[str, float]:
    """Run the loop; return wall seconds and peak resident MB of its process and of its process tree."""
    env = one_thread_env()
    peaks = {"main": 0, "tree": 0}
    start = time.perf_counter()
    with log.open("w") as f:
        child = subprocess.Popen([sys.executable, "-m", "spacy_llm_loop", *args], env=env, stdout=f, stderr=f)

        def sample() -> None:
            while child.poll() is None:
                main, tree = _tree_memory(child.pid)
                peaks["main"], peaks["tree"] = max(peaks["main"], main), max(peaks["tree"], tree)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        child.wait()
        sampler.join()
    if child.returncode:
        raise SystemExit(f"the loop failed (exit {child.returncode}); see {log}")
    return {"wall": time.perf_counter() - start, "main_mb": peaks["main"] / 2**20, "tree_mb": peaks["tree"] / 2**20}


def round_seconds(log: Path) -> float:
    """Seconds from the log line that ends round 0 to the one that ends round 1."""
    ends = {}
    for line in log.read_text().splitlines():
        match = re.match(r"(\d\d:\d\d:\d\d) \[[^]]+\] round (\d+)/\d+: \d+ labelled sentences", line)
        if match:
            ends[int(match.group(2))] = datetime.strptime(match.group(1), "%H:%M:%S")
    seconds = (ends[1] - ends[0]).total_seconds()
    return seconds + 86400 if seconds < 0 else seconds


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--lang", default="tsn", help="whose dev and test the corpus takes")
    parser.add_argument("--cells", nargs="+", default=["100000:all", "1000000:100000"],
                        help="<pool size>:<scored each round>, the latter 'all' (the whole pool) or a subsample size")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed-size", default="500")
    parser.add_argument("--query-size", default="500")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale"))
    parser.add_argument("--doc", type=Path)
    opts = parser.parse_args(argv)
    lines = ["| pool (SYNTHETIC, shards) | scored each round | round: wall seconds | of it scoring | whole run: wall "
             "seconds | peak memory: loop process, resident (MB) | peak memory: with its workers, proportional (MB) |",
             "|---|---|---|---|---|---|---|"]
    made = []
    for size, arm in ((int(c.partition(":")[0]), c.partition(":")[2] or "all") for c in opts.cells):
        corpus, seconds = synthetic_corpus(opts.langs, size, opts.lang, opts.out)
        if seconds:
            made.append(f"{size:,} sentences written as shards in {seconds:.0f} s")
        runs = opts.out / f"runs-{size}-{arm}"
        shutil.rmtree(runs, ignore_errors=True)
        args = ["loop", "--lang", opts.lang, "--corpus", str(corpus), "--annotator", "gold", "--strategy",
                "entropy", "--seed", "0", "--rounds", "1", "--seed-size", opts.seed_size, "--query-size",
                opts.query_size, "--runs-dir", str(runs), "--loop.score_processes", str(opts.processes)]
        if arm != "all":
            args += ["--loop.subsample", arm]
        log = opts.out / f"log-{size}-{arm}.txt"
        cell = run_cell(args, log)
        (run,) = [p for p in runs.iterdir() if p.is_dir()]
        record = srsly.read_json(run / "loop.json")["rounds"][1]
        scored = size - int(opts.seed_size) if arm == "all" else int(arm)
        lines.append(f"| {size:,} | {scored:,} | {round_seconds(log):.0f} | {record['seconds']['score']:.0f} | "
                     f"{cell['wall']:.0f} | {cell['main_mb']:.0f} | {cell['tree_mb']:.0f} |")
        print(lines[-1], flush=True)
    command = "python bench/scale_round.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    cores = len(os.sched_getaffinity(0))
    text = "\n".join(["# A round on a large sharded pool: time and memory", "", f"Written by `{command}`. Measured "
                      f"{time.strftime('%Y-%m-%d')} on this machine ({cores} cores); nothing else should run "
                      "meanwhile. One run per cell: no spread is measured. Gold oracle, mean entropy, one round; "
                      "the pool is SYNTHETIC (resampled MasakhaNER sentences), so no accuracy is measured here.", "",
                      *lines, "", *(f"- {line}" for line in made), ""])
    print(text)
    if opts.doc:
        opts.doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
