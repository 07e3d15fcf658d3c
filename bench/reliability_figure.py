"""One figure of reliability diagrams: a row per uncertainty estimator, a column per language.

Reads the ``reliability_<lang>[-<estimator>].json`` files that ``bench/calibration.py`` writes next to its
figures (the bins of entity confidence, raw and after Platt scaling fitted on the learner's dev data):

    python bench/reliability_figure.py --results bench/results --langs bam tsn zul \
        --estimators beam mc_dropout --out docs/reliability.png
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import srsly

NAMES = {"beam": "beam (16 parses)", "mc_dropout": "Monte Carlo dropout (8 passes)", "committee": "committee of 3"}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--estimators", nargs="+", default=["beam", "mc_dropout"], choices=list(NAMES))
    parser.add_argument("--out", type=Path, default=Path("docs/reliability.png"))
    opts = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(opts.estimators), len(opts.langs), figsize=(3 * len(opts.langs),
                             3 * len(opts.estimators)), squeeze=False, sharex=True, sharey=True)
    for i, estimator in enumerate(opts.estimators):
        for j, lang in enumerate(opts.langs):
            ax = axes[i][j]
            suffix = "" if estimator == "beam" else f"-{estimator}"
            data = srsly.read_json(opts.results / f"reliability_{lang}{suffix}.json")
            fitted = "" if data.get("fitted", 0) == data.get("models", 0) else \
                f", {data['fitted']} of {data['models']} fitted"
            for key, label in (("raw", "raw"), ("calibrated", f"Platt (learner dev{fitted})")):
                rows = data["bins"][key]
                ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", markersize=3,
                        label=label)
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"{lang}, {NAMES[estimator]}", fontsize=8)
            if i == len(opts.estimators) - 1:
                ax.set_xlabel("entity confidence", fontsize=8)
            if j == 0:
                ax.set_ylabel("share of entities right (test)", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(opts.out, dpi=90)
    print(f"wrote {opts.out}")


if __name__ == "__main__":
    main()
