"""The same loop, the same seed, the same code: only OpenBLAS's CPU kernel changes (``OPENBLAS_CORETYPE``).

A machine with another processor (or with ``OPENBLAS_CORETYPE`` set, as some machines here are)
runs other floating-point kernels; training is chaotic enough that the last bits move the test F1.
Each kernel is run twice to show that, on one kernel, the result is exactly reproducible.

    python bench/kernel_sensitivity.py --lang tsn
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import srsly

ARGS = ["--rounds", "1", "--seed-size", "100", "--query-size", "100", "--learner.training.max_steps", "300",
        "--learner.training.eval_frequency", "50"]


def run(lang: str, corpus: Path, kernel: str, out: Path) -> List[float]:
    """Test entity F1 (%) per round of a small loop run with ``OPENBLAS_CORETYPE=kernel`` (empty: the default)."""
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    subprocess.run([sys.executable, "-m", "spacy_llm_loop", "loop", "--lang", lang, "--annotator", "gold",
                    "--corpus", str(corpus), "--runs-dir", str(out), *ARGS], env=env, check=True, capture_output=True)
    rounds = srsly.read_json(next(out.glob("*/loop.json")))["rounds"]
    arch = {p["arch"] for p in rounds[-1]["environment"]["thread_pools"] if p["api"] == "openblas"}
    return [100 * r["test"]["ents_f"] for r in rounds], sorted(a for a in arch if a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="tsn")
    parser.add_argument("--kernels", nargs="+", default=["", "Haswell", "Sandybridge"])
    opts = parser.parse_args()
    corpus = Path("corpus") / opts.lang
    lines = [f"Kernel sensitivity, {opts.lang}: seed 0, 100 seed + 100 queried sentences, 300 updates per round",
             "", "| OPENBLAS_CORETYPE | OpenBLAS kernel | run | round-0 test F1 | round-1 test F1 |",
             "|---|---|---|---|---|"]
    for kernel in opts.kernels:
        for repeat in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                f1, arch = run(opts.lang, corpus, kernel, Path(tmp))
            lines.append(f"| {kernel or '(unset)'} | {', '.join(arch)} | {repeat} | {f1[0]:.2f} | {f1[1]:.2f} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
