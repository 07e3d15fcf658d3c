"""A profile's readable rates: what the recorded LLM got wrong, per run, and how much of it is systematic.

Rates are per run: an entity in 10 runs counts 10 times. Entity and spurious rates come from runs of the
right length only. ``systematic`` is, per unit family, the share of units that ever erred whose error
is in every run (the rest come and go); it is what a Fleiss' kappa near 0.98 says.
"""
from collections import Counter
from typing import Any, Dict, Optional, Sequence

from ..annotator_eval.recorded import SCHEMA, Record, run_tags
from ..data.iob import iob_to_spans
from .outcomes import run_outcomes
from .units import Tables


def _rate(count: float, total: float) -> Optional[float]:
    return round(count / total, 4) if total else None


def _rates(counts: Counter, total: float) -> Dict[str, Optional[float]]:
    return {key: _rate(n, total) for key, n in sorted(counts.items(), key=lambda kv: -kv[1])}


def boundary_kind(outcome: str) -> str:
    """``extended``, ``shrunk`` or ``shifted`` for a ``boundary:<ds>:<de>:X`` outcome."""
    _, ds, de, _ = outcome.split(":")
    grows, shrinks = int(ds) < 0 or int(de) > 0, int(ds) > 0 or int(de) < 0
    return "shifted" if grows and shrinks else "extended" if grows else "shrunk"


def _entity_summary(records: Sequence[Record]) -> Dict[str, Any]:
    by_type: Dict[str, Counter] = {}
    for record in records:
        labels = [label for _, _, label in iob_to_spans(record.gold)]
        for run in record.runs:
            outcomes = run_outcomes(record.tokens, record.gold, run)["entities"]
            for label, outcome in zip(labels, outcomes or []):
                counts = by_type.setdefault(label, Counter())
                counts["runs"] += 1
                head = outcome.split(":")[0]
                counts[head] += 1
                if head == "type":
                    counts["to:" + outcome.split(":")[1]] += 1
                elif head == "boundary":
                    counts[boundary_kind(outcome)] += 1
                    counts["delta:" + ":".join(outcome.split(":")[1:3])] += 1
    summary = {}
    for label, c in sorted(by_type.items()):
        n = c["runs"]
        summary[label] = {
            "entity_runs": n, "correct": _rate(c["correct"], n), "missed": _rate(c["missed"], n),
            "type_confusion": {k[3:]: _rate(v, n) for k, v in c.items() if k.startswith("to:")},
            "split": _rate(c["split"], n), "boundary": _rate(c["boundary"], n),
            "boundary_kinds": {k: _rate(c[k], n) for k in ("extended", "shrunk", "shifted")},
            "boundary_deltas": {k[6:]: _rate(v, n) for k, v in c.most_common() if k.startswith("delta:")}}
    return summary


def _format_summary(records: Sequence[Record]) -> Dict[str, Any]:
    spurious: Counter[str] = Counter()
    lengths: Counter[str] = Counter()
    items: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    runs = usable = o_tokens = elements = invalid = 0
    for record in records:
        n_o = sum(g == "O" for g in record.gold)
        for run in record.runs:
            runs += 1
            outcomes = run_outcomes(record.tokens, record.gold, run)
            invalid += outcomes["output"] != "none"
            if outcomes["tokens"] is not None:
                usable += 1
                o_tokens += n_o
                spurious.update(o.split(":")[2] for o in outcomes["tokens"].values())
            if outcomes["length"] not in (None, "none"):
                lengths[outcomes["length"]] += 1
            if outcomes["items"] not in (None, "none"):
                items[outcomes["items"]] += 1
            tags = run_tags(run) or []
            elements += len(tags)
            outside.update(str(t) for t in tags if t is not None and t not in SCHEMA)
    return {
        "spurious_entities": {"per_sentence": _rate(sum(spurious.values()), usable),
                              "per_1000_o_tokens": _rate(1000 * sum(spurious.values()), o_tokens),
                              "by_type_per_sentence": _rates(spurious, usable)},
        "wrong_length_runs": {"rate": _rate(sum(lengths.values()), runs), "by_kind": _rates(lengths, runs)},
        "malformed_items": {"runs_rate": _rate(sum(items.values()), runs), "by_kind": _rates(items, runs),
                            "elements": elements},
        "invalid_output_runs": {"rate": _rate(invalid, runs)},
        "out_of_schema_tags": {"per_1000_tags": _rate(1000 * sum(outside.values()), elements),
                               "tags": dict(outside.most_common())},
        "runs": runs, "runs_of_right_length": usable}


def systematic_shares(tables: Tables) -> Dict[str, Optional[float]]:
    """Per family: of the units that ever erred, the share that erred alike in every run."""
    shares = {}
    for family, cells in tables.items():
        erred = systematic = 0
        for cell in cells.values():
            variation = cell["variation"]
            systematic += variation.get("error", {}).get("0.0", 0)
            erred += sum(variation.get("error", {}).values())
            erred += sum(n for d, n in variation.get("ok", {}).items() if d != "0.0")
        shares[family] = _rate(systematic, erred)
    return shares


def summarize(records: Sequence[Record], tables: Tables) -> Dict[str, Any]:
    """The readable rates of ``records`` (see the module docstring)."""
    return {"entities": _entity_summary(records), **_format_summary(records),
            "systematic": systematic_shares(tables)}
