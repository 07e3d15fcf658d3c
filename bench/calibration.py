"""How much the learner's uncertainty means, on held-out test sentences: AUROC of each doc measure for "this
sentence holds an entity error" beside two trivial baselines, and the calibration of entity confidence before
and after Platt scaling fitted on the learner's own dev data.

It reads finished gold-oracle runs (``bench/label_efficiency.py``'s, default project settings: CNN learner,
labelled dev), copies each chosen round's model (the runs are left untouched), fits the calibration on that
round's learner dev split (``round-<k>/dev.spacy``: labelled sentences, never test), and evaluates on the
language's test split. Per language it prints mean ± sd over seeds; it also draws a reliability diagram
(pooled over seeds) per language.

    python bench/calibration.py --runs bench/results/runs --langs bam tsn zul --seeds 0 1 2 3 4 --round 2

``--estimator mc_dropout`` measures the Monte Carlo dropout estimator instead of the beam (the copied model's
config is switched, so its calibration is fitted with the same estimator), with its BALD score as an extra
column. Each run also times scoring the test split with the uncertainty component against plain ``nlp.pipe``
(the uncertainty component disabled; best of ``--repeats``). ``--estimator committee`` first trains the
committee's other ``--committee-size - 1`` members into the copied model as the loop would (bootstrap resamples
of that round's training data, the run's seed and learner overrides, early-stopped on the round's learner dev),
and reports their training seconds.
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import spacy
import srsly
from spacy.training import Example

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import bare_copy
from spacy_llm_loop.learner.calibrate import calibrate_pipeline
from spacy_llm_loop.learner.committee import train_committee
from spacy_llm_loop.uncertainty.calibration import entity_outcomes, reliability
from spacy_llm_loop.uncertainty.scorer import score_uncertainty
from stats import mean_sd

MEASURES = ("mean_entropy", "max_entropy", "least_confidence", "mnlp")
BASE_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "learner-cnn.cfg"


def use_estimator(model: Path, estimator: Dict[str, Any]) -> None:
    """Switch the saved pipeline's uncertainty component to ``estimator`` (config keys, e.g. ``mc_passes``)."""
    config = spacy.util.load_config(model / "config.cfg", interpolate=False)
    config["components"]["uncertainty"].update(estimator)
    config.to_disk(model / "config.cfg")


def timings(nlp: Any, docs: List[Any], repeats: int) -> Dict[str, float]:
    """Seconds to run the pipeline over ``docs`` with and without the uncertainty component (best of repeats)."""
    best = {"plain": float("inf"), "uncertainty": float("inf")}
    for _ in range(repeats):
        with nlp.select_pipes(disable=["uncertainty"]):
            start = time.perf_counter()
            list(nlp.pipe([bare_copy(d) for d in docs]))
            best["plain"] = min(best["plain"], time.perf_counter() - start)
        start = time.perf_counter()
        list(nlp.pipe([bare_copy(d) for d in docs]))
        best["uncertainty"] = min(best["uncertainty"], time.perf_counter() - start)
    return best


def measure_run(run: Path, k: int, test: Path, estimator: Optional[Dict[str, Any]] = None,
                repeats: int = 1) -> Dict[str, Any]:
    """AUROCs and ECE (raw, calibrated) of round ``k``'s model of ``run`` on ``test``, and scoring seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        shutil.copytree(run / f"round-{k:02d}" / "model", model)
        (model / "uncertainty" / "calibration.json").unlink(missing_ok=True)
        committee_seconds = None
        if estimator and estimator["estimator"] == "committee":
            saved = srsly.read_json(run / "run.json")
            rd = run / f"round-{k:02d}"
            trained = train_committee(BASE_CONFIG, model, size=estimator["committee_size"],
                                      train_path=rd / "train.spacy", dev_path=rd / "dev.spacy",
                                      seed=int(saved.get("seed", 0)), overrides=saved.get("learner_overrides") or {})
            committee_seconds = sum(t["seconds"] for t in trained)
        elif estimator:
            use_estimator(model, estimator)
        fitted = calibrate_pipeline(model, run / f"round-{k:02d}" / "dev.spacy")
        nlp = spacy.load(model)
        gold = load_docs(test, nlp.vocab)
        examples = [Example(p, g) for p, g in zip(nlp.pipe(bare_copy(d) for d in gold), gold)]
        seconds = timings(nlp, gold, repeats)
    scores = score_uncertainty(examples)
    raw = entity_outcomes(examples)
    # a model whose fit failed has no calibrated confidences: left out of the calibrated curve, not counted raw
    calibrated = entity_outcomes(examples, "ent_confidence_calibrated") if fitted["calibration"] else None
    return {"auroc": {**scores["uncertainty_auroc_per_measure"], "length": scores["uncertainty_auroc_length"],
                      "n_ents": scores["uncertainty_auroc_n_ents"]},
            "auroc_with_entity": {"mean_entropy": scores["uncertainty_auroc_with_entity"],
                                  "length": scores["uncertainty_auroc_with_entity_length"],
                                  "n_ents": scores["uncertainty_auroc_with_entity_n_ents"]},
            "ece_raw": scores["uncertainty_ece_raw"], "ece": scores["uncertainty_ece"], "raw": raw,
            "calibrated": calibrated, "dev_entities": fitted.get("dev_entities"), "fitted": fitted["calibration"],
            "seconds": seconds, "committee_seconds": committee_seconds}


RAW_LABELS = {"beam": "beam-relative (raw)", "mc_dropout": "share of MC dropout passes (raw)",
              "committee": "share of committee members (raw)"}


def plot(lang: str, results: List[Dict[str, Any]], path: Path, estimator: str = "beam") -> None:
    """Reliability diagram: share of entities right against confidence, raw and calibrated, pooled over seeds.

    The bins' confidence, share right and entity count are also written next to the figure (``.json``). The
    calibrated curve pools only the models whose Platt fit succeeded; the label says when some did not.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    bins: Dict[str, List[Dict[str, Any]]] = {}
    fitted = [r for r in results if r.get("calibrated") is not None]
    platt = "Platt, fitted on learner dev" + ("" if len(fitted) == len(results)
                                              else f" ({len(fitted)} of {len(results)} models fitted)")
    for key, label, pooled in (("raw", RAW_LABELS[estimator], results), ("calibrated", platt, fitted)):
        conf = [c for r in pooled for c in r[key][0]]
        hits = [h for r in pooled for h in r[key][1]]
        rows = bins[key] = [row for row in reliability(conf, hits) if row["n"]]
        ax.plot([row["confidence"] for row in rows], [row["accuracy"] for row in rows], marker="o", label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("entity confidence")
    ax.set_ylabel("share of entities right (test)")
    ax.set_title(f"{lang}: reliability of entity confidence")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    summary = {"lang": lang, "estimator": estimator, "bins": bins, "models": len(results), "fitted": len(fitted)}
    srsly.write_json(path.with_suffix(".json"), summary)


def lang_lines(lang: str, results: List[Dict[str, Any]], measures: Sequence[str] = MEASURES) -> List[str]:
    """Rows of the AUROC table and the calibration line for one language."""
    def col(key: str, name: str) -> str:
        return mean_sd([100 * r[key][name] for r in results if r[key].get(name) is not None]).replace(" (n=", " (")

    row = " | ".join(col("auroc", m) for m in (*measures, "length", "n_ents"))
    with_entity = " | ".join(col("auroc_with_entity", m) for m in ("mean_entropy", "length", "n_ents"))
    ece_raw = mean_sd([100 * r["ece_raw"] for r in results if r["ece_raw"] is not None])
    ece_cal = mean_sd([100 * r["ece"] for r in results if r["ece"] is not None and r["fitted"]])  # fits only
    fitted = sum(bool(r["fitted"]) for r in results)
    ratio = mean_sd([r["seconds"]["uncertainty"] / r["seconds"]["plain"] for r in results])
    return [f"| {lang} | {row} | {with_entity} | {ece_raw} | {ece_cal} | {fitted}/{len(results)} | {ratio} |"]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="Folder of finished gold-oracle runs")
    parser.add_argument("--corpus-root", type=Path, default=Path("corpus"))
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategy", default="entropy")
    parser.add_argument("--round", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--estimator", default="beam", choices=["beam", "mc_dropout", "committee"])
    parser.add_argument("--mc-passes", type=int, default=8)
    parser.add_argument("--committee-size", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="Repeats of the scoring timings (best is kept)")
    opts = parser.parse_args(argv)
    estimator = {"estimator": opts.estimator, "mc_passes": opts.mc_passes, "committee_size": opts.committee_size} \
        if opts.estimator != "beam" else None
    measures = MEASURES + (("bald",) if estimator else ())
    name = opts.estimator + {"beam": "", "mc_dropout": f", {opts.mc_passes} passes",
                             "committee": f" of {opts.committee_size}"}[opts.estimator]
    lines = [f"## Uncertainty on held-out test sentences (gold-oracle {opts.strategy} runs, round {opts.round}, "
             f"seeds {opts.seeds}, estimator {name})", "",
             "AUROC (%) for \"the sentence holds an entity error\"; ECE (%) of entity confidence, 10 bins; "
             "scoring time with the uncertainty component / plain nlp.pipe.", "",
             "| lang | mean entropy | max entropy | least confidence | MNLP | " + ("BALD | " if estimator else "")
             + "length (trivial) | predicted entities (trivial) | mean entropy, sentences with an entity | length, "
             "with an entity | predicted entities, with an entity | ECE raw | ECE Platt (learner dev) | "
             "calibrations fitted | scoring time / nlp.pipe |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if estimator else "")]
    notes: List[str] = []
    for lang in opts.langs:
        results = []
        for seed in opts.seeds:
            run = opts.runs / f"{lang}-gold-{opts.strategy}-seed{seed}"
            if (run / f"round-{opts.round:02d}" / "model").exists():
                results.append(measure_run(run, opts.round, opts.corpus_root / lang / "test.spacy", estimator,
                                           opts.repeats))
                print(f"measured {run.name}", file=sys.stderr, flush=True)
        if results and any(r.get("committee_seconds") is not None for r in results):
            notes.append(f"- {lang}: seconds to train the committee's other members for one round: "
                         f"{mean_sd([r['committee_seconds'] for r in results])}")
        if results:
            lines += lang_lines(lang, results, measures)
            plot(lang, results, opts.out / f"reliability_{lang}{'-' + opts.estimator if estimator else ''}.png",
                 opts.estimator)
    if notes:
        lines += ["", *notes]
    text = "\n".join(lines)
    print(text)
    name = "calibration" + (f"-{opts.estimator}" if estimator else "")
    (opts.out / f"{name}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
