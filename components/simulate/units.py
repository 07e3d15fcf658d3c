"""Units and their outcomes across runs, counted into the error model's tables (no sentence is kept).

For every unit of a recorded sentence (see :mod:`.outcomes`) the runs give a list of outcomes. Its
*base* is the most frequent outcome (ties go to ``correct``/``none``): a property of the sentence. Its
*variation* ``d`` is the share of runs that differ from the base, rounded to 0.1; a unit with ``d = 0``
is systematic (same in every run). Its *alternative* is the most frequent differing outcome (for a spurious
entity, relative to the base): GPT-4-Turbo runs of one sentence alternate between two answers far more often
than they scatter. Tables, per family (``entity``, ``token``, ``length``, ``items``, ``output``) and condition
(gold type and length, token shape, ``all``): ``base`` {outcome: units}, ``variation`` {class: {d: units}}
and ``alternative`` {class: {outcome: units}}, class being ``ok`` (base ``correct``/``none``) or ``error``.

A v2 profile also counts the entity family per ``<type>:<length>:<bucket>`` (:func:`add_bucketed`; the bucket
from a hardness lookup, :mod:`.hardness`) and how often a real boundary, type or spurious error was the
reference learner's own likeliest guess (:func:`learner_span_counts`).
"""
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..annotator_eval.recorded import Record
from ..data.iob import iob_to_spans
from .outcomes import SENTENCE_UNITS, entity_condition, relative, run_outcomes, token_shape

OK_OUTCOMES = ("correct", "none")
FAMILIES = ("entity", "token") + SENTENCE_UNITS
Tables = Dict[str, Dict[str, Dict[str, Any]]]


def unit_class(outcome: str) -> str:
    """``ok`` for ``correct``/``none``, else ``error``."""
    return "ok" if outcome in OK_OUTCOMES else "error"


def same_type(outcome: str, gold_label: str) -> str:
    """An entity outcome with predicted types written ``=`` where they are the gold type (shareable across types)."""
    parts = outcome.split(":")
    if parts[0] == "boundary":
        parts[3] = "=" if parts[3] == gold_label else parts[3]
    elif parts[0] == "split":
        parts[2:] = ["=" if label == gold_label else label for label in parts[2:]]
    return ":".join(parts)


def observations(record: Record) -> Iterator[Tuple[str, str, List[str]]]:
    """``(family, condition, outcomes over the runs)`` for every unit of one record."""
    runs = [run_outcomes(record.tokens, record.gold, run) for run in record.runs]
    spans_runs = [r["entities"] for r in runs if r["entities"] is not None]
    for i, (start, end, label) in enumerate(iob_to_spans(record.gold)):
        if spans_runs:
            yield "entity", entity_condition(label, end - start), [same_type(r[i], label) for r in spans_runs]
    token_runs = [r["tokens"] for r in runs if r["tokens"] is not None]
    for j, (token, tag) in enumerate(zip(record.tokens, record.gold)):
        if tag == "O" and token_runs:
            yield "token", token_shape(token), [r.get(j, "none") for r in token_runs]
    for family in SENTENCE_UNITS:
        seen = [r[family] for r in runs if r[family] is not None]
        if seen:
            yield family, "all", seen


def base_and_variation(outcomes: Sequence[str]) -> Tuple[str, str, str]:
    """``(base, d, alternative)`` of one unit's outcomes; the alternative is ``""`` when every run agrees."""
    counts = Counter(outcomes)
    top = max(counts.values())
    tied = [o for o in counts if counts[o] == top]
    base = next((o for o in tied if o in OK_OUTCOMES), tied[0])
    others = Counter({o: n for o, n in counts.items() if o != base})
    d = round((len(outcomes) - counts[base]) / len(outcomes), 1)
    return base, f"{d:.1f}", relative(base, others.most_common(1)[0][0]) if others else ""


def empty_tables() -> Tables:
    """Tables with every family present and no condition yet."""
    return {family: {} for family in FAMILIES}


def add_record(tables: Tables, record: Record) -> None:
    """Count one record's units into ``tables``."""
    for family, condition, outcomes in observations(record):
        count_unit(tables, family, condition, outcomes)


def count_unit(tables: Tables, family: str, condition: str, outcomes: Sequence[str]) -> None:
    """Count one unit's outcomes over the runs into ``tables[family][condition]``."""
    cell = tables[family].setdefault(condition, {"units": 0, "base": {}, "variation": {}, "alternative": {}})
    base, d, alternative = base_and_variation(outcomes)
    kind = unit_class(base)
    cell["units"] += 1
    cell["base"][base] = cell["base"].get(base, 0) + 1
    variation = cell["variation"].setdefault(kind, {})
    variation[d] = variation.get(d, 0) + 1
    if alternative:
        alternatives = cell["alternative"].setdefault(kind, {})
        alternatives[alternative] = alternatives.get(alternative, 0) + 1


BucketOf = Callable[[Record, Tuple[int, int, str]], Optional[str]]


def add_bucketed(tables: Tables, record: Record, bucket_of: BucketOf) -> int:
    """Count one record's gold entities into ``tables["entity"]`` per ``<type>:<length>:<bucket>`` (an entity
    without a bucket is left out); returns how many were counted."""
    runs = [run_outcomes(record.tokens, record.gold, run)["entities"] for run in record.runs]
    spans_runs = [r for r in runs if r is not None]
    counted = 0
    for i, (start, end, label) in enumerate(iob_to_spans(record.gold)):
        bucket = bucket_of(record, (start, end, label))
        if spans_runs and bucket is not None:
            condition = f"{entity_condition(label, end - start)}:{bucket}"
            count_unit(tables, "entity", condition, [same_type(r[i], label) for r in spans_runs])
            counted += 1
    return counted


def learner_span_counts(record: Record, lookup: Any, key: str) -> Dict[str, List[int]]:
    """Per error kind (``boundary``, ``type``, ``spurious``): ``[runs whose error of that kind is the reference
    learner's likeliest guess of that kind, runs with such an error where the learner has a guess, runs with such
    an error]`` (a spurious error: per predicted entity).

    ``lookup`` is a :class:`.hardness.Hardness`-like object (``candidate``, ``spurious``) and ``key`` the
    record's sentence key. Runs of the wrong length say nothing about spans and are skipped."""
    counts = {kind: [0, 0, 0] for kind in ("boundary", "type", "spurious")}
    gold_spans = iob_to_spans(record.gold)
    guesses = {tuple(g[:3]) for g in lookup.spurious(key)}
    for run in record.runs:
        outcome = run_outcomes(record.tokens, record.gold, run)
        if outcome["entities"] is None:
            continue
        for (start, end, label), result in zip(gold_spans, outcome["entities"]):
            kind = result.split(":")[0]
            if kind not in ("boundary", "type"):
                continue
            counts[kind][2] += 1
            guess = lookup.candidate(key, (start, end, label), kind)
            if guess is None:
                continue
            parts = result.split(":")
            span = (start, end, parts[1]) if kind == "type" else \
                (start + int(parts[1]), end + int(parts[2]), parts[3])
            counts[kind][0] += int(span == tuple(guess[:3]))
            counts[kind][1] += 1
        counts["spurious"][2] += len(outcome["tokens"])
        for j, result in (outcome["tokens"].items() if guesses else ()):
            _, length, label = result.split(":", 2)
            counts["spurious"][0] += int((j, j + int(length), label) in guesses)
            counts["spurious"][1] += 1
    return counts


def fit_tables(records: Sequence[Record]) -> Tables:
    """The error model's tables over ``records`` (the unit counts of :func:`add_record`)."""
    tables = empty_tables()
    for record in records:
        add_record(tables, record)
    return tables


def merge_tables(parts: Sequence[Tables]) -> Tables:
    """Tables that sum ``parts`` (the pooled profile is the sum of the languages')."""
    merged = empty_tables()
    for part in parts:
        for family, conditions in part.items():
            for condition, cell in conditions.items():
                target = merged[family].setdefault(condition, {"units": 0, "base": {}, "variation": {},
                                                               "alternative": {}})
                target["units"] += cell["units"]
                _add_counts(target["base"], cell["base"])
                for key in ("variation", "alternative"):
                    for kind, counts in cell[key].items():
                        _add_counts(target[key].setdefault(kind, {}), counts)
    return merged


def _add_counts(target: Dict[str, int], source: Dict[str, int]) -> None:
    for key, n in source.items():
        target[key] = target.get(key, 0) + n
