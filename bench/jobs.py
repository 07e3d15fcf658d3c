"""The benchmarks' one job runner: project commands in parallel, one BLAS thread each, a log per job."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

Job = Tuple[str, List[str]]  # (name, the package CLI's arguments)
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def one_thread_env() -> Dict[str, str]:
    """This process's environment with one BLAS thread, so that parallel processes do not fight over cores."""
    return {**os.environ, **ONE_THREAD}


def run(job: Job, logs: Path) -> None:
    """Run a project command, one BLAS thread per process so that parallel jobs do not fight over cores."""
    name, args = job
    env = one_thread_env()
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
