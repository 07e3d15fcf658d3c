"""Cost of one active-learning round on this machine: train + score + select, and the price of uncertainty.

Trains the CNN learner (configs/learner-cnn.cfg, the loop's schedule) on a
random 30% of a language's train split (the size of the last default round),
scores the other 70% (the pool) with the uncertainty component, selects 5% with
mean-entropy, and times plain ``nlp.pipe`` over the same pool (uncertainty
disabled) for comparison. Prints a Markdown table. ``--variant`` trains one of
``bench/tune_cnn.py``'s config variants instead (the cost of a candidate change).

    python bench/round_cost.py --lang zul
    python bench/round_cost.py --lang zul --variant width128
"""
import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import spacy
from spacy.tokens import DocBin

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.learner.train import train_pipeline
from spacy_llm_loop.strategies import QuerySize
from spacy_llm_loop.strategies.registry import make_entropy_strategy
from tune_cnn import VARIANTS, variant_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="zul")
    parser.add_argument("--share", type=float, default=0.3, help="Labelled share of train")
    parser.add_argument("--config", type=Path, default=Path("configs/learner-cnn.cfg"))
    parser.add_argument("--repeats", type=int, default=3, help="Repeats of the scoring timings (best is kept)")
    parser.add_argument("--variant", default="base", choices=list(VARIANTS), help="A config variant of "
                        "bench/tune_cnn.py, applied to --config")
    opts = parser.parse_args()
    corpus = Path("corpus") / opts.lang
    docs = load_docs(corpus / "train.spacy")
    random.Random(0).shuffle(docs)
    n = int(len(docs) * opts.share)
    labelled, pool = docs[:n], [bare_copy(d) for d in docs[n:]]
    with tempfile.TemporaryDirectory() as tmp:
        DocBin(docs=labelled, store_user_data=True).to_disk(Path(tmp) / "train.spacy")
        config = variant_config(opts.variant, Path(tmp), base=opts.config)
        start = time.perf_counter()
        train_pipeline(config, Path(tmp) / "model", train_path=Path(tmp) / "train.spacy",
                       dev_path=corpus / "dev.spacy", seed=0, overrides=dict(VARIANTS[opts.variant][0]))
        t_train = time.perf_counter() - start
        nlp = spacy.load(Path(tmp) / "model")
    list(nlp.pipe([d.copy() for d in pool[:200]]))  # warm up
    t_plain, t_score = float("inf"), float("inf")
    for _ in range(opts.repeats):
        batch = [d.copy() for d in pool]
        with nlp.select_pipes(disable=["uncertainty"]):
            start = time.perf_counter()
            list(nlp.pipe(batch, batch_size=256))
            t_plain = min(t_plain, time.perf_counter() - start)
        batch = [d.copy() for d in pool]
        start = time.perf_counter()
        scored = list(nlp.pipe(batch, batch_size=256))
        t_score = min(t_score, time.perf_counter() - start)
    start = time.perf_counter()
    make_entropy_strategy()(scored, QuerySize(0.05, "fraction"), reference_size=len(docs) - len(labelled))
    t_select = time.perf_counter() - start
    words = sum(len(d) for d in pool)
    print(f"Round cost, {opts.lang}: {n} labelled sentences, pool of {len(pool)} ({words} words); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| step | seconds |\n|---|---|")
    print(f"| train ({opts.config}, variant {opts.variant}) | {t_train:.1f} |")
    print(f"| score the pool (tok2vec + ner + uncertainty) | {t_score:.1f} |")
    print(f"| select (mean entropy, 5% of pool) | {t_select:.2f} |")
    print(f"| **train + score + select** | **{t_train + t_score + t_select:.1f}** |")
    print(f"| plain nlp.pipe over the pool (uncertainty disabled) | {t_plain:.1f} |")
    print(f"| scoring with uncertainty / plain nlp.pipe | {t_score / t_plain:.2f}x |")


if __name__ == "__main__":
    main()
