"""``annotator-eval``: one row per recorded file, compared with the paper, as JSON (and Markdown).

Nothing here calls a model: it judges what was recorded. :func:`evaluate_recorded` is the pure function;
:func:`annotator_eval` also writes the files.
"""
import dataclasses
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..fileio import write_json, write_text
from .agreement import PAPER_RUNS, consistency, entity_agreement, fleiss_kappa_runs
from .entities import N_BOOTSTRAP, SEED, entity_scores
from .failures import count_failures
from .markdown import format_markdown
from .paper import paper_figures
from .recorded import Recording, find_recordings, read_recording

logger = logging.getLogger(__name__)
CONSISTENCY_TOLERANCE = 0.02  # percentage points: the paper rounds to 2 decimals
KAPPA_TOLERANCE = 0.001
F1_TOLERANCE = 0.01
FAR_LOWER = 0.10  # entity F1 this far (or more) below token accuracy counts as "far lower"

DEFINITIONS = {
    "consistency": "token accuracy against gold including O, per record averaged over its runs, then averaged "
                   "over records (the paper's calculate_consistency_score); a run of the wrong length scores 0; "
                   "'as recorded' divides by the runs in the file (= the file's overall_consistency)",
    "consistency_missing_as_failures": "the same with every record counted as having at least expected_runs runs "
                                       "(missing runs score 0) and missing records (--expected-records) scoring 0",
    "kappa": "Fleiss' kappa over the runs at token level (9 categories O, B-/I- PER ORG LOC DATE; statsmodels), "
             "pooled over the records kept; a record is excluded for fewer than 10 runs (ours: any count but 10), an "
             "empty run, runs of unequal length to each other, or a tag outside the 9; an element with no tag is O",
    "entities": "entity-level P/R/F against gold, exact span and type (IOB2, conlleval reading), pooled over all "
                "runs or over each record's first run; wrong-length runs predict nothing, tags outside the schema "
                "read as O; 95% CI: percentile bootstrap over sentences (records), fixed seed",
    "entity_agreement": "pairwise_entity_f1: F1 between two runs' entity sets pooled over all run pairs of the "
                        "records kept for kappa; unanimous_entity_share: share of distinct entities found by all runs",
    "failures": "wrong-length runs (the loop drops them) as a share of runs recorded, and with missing runs and "
                "records counted as failures; tags outside the schema; items that are not [token, tag] string pairs",
}


def _run_one(records: list) -> list:
    return [dataclasses.replace(r, runs=r.runs[:1]) for r in records]


def _paper_notes(row: Dict[str, Any], paper: Dict[str, float]) -> List[str]:
    notes = []
    if "consistency" in paper:
        ours, missing = row["consistency"], row["consistency_missing_as_failures"]
        if abs(ours - paper["consistency"]) <= CONSISTENCY_TOLERANCE:
            row["paper_match"]["consistency"] = "as_recorded"
        elif abs(missing - paper["consistency"]) <= CONSISTENCY_TOLERANCE:
            row["paper_match"]["consistency"] = "missing_as_failures"
            notes.append(f"the paper's table says {paper['consistency']:.2f} while the file gives {ours:.2f}: the "
                         f"paper's figure counts missing runs as scoring 0 (ours that way: {missing:.2f})")
        else:
            notes.append(f"consistency does not reproduce the paper's {paper['consistency']:.2f}")
    if "kappa" in paper:
        kappa = row["kappa"]["kappa"]
        row["paper_match"]["kappa"] = kappa is not None and abs(kappa - paper["kappa"]) <= KAPPA_TOLERANCE
        if not row["paper_match"]["kappa"]:
            notes.append(f"Fleiss' kappa does not reproduce the paper's {paper['kappa']:.3f}")
    if "excluded" in paper:
        row["paper_match"]["excluded"] = row["kappa"]["records_excluded"] == paper["excluded"]
        if not row["paper_match"]["excluded"]:
            notes.append(f"the paper excludes {paper['excluded']:.0f} records from kappa")
    if "first_run_entity_f1" in paper:
        f1 = row["entities"]["first_run"]["f"]
        row["paper_match"]["first_run_entity_f1"] = abs(f1 - paper["first_run_entity_f1"]) <= F1_TOLERANCE
        if not row["paper_match"]["first_run_entity_f1"]:
            notes.append(f"first-run entity F1 {f1:.2f} does not reproduce the paper's "
                         f"{paper['first_run_entity_f1']:.2f}")
    return notes


def _notes(row: Dict[str, Any], expected_runs: int) -> List[str]:
    notes = []
    file_overall = row["file_overall_consistency"]
    if file_overall is not None and abs(file_overall - row["consistency"]) > 0.01:
        notes.append(f"the file's overall_consistency {file_overall:.2f} differs from ours {row['consistency']:.2f}")
    failures = row["failures"]
    if failures["records_with_missing_runs"] or failures["records_missing"]:
        missing = (f"{failures['records_with_missing_runs']} records have fewer than {expected_runs} runs "
                   f"({failures['runs_missing']} runs missing)")
        if failures["records_missing"]:
            missing += f" and {failures['records_missing']} records are missing"
        notes.append(f"{missing}: consistency as recorded averages over what is there, as the file's "
                     f"overall_consistency does; counting what is missing as 0 gives "
                     f"{row['consistency_missing_as_failures']:.2f}")
    return notes


def evaluate_recording(recording: Recording, expected_runs: int = PAPER_RUNS, expected_records: Optional[int] = None,
                       n_bootstrap: int = N_BOOTSTRAP, seed: int = SEED) -> Dict[str, Any]:
    """All figures for one recorded file (one row of the report)."""
    records = recording.records
    row: Dict[str, Any] = {
        "model": recording.model, "lang": recording.lang, "file": str(recording.path), "records": len(records),
        "consistency": consistency(records),
        "consistency_missing_as_failures": consistency(records, expected_runs, expected_records),
        "consistency_first_run": consistency(_run_one(records), expected_runs=1),
        "file_overall_consistency": recording.overall_consistency,
        "kappa": fleiss_kappa_runs(records, runs=expected_runs),
        "entities": {"all_runs": entity_scores(records, n_bootstrap=n_bootstrap, seed=seed),
                     "first_run": entity_scores(records, first_run_only=True, n_bootstrap=n_bootstrap, seed=seed)},
        "entity_agreement": entity_agreement(records, runs=expected_runs),
        "failures": count_failures(recording, expected_runs, expected_records),
        "paper": paper_figures(recording.model, recording.lang), "paper_match": {},
    }
    row["notes"] = _notes(row, expected_runs) + (_paper_notes(row, row["paper"]) if row["paper"] else [])
    return row


def findings(rows: List[Dict[str, Any]]) -> List[str]:
    """Sentences the report states about all rows (the entity-vs-token gap, kappa on few records)."""
    out = []
    far = [r for r in rows if r["consistency"] / 100 - r["entities"]["all_runs"]["f"] >= FAR_LOWER]
    if far:
        cases = "; ".join(f"{r['model']} {r['lang']}: token accuracy {r['consistency']:.1f}% vs entity F1 "
                          f"{r['entities']['all_runs']['f']:.2f} (all runs), {r['entities']['first_run']['f']:.2f} "
                          f"(first run)" for r in far)
        out.append("Entity-level figures are far lower than token accuracy: " + cases + ". Token accuracy "
                   "including O credits the many O tokens and every token of a half-found span; an entity counts "
                   "only with its exact span and type, which is what the learner is trained on.")
    for r in rows:
        k = r["kappa"]
        if k["records_excluded"] > r["records"] / 10:
            out.append(f"{r['model']} {r['lang']}: Fleiss' kappa uses only {k['records_used']} of {r['records']} "
                       f"records ({k['records_excluded']} excluded), so it describes the well-formed runs, not "
                       f"the annotator: read it with the failure rates.")
    return out


def evaluate_recorded(recorded: Union[str, Path], expected_records: Optional[int] = None,
                      expected_runs: int = PAPER_RUNS, n_bootstrap: int = N_BOOTSTRAP,
                      seed: int = SEED) -> Dict[str, Any]:
    """Evaluate a recorded file, or every ``*.json`` below a folder; the report as a dict."""
    rows = []
    for path in find_recordings(recorded):
        logger.info("evaluating %s", path)
        rows.append(evaluate_recording(read_recording(path), expected_runs, expected_records, n_bootstrap, seed))
    return {"recorded": str(recorded), "expected_runs": expected_runs, "expected_records": expected_records,
            "bootstrap": {"samples": n_bootstrap, "seed": seed, "unit": "sentence (record)", "interval": 0.95,
                          "method": "percentile"},
            "definitions": DEFINITIONS, "rows": rows, "findings": findings(rows)}


def annotator_eval(recorded: Union[str, Path], output: Union[str, Path], markdown: Optional[Union[str, Path]] = None,
                   **options: Any) -> Dict[str, Any]:
    """:func:`evaluate_recorded`, written to ``output`` as JSON (and to ``markdown`` as a table)."""
    result = evaluate_recorded(recorded, **options)
    write_json(output, result)
    if markdown is not None:
        write_text(markdown, format_markdown(result))
    return result
