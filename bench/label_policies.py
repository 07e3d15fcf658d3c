"""Label policies: what a learner taught by a SIMULATED GPT-4-Turbo learns under each policy, beside gold labels.

Runs (or resumes) the loop on the project's defaults (CNN learner, entity-rich 5% gold seed, 5% of the pool per
round by mean token entropy, 5 rounds, the learner's dev data carved out of the labelled set) with the SIMULATED
GPT-4-Turbo (``sim-gpt-4-turbo``: gold labels with GPT-4-Turbo's measured errors; no API is called) under each
label policy (``components/policy/registry.py``: ``trust`` is the paper's behaviour), and reads the gold-oracle
runs of the same seeds (the reference; ``bench/llm_labels.py`` or ``bench/label_efficiency.py`` make them).
An arm is a policy, or ``<policy>@<strategy>`` for another query strategy, with ``+seeddev`` for the learner's dev
data out of the gold seed alone (``loop.dev = "seed"``). Every arm is given the same gold seed and nothing else (no
gold dev split); the audit labels the gold seed once more (counted in the dollars). ``--against <arm>`` adds each
arm's paired difference from that arm (e.g. the default policy).

It prints, and writes to ``--doc``, per language: per round and arm, test entity F1 (mean ± sd over seeds) and
the paired difference from ``trust`` (95% t-interval over seeds), the quality of what the learner was taught
(entity F1 against gold outside the tokens made missing; the share of tokens made missing), the labels the
round received (entity F1), the dollars GPT-4-Turbo would have billed so far (from each run's ledger, answers
from the shared prompt cache counted at their first price; round 0: the audit), and the paper's
metric (token F1 over B-/I- tags at positions whose gold tag is not O, weighted: NOT entity F1, for comparison
with arXiv 2404.02261 only); then the issue's targets per arm: last round - seed round >= 6 F1 and last round >=
90% of gold-oracle active learning, both paired by seed. ``--selection`` adds, per round, the label F1 of the
sentences each arm selected against that of the whole remaining pool (what random selection gets on average),
from the simulated model's labels of every train sentence.

    python bench/label_policies.py --langs bam tsn zul --seeds 0 1 2 3 4 --arms trust disagree types gold3 \\
        combined --jobs 2 --out bench/results/policies --gold-runs bench/results/base/runs \\
        --doc docs/benchmarks/label_policies.md

Every run is resumable, so the script can be stopped and started again; ``--report-only`` writes the tables from
the runs present (a seed counts for an arm once all its rounds are finished).
"""
import argparse
import itertools
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import srsly

from jobs import run_all
from spacy_llm_loop.loop.settings import run_name
from spacy_llm_loop.policy.registry import PRESETS, make_label_policy
from stats import gain_cells, interval, mean_over_rounds, mean_sd, paired, share_cells

LLM = "sim-gpt-4-turbo"
SEED_GAIN_TARGET = 6.0  # last round - seed round, F1 points
GOLD_SHARE_TARGET = 90.0  # last round / gold-oracle last round, %


class ArmSpec(NamedTuple):
    """What an arm's runs were given: the label policy, the selection strategy and the learner's dev data."""

    policy: str
    strategy: str = "entropy"
    dev: str = "labelled"


def parse_arm(arm: str) -> ArmSpec:
    """``disagree`` -> (``disagree``, ``entropy``, ``labelled``); ``disagree@entropy-quality``: another strategy;
    a ``+seeddev`` suffix: the learner's dev data from the gold seed only (``loop.dev = "seed"``)."""
    arm, plus, dev = arm.partition("+")
    if plus and dev != "seeddev":
        raise SystemExit(f"unknown arm suffix '+{dev}' (only +seeddev)")
    policy, _, strategy = arm.partition("@")
    if policy not in PRESETS:
        raise SystemExit(f"unknown label policy '{policy}' in arm '{arm}'; choose from {', '.join(PRESETS)}")
    return ArmSpec(policy, strategy or "entropy", "seed" if plus else "labelled")


def folder(lang: str, annotator: str, policy: str, strategy: str, seed: int, dev: str = "labelled",
           pretrained: bool = False) -> str:
    """The loop's default run folder name (the loop's own naming; ``pretrained``: started from tok2vec weights)."""
    settings = SimpleNamespace(lang=lang, run_name=None, seed=seed, warm_start=False, dev=dev,
                               learner_config=Path("configs/learner-cnn.cfg"),
                               label_policy=make_label_policy(name=policy, **PRESETS[policy]))
    return run_name(settings, SimpleNamespace(name=annotator, gives_gold=annotator == "gold"),
                    SimpleNamespace(name=strategy), pretrained=pretrained)


def jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """Loop commands seed by seed, language by language, arm by arm (finished loops return at once)."""
    todo = []
    for seed, lang, arm in itertools.product(opts.seeds, opts.langs, opts.arms):
        policy, strategy, dev = parse_arm(arm)
        args = ["loop", "--lang", lang, "--annotator", opts.annotator, "--strategy", strategy, "--seed", str(seed),
                "--label-policy", policy, "--runs-dir", str(runs_root(opts, policy, strategy, dev)),
                "--rounds", str(opts.rounds), "--annotator.cache_path", str(opts.out / "cache" / "llm.sqlite"),
                "--loop.dev", dev]
        if opts.hardness_dir:  # the hardness-aware simulator's per-sentence file (bench/hardness_file.py)
            args += ["--annotator.model_settings.hardness", str(opts.hardness_dir / lang / "hardness.jsonl")]
        todo.append((folder(lang, opts.annotator, policy, strategy, seed, dev), args))
    return todo


def runs_root(opts: argparse.Namespace, policy: str, strategy: str, dev: str = "labelled") -> Path:
    """Where an arm's runs are: the trust arm's may be elsewhere (``--trust-runs``)."""
    trust = policy == "trust" and strategy == "entropy" and dev == "labelled" and opts.trust_runs
    return opts.trust_runs if trust else opts.out / "runs"


class Arm:
    """One arm's finished runs on one language: per round and seed, what the report needs."""

    def __init__(self, root: Path, lang: str, annotator: str, policy: str, strategy: str, seeds: Sequence[int],
                 rounds: int, dev: str = "labelled", pretrained: bool = False) -> None:
        self.f1: Dict[int, Dict[int, float]] = {}
        self.pr: Dict[int, Dict[int, Tuple[float, float]]] = {}  # test entity precision and recall
        self.paper: Dict[int, Dict[int, float]] = {}
        self.size: Dict[int, Dict[int, int]] = {}
        self.taught: Dict[int, Dict[int, Dict]] = {}
        self.received: Dict[int, Dict[int, float]] = {}
        self.dollars: Dict[int, Dict[int, float]] = {}
        self.selected: Dict[int, Dict[int, List[str]]] = {}
        self.root = root
        for seed in seeds:
            run_dir = root / folder(lang, annotator, policy, strategy, seed, dev, pretrained)
            path = run_dir / "loop.json"
            loop = srsly.read_json(path) if path.exists() else {}
            records = loop.get("rounds", [])
            if len(records) < rounds + 1:
                continue  # unfinished: left out, so that every round has the same seeds
            billed = billed_by_round(run_dir)
            spent = 0.0
            for r in records:
                k = r["round"]
                self.f1.setdefault(k, {})[seed] = 100 * r["test"]["ents_f"]
                self.pr.setdefault(k, {})[seed] = (100 * r["test"]["ents_p"], 100 * r["test"]["ents_r"])
                self.paper.setdefault(k, {})[seed] = 100 * r["test"]["paper_token_f1_entity_positions"]["weighted"]
                self.size.setdefault(k, {})[seed] = r["n_labelled"]
                a = r.get("annotation") or {}
                spent += billed.get(k, 0.0)  # round 0: the audit
                self.dollars.setdefault(k, {})[seed] = spent
                if (r.get("taught") or {}).get("round"):
                    self.taught.setdefault(k, {})[seed] = r["taught"]["round"]
                if a.get("ents_f") is not None:
                    self.received.setdefault(k, {})[seed] = 100 * a["ents_f"]
                selection = run_dir / f"round-{k:02d}" / "selection.json"
                if k > 0 and selection.exists():
                    self.selected.setdefault(k, {})[seed] = [x["id"] for x in srsly.read_json(selection)["selected"]]

    @property
    def seeds(self) -> List[int]:
        """Seeds with every round finished."""
        return sorted(self.f1.get(0, {}))


def billed_by_round(run_dir: Path) -> Dict[int, float]:
    """USD per round that the run's ledger says GPT-4-Turbo would bill, answers from the shared prompt cache counted
    at what they cost when first asked (the arms share one cache, so whichever ran first paid for the rest)."""
    from spacy_llm_loop.cost.ledger import read_ledger, spend_by_round

    path = run_dir / "llm-usage.jsonl"
    if not path.exists():
        return {}
    records, _ = read_ledger(path)
    return {k: v["cost_usd"] + v["cached_cost_usd"] for k, v in spend_by_round(records).items()}


def load_arms(opts: argparse.Namespace, lang: str) -> Dict[str, "Arm"]:
    """Every arm's finished runs on one language, by arm name."""
    arms = {}
    for arm in opts.arms:
        policy, strategy, dev = parse_arm(arm)
        arms[arm] = Arm(runs_root(opts, policy, strategy, dev), lang, opts.annotator, policy, strategy, opts.seeds,
                        opts.rounds, dev)
    return arms


def lang_lines(opts: argparse.Namespace, lang: str, pool_f1: Optional[Dict[str, List[str]]],
               arms: Optional[Dict[str, "Arm"]] = None) -> List[str]:
    """The tables of one language (``arms``: its arms, when already read)."""
    gold = Arm(opts.gold_runs or opts.out / "runs", lang, "gold", "trust", "entropy", opts.seeds, opts.rounds)
    arms = load_arms(opts, lang) if arms is None else arms
    trust = arms.get("trust")
    against = opts.against if opts.against in arms else None
    lines = [f"### {lang}", "", "| arm | round | labelled | test entity F1 | - trust (paired, 95% CI) | "
             "taught: entity F1 | taught: tokens missing | labels received: entity F1 | $ so far | "
             "paper's metric (token F1, weighted) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(gold.f1):
        lines.append(f"| gold oracle | {k} | {np.mean(list(gold.size[k].values())):.0f} | "
                     f"{mean_sd(list(gold.f1[k].values()))} | - | - | - | - | - | "
                     f"{np.mean(list(gold.paper[k].values())):.1f} |")
    for name, arm in arms.items():
        for k in sorted(arm.f1):
            taught = list(arm.taught.get(k, {}).values())
            if not taught and name == "trust":  # runs from before the taught record: trust teaches what it received
                taught = [{"ents_f": v / 100, "missing_share": 0.0} for v in arm.received.get(k, {}).values()]
            diff = paired(arm.f1[k], trust.f1.get(k, {})) if trust is not None and name != "trust" else "-"
            lines.append(
                f"| {name} | {k} | {np.mean(list(arm.size[k].values())):.0f} | {mean_sd(list(arm.f1[k].values()))} | "
                f"{diff} | {_mean([100 * t['ents_f'] for t in taught])} | "
                f"{_mean([100 * t['missing_share'] for t in taught], '%')} | "
                f"{_mean(list(arm.received.get(k, {}).values()))} | {np.mean(list(arm.dollars[k].values())):.2f} | "
                f"{np.mean(list(arm.paper[k].values())):.1f} |")
    lines += ["", f"- seeds with all rounds finished: gold oracle {gold.seeds}; "
              + "; ".join(f"{name} {arm.seeds}" for name, arm in arms.items()), "",
              "| arm | last round F1 | last - seed round (paired, 95% CI) | target +6 | last / gold oracle last "
              "(paired, 95% CI) | target 90% | mean over rounds 1-5 - trust (paired) |"
              + (f" last round - {against} (paired) | mean over rounds 1-5 - {against} (paired) |" if against else ""),
              "|---|---|---|---|---|---|---|" + ("---|---|" if against else "")]
    for name, arm in arms.items():
        if not arm.f1:
            continue
        last = max(arm.f1)
        means = mean_over_rounds(arm.f1, range(1, last + 1))
        vs_trust = paired(means, mean_over_rounds(trust.f1, range(1, last + 1))) if trust and name != "trust" else "-"
        vs_against = ""
        if against:
            base = arms[against]
            vs_against = " - | - |" if name == against else (
                f" {paired(arm.f1[last], base.f1.get(last, {}))} | "
                f"{paired(means, mean_over_rounds(base.f1, range(1, last + 1)))} |")
        lines.append(f"| {name} | {mean_sd(list(arm.f1[last].values()))} | "
                     f"{gain_cells(arm.f1[last], arm.f1[0], SEED_GAIN_TARGET)} | "
                     f"{share_cells(arm.f1[last], gold.f1.get(last, {}), GOLD_SHARE_TARGET)} | "
                     f"{vs_trust} |{vs_against}")
    lines += ["", precision_recall_table({"gold oracle": gold, **arms})]
    if pool_f1 is not None:
        lines += ["", selection_table(arms, pool_f1)]
    return lines + [""]


def pooled_lines(opts: argparse.Namespace, arms_by_lang: Optional[Dict[str, Dict[str, "Arm"]]] = None) -> List[str]:
    """Each arm against ``--against``, paired over every (language, seed) pair of the languages given: one sample
    of languages x seeds (a language with more seeds weighs more), for a default chosen on all languages at once
    rather than on each alone. The last round is each language's, as in its own table."""
    diffs: Dict[str, Tuple[Dict[str, float], Dict[str, float]]] = {}
    for lang in opts.langs:
        arms = (arms_by_lang or {}).get(lang) or load_arms(opts, lang)
        base = arms[opts.against]
        for name, arm in arms.items():
            if name == opts.against or not arm.f1 or not base.f1:
                continue
            last = max(arm.f1)
            means = mean_over_rounds(arm.f1, range(1, last + 1))
            base_means = mean_over_rounds(base.f1, range(1, last + 1))
            by_last, by_mean = diffs.setdefault(name, ({}, {}))
            for seed in set(arm.f1[last]) & set(base.f1.get(last, {})):
                by_last[f"{lang}:{seed}"] = arm.f1[last][seed] - base.f1[last][seed]
            for seed in set(means) & set(base_means):
                by_mean[f"{lang}:{seed}"] = means[seed] - base_means[seed]
    lines = [f"### All languages, pooled: each arm against {opts.against}", "",
             "(language, seed) pairs as one paired sample (95% t-interval); a language with more seeds weighs more.",
             "", f"| arm | pairs | last round - {opts.against} | mean over rounds 1-last - {opts.against} |",
             "|---|---|---|---|"]
    for name, (by_last, by_mean) in diffs.items():
        cells = ["{:+.2f} [{:+.2f}, {:+.2f}]".format(*interval(list(values.values()))) if len(values) > 1 else "-"
                 for values in (by_last, by_mean)]  # one pair gives no interval
        counts = ", ".join(f"{lang} {sum(key.startswith(lang + ':') for key in by_mean)}" for lang in opts.langs)
        lines.append(f"| {name} | {len(by_mean)} ({counts}) | {cells[0]} | {cells[1]} |")
    return lines + [""]


def precision_recall_table(arms: Dict[str, "Arm"]) -> str:
    """Test entity precision and recall at the seed round and the last, mean over seeds: which one an arm lacks."""
    lines = ["| arm | seed round: precision / recall | last round: precision / recall |", "|---|---|---|"]
    for name, arm in arms.items():
        if not arm.pr:
            continue
        cells = []
        for k in (0, max(arm.pr)):
            values = list(arm.pr[k].values())
            precision, recall = (sum(v[i] for v in values) / len(values) for i in (0, 1))
            cells.append(f"{precision:.1f} / {recall:.1f}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _mean(values: Sequence[float], unit: str = "") -> str:
    return f"{np.mean(values):.1f}{unit}" if len(values) else "-"


# -- the label quality of what a strategy selects, against the pool --------------------------------------------------
def simulated_labels(lang: str, out: Path, annotator_name: str = LLM,
                     hardness: Optional[Path] = None) -> Dict[str, Optional[List[str]]]:
    """The SIMULATED annotator's tags for every train sentence of ``lang`` (None: dropped), made once through the
    real annotator pipeline (in-process, no cache) and kept in ``<out>/sim-labels/<lang>.jsonl`` (``<out>`` is one
    annotator's: the hardness-aware one also reads its ``hardness`` file)."""
    path = out / "sim-labels" / f"{lang}.jsonl"
    if not path.exists():
        from spacy.util import registry

        import spacy_llm_loop.annotators.llm  # noqa: F401  (registers the annotator)
        from spacy_llm_loop.annotators.base import AnnotationRequest, annotator_block
        from spacy_llm_loop.data.corpus import load_docs
        from spacy_llm_loop.data.docs import sentence_id
        from spacy_llm_loop.fileio import write_jsonl

        settings = {"gold": f"corpus/{lang}/train.spacy", **({"hardness": str(hardness)} if hardness else {})}
        block = {**annotator_block(annotator_name), "lang": lang, "cache_path": None, "model_settings": settings}
        annotator = registry.resolve({"a": block})["a"]
        docs = load_docs(Path("corpus") / lang / "train.spacy")
        requests = [AnnotationRequest(sentence_id(d), [t.text for t in d]) for d in docs]
        write_jsonl(path, ({"id": a.id, "tags": a.tags} for a in annotator(requests)))
    return {r["id"]: r["tags"] for r in srsly.read_jsonl(path)}


def label_f1(ids: Sequence[str], labels: Dict[str, Optional[List[str]]], gold: Dict[str, List[str]]) -> float:
    """Entity F1 of the simulated labels of ``ids`` against gold (a dropped answer predicts nothing)."""
    from spacy_llm_loop.evaluation.metrics import tag_agreement

    kept = [i for i in ids if i in gold]
    pred = [labels.get(i) or ["O"] * len(gold[i]) for i in kept]
    return 100 * tag_agreement([gold[i] for i in kept], pred)["ents_f"]


def selection_table(arms: Dict[str, "Arm"], data: Dict[str, object]) -> str:
    """Per arm and round: label F1 of the sentences selected and of the pool left at that round (mean over seeds)."""
    labels, gold, seed_ids = data["labels"], data["gold"], data["seed_ids"]
    rows = ["| arm | round | label F1, selected | label F1, the pool then (random selection's expectation) | "
            "selected - pool |", "|---|---|---|---|---|"]
    for name, arm in arms.items():
        for k in sorted(arm.selected):
            chosen, pool = [], []
            for seed, ids in arm.selected[k].items():
                taken = set(seed_ids(arm, seed)) | {i for j in range(1, k) for i in arm.selected[j].get(seed, [])}
                chosen.append(label_f1(ids, labels, gold))
                pool.append(label_f1([i for i in gold if i not in taken], labels, gold))
            rows.append(f"| {name} | {k} | {np.mean(chosen):.1f} | {np.mean(pool):.1f} | "
                        f"{np.mean(chosen) - np.mean(pool):+.1f} |")
    return "\n".join(rows)


def selection_data(opts: argparse.Namespace, lang: str) -> Dict[str, object]:
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import doc_tags, sentence_id

    gold = {sentence_id(d): doc_tags(d) for d in load_docs(Path("corpus") / lang / "train.spacy")}

    def seed_ids(arm: Arm, seed: int) -> List[str]:
        for path in arm.root.glob(f"{lang}-*seed{seed}/seed.json"):
            return srsly.read_json(path)["ids"]
        return []

    hardness = opts.hardness_dir / lang / "hardness.jsonl" if opts.hardness_dir else None
    return {"labels": simulated_labels(lang, opts.out, opts.annotator, hardness), "gold": gold, "seed_ids": seed_ids}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["bam", "tsn", "zul"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--arms", nargs="+", default=["trust", "disagree", "types", "gold3", "combined"],
                        help="Label policies, or <policy>@<strategy>")
    parser.add_argument("--annotator", default=LLM,
                        help="The annotator's short name (sim-gpt-4-turbo-hard: the hardness-aware simulator)")
    parser.add_argument("--hardness-dir", type=Path, default=None,
                        help="With sim-gpt-4-turbo-hard: <dir>/<lang>/hardness.jsonl (bench/hardness_file.py)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="Runs in parallel (one core each)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/policies"))
    parser.add_argument("--gold-runs", type=Path, default=None, help="The gold-oracle runs (default: <out>/runs)")
    parser.add_argument("--trust-runs", type=Path, default=None,
                        help="The trust arm's runs, when they are elsewhere (bench/llm_labels.py's)")
    parser.add_argument("--against", default=None,
                        help="An arm the others are also compared with, paired (e.g. the default policy)")
    parser.add_argument("--selection", action="store_true", help="Add the label quality of what each arm selected")
    parser.add_argument("--doc", type=Path, default=None, help="Also write the tables to this Markdown file")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--title", default="Label policies: SIMULATED GPT-4-Turbo labels under each policy, beside "
                                           "gold labels")
    parser.add_argument("--note-file", type=Path, default=None,
                        help="Markdown put under the header: what the tables alone do not say (e.g. which runs came "
                             "from older code)")
    opts = parser.parse_args(argv)
    for arm in opts.arms:
        parse_arm(arm)
    if opts.against is not None and opts.against not in opts.arms:
        raise SystemExit(f"--against {opts.against} is not one of the arms ({', '.join(opts.arms)})")
    if not opts.report_only:
        run_all(jobs(opts), opts.out / "logs", opts.jobs)
    lines = [f"## {opts.title}", "",
             f"Written by `python bench/label_policies.py {shlex.join(argv if argv is not None else sys.argv[1:])}`. "
             f"CNN learner, entity-rich 5% gold seed, 5% of the pool per round by mean entropy unless an arm names "
             f"another strategy, {opts.rounds} rounds, the learner's dev data carved out of its labelled set"
             + (" (`+seeddev` arms: out of the gold seed alone)" if any("+" in a for a in opts.arms) else "") + "; "
             f"seeds {opts.seeds}, paired by seed (same seed set, learner seed and tie-breaks). The annotator "
             f"(`{opts.annotator}`) is SIMULATED (gold labels with GPT-4-Turbo's measured errors), not GPT-4-Turbo; "
             "dollars are what "
             "GPT-4-Turbo would have billed for the same prompts and answers, the audit of the gold seed included.",
             ""]
    if opts.note_file:
        lines += [opts.note_file.read_text(encoding="utf-8").strip(), ""]
    arms_by_lang = {lang: load_arms(opts, lang) for lang in opts.langs}
    for lang in opts.langs:
        lines += lang_lines(opts, lang, selection_data(opts, lang) if opts.selection else None, arms_by_lang[lang])
    if opts.against is not None and len(opts.langs) > 1:
        lines += pooled_lines(opts, arms_by_lang)
    text = "\n".join(lines)
    print(text)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "label_policies.md").write_text(text + "\n", encoding="utf-8")
    if opts.doc:
        opts.doc.parent.mkdir(parents=True, exist_ok=True)
        opts.doc.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
