"""The benchmarks' one job runner: project commands in parallel, one BLAS thread each, a log per job."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, List, Tuple

Job = Tuple[str, List[str]]  # (name, the package CLI's arguments)


def run(job: Job, logs: Path) -> None:
    """Run a project command, one BLAS thread per process so that parallel jobs do not fight over cores."""
    name, args = job
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("a") as f:
        subprocess.run([sys.executable, "-m", "spacy_llm_loop", *args], env=env, stdout=f, stderr=f, check=True)
    print(f"finished {name}", flush=True)


def run_all(jobs: Iterable[Job], logs: Path, n_jobs: int = 1) -> None:
    """Run every job, ``n_jobs`` at a time; the first failure is raised once the others are done."""
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        futures = [pool.submit(run, job, logs) for job in jobs]
    for future in futures:
        future.result()
