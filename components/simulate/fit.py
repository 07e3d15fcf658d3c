"""``calibrate``: fit an error profile from recorded LLM annotations, per language and pooled.

The recordings are read with :mod:`..annotator_eval.recorded` (``<model>/<lang>.json``, 10 runs per sentence).
The profile keeps counts and rates only, never a sentence, and names the files it came from (path,
model, language, records, runs, SHA-256), so the shipped ``gpt-4-turbo`` profile can be refitted and checked.
:func:`fit_hardness_profile` adds the v2 part (:mod:`.hardness`): entity tables per hardness bucket, fitted with
the recorded sentences' hardness from reference learners that never trained on them.
"""
import hashlib
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ..about import __version__
from ..annotator_eval.recorded import Recording, find_recordings, read_recording
from ..data.iob import iob_to_spans
from ..errors import InputError
from ..fileio import write_json
from .annotate import sentence_key
from .hardness import Hardness
from .profile import FORMAT, FORMAT_V2, HARDNESS, POOLED
from .summary import summarize
from .units import add_bucketed, empty_tables, fit_tables, learner_span_counts, merge_tables

SMOOTHING = 1.0  # weight of a family's distribution in each condition's (a Dirichlet prior, in units)
# A bucket cell's weight towards its bucket-free condition (in units). A language has 20-30 hard and 20-40 unsure
# gold entities spread over 8 type-and-length conditions: 2 lets a cell of 5 entities move most of the way to its
# own rates and keeps one of 1 or 2 near the bucket-free ones (1 and 4 gave the same fidelity within noise).
HARDNESS_SMOOTHING = 2.0
PathLike = Union[str, Path]
DEFINITIONS = {
    "units": "gold entities (condition: gold type), gold-O tokens (condition: shape punct/num/cap/lower) and "
             "three per sentence: length (skipped/extra tokens), items (malformed elements), output (invalid)",
    "outcomes": "entity: correct, missed, type:X, boundary:<start delta>:<end delta>:X ('=' = the gold type); "
                "token: none or spurious:<length>:X; X may be outside the schema (EVENT, PROD ...)",
    "base": "per condition: how many units had this outcome in most of their runs (a property of the sentence)",
    "variation": "per class (ok: base correct/none; error: any other) and d = share of runs differing from the "
                 "base (0.0 = systematic): how many units",
    "alternative": "per class: the outcome the differing runs showed most (runs alternate between two answers)",
    "smoothing": "a condition's counts are mixed with its family's distribution with this weight (in units)",
    "summary": "readable per-run rates; entity and spurious rates over runs of the right length only",
}


def _display(path: Path) -> str:
    """``path`` relative to the working directory when that is shorter (no machine-specific prefix)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return relative if len(relative) < len(str(path)) else str(path)


def _provenance(recording: Recording) -> Dict[str, Any]:
    return {"path": _display(recording.path), "model": recording.model, "lang": recording.lang,
            "records": len(recording.records), "runs": sum(len(r.runs) for r in recording.records),
            "sha256": hashlib.sha256(recording.path.read_bytes()).hexdigest()}


def read_all(recorded: Sequence[PathLike]) -> List[Recording]:
    """Every recording in the given files and folders (a folder: every ``*.json`` below it), each once."""
    if not recorded:
        raise InputError("no recordings given (--recorded: a <model>/<lang>.json file or a folder of them)")
    paths = list(dict.fromkeys(p.resolve() for item in recorded for p in find_recordings(item)))
    return [read_recording(p) for p in paths]


def fit_languages(recordings: Sequence[Recording]) -> Dict[str, Dict[str, Any]]:
    """Per language (several files of one language are pooled): record and run counts, tables and summary."""
    by_lang: Dict[str, list] = {}
    for recording in recordings:
        by_lang.setdefault(recording.lang, []).extend(recording.records)
    fitted = {}
    for lang, records in sorted(by_lang.items()):
        tables = fit_tables(records)
        fitted[lang] = {"records": len(records), "runs": sum(len(r.runs) for r in records),
                        "tables": tables, "summary": summarize(records, tables)}
    return fitted


def fit_profile(recordings: Sequence[Recording], name: Optional[str] = None) -> Dict[str, Any]:
    """The profile (a JSON-ready dict) of ``recordings``; ``name`` defaults to their model's folder name."""
    if not recordings:
        raise InputError("no recordings to fit a profile on")
    models = sorted({r.model for r in recordings})
    if name is None and len(models) > 1:
        raise InputError(f"recordings of several models ({', '.join(models)}): fit one at a time or give --name",
                         recordings[0].path)
    languages = fit_languages(recordings)
    records = [record for recording in recordings for record in recording.records]
    pooled_tables = merge_tables([fitted["tables"] for fitted in languages.values()])
    return {
        "format": FORMAT, "name": name or models[0], "created_by": f"spacy-llm-loop {__version__} calibrate",
        "description": "SIMULATED-annotator error profile: derived counts and rates only, no sentences",
        "fitted_from": {"models": models, "languages": sorted(languages),
                        "files": [_provenance(r) for r in recordings]},
        "smoothing": SMOOTHING, "definitions": DEFINITIONS, "languages": languages,
        POOLED: {"records": len(records), "runs": sum(len(r.runs) for r in records), "tables": pooled_tables,
                 "summary": summarize(records, pooled_tables)},
    }


def fit_hardness_profile(recordings: Sequence[Recording], hardness: Hardness, name: Optional[str] = None,
                         smoothing: float = HARDNESS_SMOOTHING,
                         reference: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The v2 profile of ``recordings``: :func:`fit_profile`'s, plus per language and pooled the entity tables
    per ``<type>:<length>:<bucket>`` (the bucket from ``hardness``, the recorded sentences' reference-learner
    probabilities) and, pooled over languages (50 sentences a language are too few), the share of real boundary,
    type and spurious errors that were the reference learner's own likeliest guess. ``reference``: what the
    reference learners were, written into the profile."""
    profile = fit_profile(recordings, name)
    by_lang: Dict[str, List[Any]] = {}
    for recording in recordings:
        by_lang.setdefault(recording.lang, []).extend(recording.records)
    spans: Dict[str, Dict[str, List[int]]] = {}
    coverage = [0, 0]
    for lang, records in sorted(by_lang.items()):
        tables = {"entity": empty_tables()["entity"]}
        spans[lang] = {}
        for record in records:
            key = sentence_key(record.tokens)
            coverage[0] += add_bucketed(tables, record, lambda r, span: hardness.bucket(key, span))
            coverage[1] += len(iob_to_spans(record.gold))
            for kind, counts in learner_span_counts(record, hardness, key).items():
                total = spans[lang].setdefault(kind, [0, 0, 0])
                spans[lang][kind] = [a + b for a, b in zip(total, counts)]
        profile["languages"][lang]["hardness_tables"] = tables
    pooled = merge_tables([profile["languages"][lang]["hardness_tables"] for lang in by_lang])
    profile[POOLED]["hardness_tables"] = {"entity": pooled["entity"]}
    learner = {kind: [sum(spans[lang][kind][i] for lang in spans) for i in (0, 1, 2)]
               for kind in ("boundary", "type", "spurious")}
    profile["format"] = FORMAT_V2
    profile["description"] += "; entity tables also per hardness bucket (a reference learner's p of the gold span)"
    profile[HARDNESS] = {
        "buckets": list(hardness.names), "cuts": list(hardness.cuts), "smoothing": smoothing,
        "reference": dict(reference or {}), "entities_with_hardness": coverage[0], "entities": coverage[1],
        "learner_spans": {kind: {"matched": m, "with_guess": n, "errors": e, "share": round(m / n, 4) if n else 0.0,
                                 "per_language": {lang: spans[lang][kind] for lang in sorted(spans)}}
                          for kind, (m, n, e) in learner.items()},
        "definitions": {
            "hardness_tables": "entity units counted per <type>:<length>:<bucket>; bucket i of buckets when i of "
                               "the cuts are at or below the reference learners' mean probability of the exact "
                               "gold span",
            "smoothing": "a bucket cell's counts are mixed with its bucket-free condition's distribution with this "
                         "weight (in units)",
            "learner_spans": "per error kind, over runs of the right length: runs whose error equals the reference "
                             "learners' likeliest wrong span of that kind (matched) / runs with such an error and a "
                             "guess (with_guess; share: their ratio) / runs with such an error (errors); per_language: "
                             "the three counts; the simulator moves 'share' of its errors that have a guess onto it",
        }}
    return profile


def calibrate(recorded: Sequence[PathLike], output: PathLike, name: Optional[str] = None) -> Dict[str, Any]:
    """:func:`fit_profile` of the recordings in ``recorded``, written to ``output`` as JSON."""
    profile = fit_profile(read_all(recorded), name)
    write_json(output, profile)
    return profile
