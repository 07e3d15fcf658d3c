"""Does the Min-K%++ membership test detect memorisation where it was planted, and only there?

Trains a tiny byte-level GPT-2 (``spacy_llm_loop.leakage.tinylm``) on a background of real MasakhaNER
sentences plus a set of "member" sentences repeated 0, 1, 4 or 16 times, then compares the members'
Min-K%++ scores with those of as many held-out sentences of the same language
(``spacy_llm_loop.leakage.planted``). Each seed draws another split, initialisation and order.
Prints a Markdown table (AUROC mean and range over seeds, each seed's bootstrap 95% CI, how many
seeds the one-sided Mann-Whitney test flags at alpha) and writes every row to JSON.

    nice python bench/minkpp_planted.py --lang tsn --seeds 0 1 2

CPU only; one thread by default (about 1-2 minutes per seed at the default sizes).
"""
import argparse
import time
from pathlib import Path

import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.leakage.planted import PlantedSettings, markdown_table, planted_validation, settings_dict
from spacy_llm_loop.leakage.tinylm import TinyLMSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="tsn")
    parser.add_argument("--corpus-root", type=Path, default=Path("corpus"), help="Holds <lang>/train.spacy")
    parser.add_argument("--n-members", type=int, default=150, help="Members, and as many non-members")
    parser.add_argument("--n-background", type=int, default=300)
    parser.add_argument("--exposures", nargs="+", type=int, default=[0, 1, 4, 16])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="Default: bench/results/minkpp-planted-<lang>.json")
    opts = parser.parse_args()

    import torch

    torch.set_num_threads(opts.threads)
    sentences = [doc.text for doc in load_docs(opts.corpus_root / opts.lang / "train.spacy")]
    settings = PlantedSettings(n_members=opts.n_members, n_background=opts.n_background,
                               exposures=tuple(opts.exposures), model=TinyLMSettings())
    start, rows = time.perf_counter(), []
    for seed in opts.seeds:
        rows.extend(planted_validation(sentences, settings, seed=seed))
    seconds = time.perf_counter() - start
    out = opts.out or Path("bench/results") / f"minkpp-planted-{opts.lang}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(out, {"lang": opts.lang, "seeds": opts.seeds, "settings": settings_dict(settings),
                           "seconds": seconds, "rows": rows})
    print(f"Min-K%++ on planted memorisation: {opts.lang}, {opts.n_members} members / {opts.n_members} "
          f"non-members / {opts.n_background} background sentences (background seen "
          f"{settings.background_epochs}x), seeds {opts.seeds}, {seconds:.0f} s in all\n")
    print(markdown_table(rows))
    print(f"\nflagged: one-sided Mann-Whitney U p < {settings.alpha}; loss AUROC: mean token log-probability "
          f"(reference attack). Rows: {out}")


if __name__ == "__main__":
    main()
