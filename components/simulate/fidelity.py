"""How faithful a profile is: simulate the recorded sentences and judge the answers as the recordings are judged.

The simulated annotator answers each recorded sentence ``runs`` times (gold: the recording's own ``true``
tags); the answers are written in the recordings' format (``sim-<profile>/<lang>.json``) and scored by
``annotator-eval``'s code (:func:`..annotator_eval.report.evaluate_recording`). One seed's figures are one draw
of 50 sentences' systematic errors (a seed's consistency varies by about a point), so figures are given as
the mean (and SD) over several seeds, beside the recorded ones. Leave-one-language-out fits on the other
languages (their pooled tables) and simulates the one left out. With a v2 profile and the recorded sentences'
``hardness`` (:mod:`.hardness`), the simulator is the hardness-aware one and leave-one-language-out refits the v2
part too.
"""
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..annotator_eval.agreement import PAPER_RUNS
from ..annotator_eval.recorded import Record, Recording, read_recording
from ..annotator_eval.report import evaluate_recording
from ..fileio import write_json, write_text
from .annotate import ErrorModel, HardnessLookup
from .fit import fit_hardness_profile, fit_profile, read_all
from .hardness import Hardness
from .profile import FORMAT_V2, HARDNESS, tables_for

TARGETS = {"consistency": 1.5, "kappa": 0.02, "entity_f1": 0.03}  # |simulated mean - recorded| at most
FIGURES = ("consistency", "kappa", "entity_f1", "entity_f1_first_run", "excluded", "wrong_length_rate")
N_BOOTSTRAP = 50  # the intervals are not used here


def simulated_file(records: Sequence[Record], model: ErrorModel, runs: int = PAPER_RUNS) -> Dict[str, Any]:
    """The simulated answers to ``records`` in the recordings' format (``record_<i>``: tokens, true, pred)."""
    out: Dict[str, Any] = {}
    for record in records:
        pred = [model.answer(record.tokens, record.gold, run) for run in range(runs)]
        out[record.key] = {"tokens": record.tokens, "true": record.gold, "pred": pred}
    return out


def figures(recording: Recording, expected_runs: int = PAPER_RUNS) -> Dict[str, Optional[float]]:
    """The figures annotator-eval gives a recording (entity F1 over all runs and over first runs)."""
    row = evaluate_recording(recording, expected_runs, n_bootstrap=N_BOOTSTRAP)
    return {"consistency": row["consistency"], "kappa": row["kappa"]["kappa"],
            "entity_f1": row["entities"]["all_runs"]["f"], "entity_f1_first_run": row["entities"]["first_run"]["f"],
            "excluded": row["kappa"]["records_excluded"],
            "wrong_length_rate": row["failures"]["wrong_length_runs"]["rate"]}


def compare(recording: Recording, profile: Dict[str, Any], lang: Optional[str], seeds: Sequence[int],
            folder: Path, hardness: Optional[HardnessLookup] = None) -> Dict[str, Any]:
    """Recorded vs simulated figures for one recording under ``profile`` (tables of ``lang``, or pooled)."""
    tables = tables_for(profile, lang)
    per_seed: List[Dict[str, Optional[float]]] = []
    for seed in seeds:
        path = folder / f"seed-{seed}" / f"sim-{profile['name']}" / f"{recording.lang}.json"
        write_json(path, simulated_file(recording.records, ErrorModel(tables, seed, hardness=hardness)))
        per_seed.append(figures(read_recording(path)))
    recorded = figures(recording)
    mean = {k: _mean([s[k] for s in per_seed]) for k in FIGURES}
    sd = {k: _sd([s[k] for s in per_seed]) for k in FIGURES}
    delta = {k: _difference(mean[k], recorded[k]) for k in FIGURES}
    within = {k: _within(delta[k], limit) for k, limit in TARGETS.items()}
    return {"lang": recording.lang, "tables": tables.source, "seeds": list(seeds), "recorded": recorded,
            "simulated": mean, "sd": sd, "delta": delta, "within": within, "per_seed": per_seed}


def fidelity(recordings: Sequence[Recording], profile: Optional[Dict[str, Any]] = None,
             seeds: Sequence[int] = tuple(range(10)), leave_one_out: bool = True,
             folder: Optional[Union[str, Path]] = None, hardness: Optional[Hardness] = None) -> Dict[str, Any]:
    """In-sample rows (``profile``, default: fitted on ``recordings``) and leave-one-language-out rows.

    The simulated files go to ``folder`` (``<in-sample|leave-out-<lang>>/seed-<k>/sim-<name>/<lang>.json``),
    or to a temporary folder. ``hardness``: the recorded sentences' hardness (the hardness-aware simulator).
    """
    profile = profile or fit_profile(recordings)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(folder) if folder else Path(scratch)
        result = {"profile": profile["name"], "targets": TARGETS, "seeds": list(seeds),
                  "in_sample": [compare(r, profile, r.lang, seeds, root / "in-sample", hardness) for r in recordings],
                  "leave_one_out": []}
        langs = sorted({r.lang for r in recordings})
        if leave_one_out and len(langs) > 1:
            for recording in recordings:
                others = [r for r in recordings if r.lang != recording.lang]
                held_out = refit(others, profile, hardness)
                result["leave_one_out"].append(compare(recording, held_out, recording.lang, seeds,
                                                       root / f"leave-out-{recording.lang}", hardness))
    return result


def refit(recordings: Sequence[Recording], profile: Dict[str, Any], hardness: Optional[Hardness] = None) -> Dict:
    """``profile`` fitted again on ``recordings`` with its smoothing (a v2 profile: with ``hardness``, its v2 part
    too, with its bucket smoothing and reference)."""
    if profile.get("format") == FORMAT_V2 and hardness is not None:
        block = profile[HARDNESS]
        held_out = fit_hardness_profile(recordings, hardness, profile["name"], float(block["smoothing"]),
                                        block.get("reference"))
    else:
        held_out = fit_profile(recordings, profile["name"])
    held_out["smoothing"] = profile.get("smoothing", held_out["smoothing"])
    return held_out


def _difference(simulated: Optional[float], recorded: Optional[float]) -> Optional[float]:
    return None if simulated is None or recorded is None else simulated - recorded


def _within(delta: Optional[float], limit: float) -> bool:
    return delta is not None and abs(delta) <= limit


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _sd(values: Sequence[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None]
    return float(np.std(kept, ddof=1)) if len(kept) > 1 else None


def compact(result: Dict[str, Any]) -> Dict[str, Any]:
    """The fidelity figures without per-seed detail (what the profile keeps about itself)."""
    keep = ("lang", "tables", "recorded", "simulated", "sd", "within")
    return {"seeds": result["seeds"], "targets": result["targets"],
            **{part: [{k: row[k] for k in keep} for row in result[part]] for part in ("in_sample", "leave_one_out")}}


def _cell(row: Dict[str, Any], key: str, scale: float, digits: int) -> str:
    recorded, simulated, sd = row["recorded"][key], row["simulated"][key], row["sd"][key]
    if recorded is None or simulated is None:
        return "–"
    spread = f" ±{scale * sd:.{digits}f}" if sd is not None else ""
    difference = scale * (simulated - recorded)
    return f"{scale * recorded:.{digits}f} / {scale * simulated:.{digits}f}{spread} ({difference:+.{digits}f})"


def fidelity_markdown(result: Dict[str, Any]) -> str:
    """The fidelity report as Markdown: recorded / simulated mean ±SD (difference) per language."""
    header = ["lang", "part", "tables", "consistency %", "Fleiss' kappa", "entity F1 (all runs)",
              "entity F1 (first run)", "excluded from kappa", "within targets"]
    lines = [f"# Fidelity of the SIMULATED `{result['profile']}` annotator", "",
             f"Recorded / simulated (mean ±SD over {len(result['seeds'])} seeds) (difference). Targets: consistency "
             f"within {TARGETS['consistency']} points, kappa within {TARGETS['kappa']}, entity F1 within "
             f"{100 * TARGETS['entity_f1']:.0f} points.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for part, label in (("in_sample", "in-sample"), ("leave_one_out", "leave-one-out")):
        for row in result[part]:
            cells = [row["lang"], label, row["tables"], _cell(row, "consistency", 1, 2), _cell(row, "kappa", 1, 3),
                     _cell(row, "entity_f1", 100, 1), _cell(row, "entity_f1_first_run", 100, 1),
                     _cell(row, "excluded", 1, 1), ", ".join(k for k, ok in row["within"].items() if ok) or "none"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def calibrate_with_fidelity(recorded: Sequence[Union[str, Path]], output: Union[str, Path], name: Optional[str] = None,
                            fidelity_path: Optional[Union[str, Path]] = None,
                            seeds: int = 10) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """The ``calibrate`` command: fit a profile on the recordings and write it to ``output``; with
    ``fidelity_path``, first simulate the recorded sentences over ``seeds`` seeds, write the full result there
    (JSON, and Markdown beside it) and keep its :func:`compact` figures in the profile. Returns
    ``(profile, fidelity result or None)``."""
    recordings = read_all(recorded)
    profile = fit_profile(recordings, name)
    result = None
    if fidelity_path is not None:
        result = fidelity(recordings, profile, seeds=range(seeds))
        profile["fidelity"] = compact(result)
        write_json(fidelity_path, result)
        write_text(Path(fidelity_path).with_suffix(".md"), fidelity_markdown(result))
    write_json(output, profile)
    return profile, result
