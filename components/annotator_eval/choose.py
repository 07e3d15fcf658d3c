"""``annotator-eval`` with live annotators: ask each k times about gold sentences, judge, recommend one.

The rows are the recorded-file rows of :mod:`.report` (consistency, Fleiss' kappa, entity P/R/F with
intervals, agreement, format failures), computed on what the annotators answered through the loop's
own annotator path (:mod:`.live`), plus usage (tokens, cost, latency per sentence) and the parser's
drops and repairs. :func:`recommend` applies the documented rule.
"""
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..annotators.base import annotator_block
from ..fileio import write_json, write_text
from .entities import N_BOOTSTRAP, SEED
from .live import ask_runs, build_annotator, draw_sample, parser_outcomes, usage_figures, write_sample_ids
from .markdown import format_live_markdown
from .plot import plot_f1_against_cost
from .recorded import read_recording
from .report import DEFINITIONS, evaluate_recording, findings

logger = logging.getLogger(__name__)
F1_TIE = 0.02  # entity F1 (0-1) within this of the best counts as a tie
KAPPA_TIE = 0.02  # Fleiss' kappa within this of the best (among the F1-tied) counts as a tie
NOT_CANDIDATES = ("gold",)  # the gold oracle is a reference row, never recommended
RULE = (f"per language, among the annotators other than the gold oracle: (1) highest entity F1 over all runs, "
        f"annotators within {F1_TIE:.2f} of the best tied; (2) among those, highest Fleiss' kappa, within "
        f"{KAPPA_TIE:.2f} tied (no kappa ranks last); (3) among those, lowest cost per 1,000 sentences (unpriced "
        f"ranks last); (4) still tied: the first by name. Overall: the annotator recommended for the most "
        f"languages, ties broken by mean entity F1.")
LIVE_DEFINITIONS = {
    "sample": "N entity-rich sentences (the loop's entity-rich sampler, seeded) from the language's train and dev "
              "splits, never test; the prompt's k-shot examples come from other train sentences",
    "runs": "each sentence asked k times; replicate i is its own cache key (so k requests), and a simulated model's "
            "run index; a dropped answer (the parser refused it) is a run that scores 0 and predicts no entity",
    "usage": "tokens per sentence from the ledger (the answer each prompt of each replicate got: asked, or from "
             "the cache, whose tokens were paid for once); cost at the price table's rate of the model (a "
             "SIMULATED model is priced as the model it simulates); latency: mean seconds per HTTP request, and "
             "wall-clock seconds per sentence of this invocation (near 0 for cache hits)",
    "parser": "answers dropped by the parser, by reason; answers kept after a repair (e.g. an invalid IOB sequence "
              "mended) and the repairs made",
    "recommendation": RULE,
}


def evaluate_live(annotators: Sequence[str], langs: Sequence[str], corpus_root: Path, out: Path, *, n: int = 50,
                  runs: int = 10, seed: int = 0, cache_path: Optional[str] = None, n_bootstrap: int = N_BOOTSTRAP,
                  bootstrap_seed: int = SEED, settings: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Every annotator on every language (see the module docstring); the report as a dict.

    ``settings``: given to every LLM annotator (e.g. ``endpoint`` and ``model_name`` of a local server).
    """
    rows = []
    for lang in langs:
        sample = draw_sample(corpus_root / lang, lang, n, seed, out)
        write_sample_ids(sample, out / f"sample-{lang}.json")
        for name in annotators:
            llm = annotator_block(name).get("@misc", "").endswith("LLMAnnotator.v1")
            annotator = build_annotator(name, lang, sample.gold_corpus, cache_path, settings if llm else None)
            asked = ask_runs(annotator, sample, runs, out / name)
            row = evaluate_recording(read_recording(asked["recording"]), expected_runs=runs,
                                     n_bootstrap=n_bootstrap, seed=bootstrap_seed)
            row.update(simulated=name.startswith("sim-"),
                       usage=usage_figures(annotator, runs, asked["n_sentences"], asked["seconds"],
                                           asked["first_record"]),
                       parser=parser_outcomes(asked["answers"]))
            rows.append(row)
    return {"annotators": list(annotators), "langs": list(langs), "sentences_per_lang": n, "runs": runs,
            "seed": seed, "expected_runs": runs, "expected_records": None, "recorded": str(out),
            "bootstrap": {"samples": n_bootstrap, "seed": bootstrap_seed, "unit": "sentence (record)",
                          "interval": 0.95, "method": "percentile"},
            "definitions": {**DEFINITIONS, **LIVE_DEFINITIONS}, "rows": rows, "findings": findings(rows),
            "recommendation": recommend(rows)}


def _kappa(row: Dict[str, Any]) -> float:
    kappa = row["kappa"]["kappa"]
    return float("-inf") if kappa is None else kappa


def _cost(row: Dict[str, Any]) -> float:
    cost = (row.get("usage") or {}).get("cost_per_1000_sentences_usd")
    return float("inf") if cost is None else cost


def recommend(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The annotator :data:`RULE` picks per language and overall, with the reason at each step."""
    by_lang: Dict[str, Any] = {}
    for lang in sorted({r["lang"] for r in rows}):
        candidates = [r for r in rows if r["lang"] == lang and r["model"] not in NOT_CANDIDATES]
        if not candidates:
            continue
        best_f1 = max(r["entities"]["all_runs"]["f"] for r in candidates)
        tied = [r for r in candidates if r["entities"]["all_runs"]["f"] >= best_f1 - F1_TIE]
        best_kappa = max(_kappa(r) for r in tied)
        tied_kappa = [r for r in tied if _kappa(r) >= best_kappa - KAPPA_TIE]
        pick = min(tied_kappa, key=lambda r: (_cost(r), r["model"]))
        cheapest = [r for r in tied_kappa if _cost(r) == _cost(pick)]
        step = ("entity F1" if len(tied) == 1 else "Fleiss' kappa" if len(tied_kappa) == 1 else
                "cost" if len(cheapest) == 1 else "name (tied on F1, kappa and cost)")
        by_lang[lang] = {"annotator": pick["model"], "decided_by": step, "simulated": pick.get("simulated", False),
                         "entity_f1": pick["entities"]["all_runs"]["f"], "kappa": pick["kappa"]["kappa"],
                         "cost_per_1000_sentences_usd": (pick.get("usage") or {}).get("cost_per_1000_sentences_usd"),
                         "tied_on_f1": [r["model"] for r in tied], "tied_on_kappa": [r["model"] for r in tied_kappa]}
    counts: Dict[str, int] = {}
    for choice in by_lang.values():
        counts[choice["annotator"]] = counts.get(choice["annotator"], 0) + 1
    mean_f1 = {name: sum(r["entities"]["all_runs"]["f"] for r in rows if r["model"] == name) /
               max(1, sum(r["model"] == name for r in rows)) for name in counts}
    overall = max(counts, key=lambda name: (counts[name], mean_f1[name])) if counts else None
    note = None
    if overall is not None and overall.startswith("sim-"):
        note = (f"{overall} is SIMULATED: its figures are a calibrated stand-in for the model it simulates, not that "
                f"model's answers; to choose between real models, evaluate them (e.g. --annotator gpt-4-turbo "
                f"--annotator claude-3-haiku with their API keys)")
    return {"rule": RULE, "by_lang": by_lang, "overall": overall, "note": note}


def annotator_eval_live(annotators: Sequence[str], langs: Sequence[str], corpus_root: Path, output: Path,
                        markdown: Optional[Path] = None, plot: Optional[Path] = None, out: Optional[Path] = None,
                        **options: Any) -> Dict[str, Any]:
    """:func:`evaluate_live`, written to ``output`` (JSON), ``markdown`` (tables) and ``plot`` (PNG).

    ``out``: where the samples, examples, answers (recorded format) and ledgers go (default: beside ``output``,
    ``<output stem>/``).
    """
    out = out or output.parent / output.stem
    result = evaluate_live(annotators, langs, corpus_root, out, **options)
    if plot is not None:
        plot_f1_against_cost(result["rows"], plot)
        result["plot"] = str(plot)
    write_json(output, result)
    if markdown is not None:
        shown = dict(result)
        if plot is not None:  # the picture as the Markdown file's readers reach it
            shown["plot"] = os.path.relpath(plot, Path(markdown).parent)
        write_text(markdown, format_live_markdown(shown))
    return result
