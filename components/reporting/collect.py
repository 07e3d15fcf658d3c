"""Gather what the runs and baselines wrote, grouped for the report."""
import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import srsly

from ..package_data import read_text
from ..policy.registry import make_label_policy, policy_tag

PUBLISHED = "resources/published_f1.csv"  # package data
NOT_AVAILABLE = float("nan")  # the test F1 of a run without gold test data: not available, never zero


@dataclass
class Curve:
    """One (lang, annotator, strategy, learner) group: per round, the labelled-set size and test F1 of each seed.

    The labelled-set size counts every labelled sentence, including those the learner held out as its dev
    data (``-seeddev``: out of the gold seed only); a learner variant ending in ``-oracledev`` was given the gold
    dev split on top (free labels).
    """

    lang: str
    annotator: str
    strategy: str
    learner: str = "cnn"
    seed_source: str = "gold"  # "annotator": no gold seed, the annotator labelled it (a corpus of one's own)
    seeds: List[int] = field(default_factory=list)
    n_train: Dict[int, List[int]] = field(default_factory=lambda: defaultdict(list))
    f1: Dict[int, List[float]] = field(default_factory=lambda: defaultdict(list))
    labels: Dict[int, List[Dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    taught: Dict[int, List[Dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    audits: List[Dict[str, Any]] = field(default_factory=list)  # each seed's audit summary (loop.json)
    reviews: Dict[int, List[Dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # record["review"]

    @property
    def label(self) -> str:
        """Legend text."""
        learner = "" if self.learner == "cnn" else f", {self.learner}"
        return f"{self.strategy} ({self.annotator}{learner})"

    def rounds(self) -> List[int]:
        """Rounds that at least one seed finished."""
        return sorted(self.f1)

    @property
    def has_test(self) -> bool:
        """Whether the runs were evaluated on gold test data (a corpus of one's own may have none)."""
        return any(not np.isnan(value) for values in self.f1.values() for value in values)

    def stats(self, k: int) -> Tuple[float, float, float, int]:
        """``(mean labelled sentences, mean F1, sd F1, n_seeds)`` at round ``k`` (F1 in %; NaN without test
        data)."""
        f1 = 100 * np.asarray(self.f1[k])
        return float(np.mean(self.n_train[k])), float(f1.mean()), float(f1.std(ddof=1) if len(f1) > 1 else 0.0), len(f1)

    def label_quality(self, k: int) -> Optional[Dict[str, Any]]:
        """The labels round ``k`` received, over seeds: token accuracy and entity F1 against gold (%, mean), the
        share of requested sentences dropped (%) and why (counts); None for a round that annotated nothing."""
        records = [a for a in self.labels.get(k, []) if a.get("n_requested")]
        if not records:
            return None
        reasons: Dict[str, int] = defaultdict(int)
        for a in records:
            for reason, count in (a.get("drop_reasons") or {}).items():
                reasons[reason] += count
        accuracy = [a["token_accuracy"] for a in records if a.get("token_accuracy") is not None]
        ents_f = [a["ents_f"] for a in records if a.get("ents_f") is not None]
        return {"token_accuracy": 100 * float(np.mean(accuracy)) if accuracy else None,
                "ents_f": 100 * float(np.mean(ents_f)) if ents_f else None,
                "dropped": 100 * sum(a["n_dropped"] for a in records) / sum(a["n_requested"] for a in records),
                "reasons": dict(sorted(reasons.items()))}


def taught_quality(curve: Curve, k: int) -> Optional[Dict[str, float]]:
    """What round ``k``'s answers taught after the label policy, over seeds: entity F1 against gold outside the
    missing tokens and the share of tokens made missing (%, means); None without figures."""
    records = [t for t in curve.taught.get(k, []) if t.get("sentences")]
    if not records:
        return None
    return {"ents_f": 100 * float(np.mean([t["ents_f"] for t in records])),
            "missing": 100 * float(np.mean([t["missing_share"] for t in records]))}


def review_quality(curve: Curve, k: int) -> Optional[Dict[str, float]]:
    """Round ``k``'s review over seeds: sentences accepted and changed by the reviewer, the person's hours (central
    estimate; means); None without review."""
    records = curve.reviews.get(k, [])
    if not records:
        return None
    return {"reviewed": float(np.mean([r["accepted"] for r in records])),
            "changed": float(np.mean([r["changed"] for r in records])),
            "hours": float(np.mean([r["person_hours"]["central"] for r in records]))}


def collect_runs(runs_dir: Path) -> Dict[Tuple[str, str, str, str], Curve]:
    """Every ``runs/*/loop.json``, grouped by language, annotator, strategy and learner (with ``warm``, the oracle
    dev, transfer, pretrained tok2vec and an estimator other than the beam: ``cnn+committee``)."""
    curves: Dict[Tuple[str, str, str, str], Curve] = {}
    for path in sorted(Path(runs_dir).glob("*/loop.json")):
        run = srsly.read_json(path)
        learner = run.get("learner", "cnn") + ("-warm" if run.get("warm_start") else "")
        dev = run.get("dev", "oracle")  # runs before the honest dev: oracle
        learner += f"-{dev}dev" if dev in ("oracle", "seed") else ""
        learner += f"+tx({'+'.join(run['transfer']['langs'])})" if run.get("transfer") else ""
        learner += "+pt" if run.get("init_tok2vec") else ""
        estimator = run_estimator(path.parent, run)
        learner += f"+{estimator}" if estimator != "beam" else ""
        settings = run.get("label_policy") or {}
        policy = make_label_policy(**settings) if settings else None
        shown = policy is not None and not policy.is_trust and run["annotator"] != "gold"
        tag = policy_tag(policy) if shown and policy is not None else "trust"
        annotator = run["annotator"] + (f", {tag} labels" if shown else "")
        review = run.get("review")
        if review:  # reviewed runs are their own curve
            who = "SIMULATED reviewer" if review["reviewer"] == "simulated" else review["reviewer"]
            annotator += f", review {review['budget']} {review['rank']} ({who}{'' if review['wait'] else ', no wait'})"
        key = (run["lang"], annotator, run["strategy"], learner)
        curve = curves.setdefault(key, Curve(*key))
        curve.seeds.append(run["seed"])
        curve.seed_source = run.get("seed_source", "gold")
        for record in run["rounds"]:
            curve.n_train[record["round"]].append(record.get("n_labelled", record["n_train"]))
            curve.f1[record["round"]].append(NOT_AVAILABLE if record["test"] is None else record["test"]["ents_f"])
            if record.get("annotation"):
                curve.labels[record["round"]].append(record["annotation"])
            if (record.get("taught") or {}).get("round"):
                curve.taught[record["round"]].append(record["taught"]["round"])
            if record.get("review"):
                curve.reviews[record["round"]].append(record["review"])
        if run.get("audit"):
            curve.audits.append(run["audit"])
    return curves


def run_estimator(folder: Path, run: Dict[str, Any]) -> str:
    """The run's uncertainty estimator: ``loop.json`` says it; for runs from before it did, the estimator override
    in ``run.json``'s learner overrides (``beam`` when there is none)."""
    if run.get("estimator"):
        return str(run["estimator"])
    try:
        saved = srsly.read_json(folder / "run.json")
    except (OSError, ValueError):  # no run.json, or not JSON: the report still reads the run's curve
        return "beam"
    return str((saved.get("learner_overrides") or {}).get("components.uncertainty.estimator") or "beam")


def collect_full_data(baselines_dir: Path) -> Dict[str, List[float]]:
    """Test entity F1 (%) of every full-data baseline, by language."""
    scores: Dict[str, List[float]] = defaultdict(list)
    for path in sorted(Path(baselines_dir).glob("*-full-seed*/metrics.json")):
        lang = path.parent.name.split("-full-seed")[0]
        scores[lang].append(100 * srsly.read_json(path)["test"]["ents_f"])
    return dict(scores)


def published_f1(lang: str, model: str = "afroxlmr", path: Optional[Path] = None) -> Optional[float]:
    """The published test entity F1 (%) of ``model`` on ``lang`` (AfroXLMR-large by default).

    ``path``: a CSV of the same shape (default: the packaged ``resources/published_f1.csv``).
    ``None`` for a language without published results (luo); an unknown ``model``
    (e.g. the unreliable afriberta/mbert columns, left out of the file) raises.
    """
    text = Path(path).read_text(encoding="utf-8") if path else read_text(PUBLISHED)
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    models = [name for name in rows.fieldnames or [] if name != "lang"]
    if model not in models:
        raise ValueError(f"{path or PUBLISHED}: no published F1 for model '{model}'; columns: {', '.join(models)}")
    for row in rows:
        if row["lang"] == lang and row[model]:
            return float(row[model])
    return None
