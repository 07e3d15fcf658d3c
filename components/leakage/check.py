"""``leakage``: the overlap check of every run and of the datasets themselves, with its verdict.

An error (the command exits non-zero, listing the items): a few-shot example that is a test sentence or
duplicates one, or a sentence the loop itself took from the test split into its training data (seed or
annotated pool). A train sentence that MasakhaNER itself repeats in its test split (exact or near
duplicate) is not the loop's doing: it is listed as a warning per run, and the dataset's own duplicates
across and within splits are counted per language (``datasets``).
"""
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import srsly

from .overlap import OverlapSettings
from .overlap_run import check_run, corpus_overlap

logger = logging.getLogger(__name__)


def classify(result: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """The run check's offending items split into ``errors`` (the loop's doing) and ``warnings`` (the data's)."""
    errors = list(result["errors"]["examples_from_test"]["items"])
    errors += [i for i in result["errors"]["test_in_training"]["items"] if i["reason"] == "test_split"
               and i["set"] != "examples"]
    warnings = [i for i in result["errors"]["test_in_training"]["items"] if i["reason"] != "test_split"
                and i["set"] != "examples"]
    return {"errors": errors, "warnings": warnings}


def prompt_examples(run_dir: Path) -> int:
    """How many k-shot examples the run's prompts carried: 0 for a run that asked no LLM (no usage ledger), else
    the annotator config's ``examples.n`` (2 when it cannot be read)."""
    if not (run_dir / "llm-usage.jsonl").exists():
        return 0
    identity = (srsly.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}).get(
        "annotator_identity") or {}
    try:
        from thinc.api import Config

        from ..package_data import annotator_config_text

        config = Config().from_str(annotator_config_text(identity["config"]), interpolate=False)
        examples = config["components"]["llm"]["task"].get("examples") or {}
        return int(examples.get("n", 2)) if examples else 0  # no examples block: zero-shot prompts
    except (KeyError, ValueError, OSError):
        return 2


def leakage_overlap(runs_dir: Path, corpus_root: Path, langs: Optional[Sequence[str]] = None,
                    settings: OverlapSettings = OverlapSettings()) -> Dict[str, Any]:
    """Every run folder under ``runs_dir`` (of ``langs`` if given) and every language's corpus."""
    runs: Dict[str, Any] = {}
    seen_langs = set(langs or [])
    for path in sorted(Path(runs_dir).glob("*/loop.json")):
        loop = srsly.read_json(path)
        if langs and loop["lang"] not in langs:
            continue
        seen_langs.add(loop["lang"])
        result = check_run(path.parent, corpus_root / loop["lang"], n_examples=prompt_examples(path.parent),
                           settings=settings)
        runs[loop["run"]] = {**result, **classify(result)}
        logger.info("%s: %d errors, %d warnings", loop["run"], len(runs[loop["run"]]["errors"]),
                    len(runs[loop["run"]]["warnings"]))
    datasets = {lang: corpus_overlap(corpus_root / lang, settings) for lang in sorted(seen_langs)
                if (corpus_root / lang / "train.spacy").exists()}
    errors = [{"run": name, **item} for name, run in runs.items() for item in run["errors"]]
    return {"runs_dir": str(runs_dir), "ok": not errors, "errors": errors, "runs": runs, "datasets": datasets,
            "settings": settings.__dict__, "method": METHOD}


METHOD = ("texts normalised (NFC, casefolded, punctuation removed, whitespace collapsed); exact duplicates: equal "
          "normalised text; near duplicates: Jaccard similarity of character 5-gram sets >= threshold, candidates "
          "from MinHash LSH (datasketch), every candidate verified with the exact Jaccard; texts shorter than "
          "min_chars matched exactly only")


def leakage_markdown(report: Dict[str, Any]) -> str:
    """The overlap part of the leakage report as Markdown."""
    lines = ["# Data leakage: overlap", "", f"Method: {report['method']}; threshold {report['settings']['threshold']}.",
             "", "## The datasets' own duplicates (MasakhaNER 2.0, sentence pairs)", "",
             "| lang | train-dev exact / near | train-test exact / near | dev-test exact / near | within train | "
             "within dev | within test |", "|---|---|---|---|---|---|---|"]
    for lang, data in report["datasets"].items():
        pairs, within = data["pairs"], data.get("within", {})

        def cell(counts: Dict[str, Any]) -> str:
            return f"{counts['exact']['pairs']} / {counts['near']['pairs']}"
        lines.append(f"| {lang} | {cell(pairs['train|dev'])} | {cell(pairs['train|test'])} | "
                     f"{cell(pairs['dev|test'])} | " + " | ".join(cell(within[s]) if s in within else "–"
                                                                  for s in ("train", "dev", "test")) + " |")
    lines += ["", "## Runs", "", "| run | verdict | errors (the loop's doing) | warnings (train sentences the "
              "dataset repeats in test) |", "|---|---|---|---|"]
    for name, run in report["runs"].items():
        verdict = "LEAK" if run["errors"] else "clean"
        warned = ", ".join(f"{w['set']} {w['id']} ~ {w['test_id']} ({w['reason']})" for w in run["warnings"][:4])
        lines.append(f"| {name} | {verdict} | {len(run['errors'])} | {len(run['warnings'])}"
                     + (f": {warned}" if warned else "") + " |")
    lines += memorisation_markdown(report.get("memorisation"))
    lines += logprob_markdown(report.get("logprob"))
    if report["errors"]:
        lines += ["", "## Errors", ""] + [f"- {e['run']}: {e['set']} sentence {e['id']} ({e['reason']}"
                                          + (f", test {e['test_id']}" if e.get("test_id") else "") + f"): {e['text']}"
                                          for e in report["errors"]]
    return "\n".join(lines) + "\n"


def memorisation_markdown(memorisation: Optional[Dict[str, Any]]) -> List[str]:
    """The memorisation probes' table and verdict, if they ran."""
    if not memorisation:
        return ["", "Memorisation probes: not run (give `--probe-annotator`, e.g. `gpt-4-turbo`)."]
    lines = ["", f"## Memorisation probes: {memorisation['model']} ({memorisation['annotator']}), temperature 0, "
                 f"{memorisation['n']} sentences per probe and language, seed {memorisation['seed']}", "",
             "| lang | probe | n | rate [95% CI] | memorised share [95% CI] | test | p |",
             "|---|---|---|---|---|---|---|"]
    for lang, results in memorisation["results"].items():
        for name, r in results.items():
            stat, share, test = r["statistic"], r["memorised_share"], r["test"]
            value = stat.get("value")
            interval = stat.get("interval") or {}
            rate = "–" if value is None else (f"{value:.3f}" + (f" [{interval['low']:.3f}, {interval['high']:.3f}]"
                                                                if "low" in interval else ""))
            lines.append(f"| {lang} | {name} | {r['n']} | {rate} | {share['estimate']:.3f} [{share['low']:.3f}, "
                         f"{share['high']:.3f}] | {test['name']} | {test['p_value']:.3g} |")
    decision = memorisation.get("verdict")
    if decision:
        lines += ["", f"Verdict: **{decision['overall']}** ("
                  + ", ".join(f"{lang}: {v['verdict']}" for lang, v in decision["languages"].items())
                  + f"). Rule: {decision['rule']}"]
    return lines


def logprob_markdown(logprob: Optional[Dict[str, Any]]) -> List[str]:
    """The Min-K%++ table, if it ran."""
    if not logprob:
        return ["", "Min-K%++ (open-weight models): not run (give `--logprob-endpoint` and `--nonmembers`)."]
    lines = ["", "## Min-K%++ (log-probabilities from a completions endpoint)", "",
             "| lang | model | members / non-members | AUROC [95% CI] | p (Mann-Whitney) | verdict | notes |",
             "|---|---|---|---|---|---|---|"]
    for lang, r in logprob.items():
        t = r["test"]
        lines.append(f"| {lang} | {r['model']} | {r['n']} / {r['n_nonmembers']} | {t['auroc']:.3f} "
                     f"[{t['ci_low']:.3f}, {t['ci_high']:.3f}] | {t['p_value']:.3g} | {r['verdict']} | "
                     f"{'; '.join(r['notes'])} |")
    return lines
