"""The error model applied: gold tokens and tags in, what the SIMULATED LLM answers out.

Each unit of the sentence (gold entity, gold-``O`` token, the sentence's length, items and output; see
:mod:`.outcomes`) draws, from a Generator seeded by ``(seed, sentence key)`` alone, its *base* outcome, its
variation ``d`` and its *alternative*; then, from a Generator seeded by ``(seed, sentence key, run)``,
whether this run shows the alternative (probability ``d``) instead of the base. Systematic errors are
therefore the same in every run of a sentence; the rest come and go with the run index.

With a *hardness* lookup (:mod:`.hardness`) and a v2 profile, a gold entity's outcome is drawn from its
``<type>:<length>:<bucket>`` tables (bucket: how likely a fixed reference learner finds it), and a boundary,
type or spurious error becomes the reference learner's own likeliest wrong span, as often as the recordings
say a real error was (the profile's ``learner_spans``; the unit's fourth uniform decides). Without one,
answers are exactly those of the v1 error model.
"""
import json
import unicodedata
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from ..data.iob import MASAKHANER_LABELS, iob_to_spans, spans_to_iob
from .draws import OutcomeTables, generator, pick
from .outcomes import absolute, entity_condition, feasible, place_boundary, token_kind, token_shape
from .profile import LanguageTables
from .units import unit_class

Answer = Union[List[Any], str]  # a list of elements, or the text of an invalid output (a JSON list cut short)
Unit = Tuple[str, str, str, Optional[Callable[[str], bool]]]  # family, condition, default, feasibility
Plan = Tuple[str, float, str]  # base outcome, variation d, alternative outcome
Scored = Tuple[int, int, str, float]


class HardnessLookup(Protocol):
    """What the error model reads of a hardness file (:class:`.hardness.Hardness`)."""

    def bucket(self, key: str, span: Tuple[int, int, str]) -> Optional[str]:
        ...

    def candidate(self, key: str, span: Tuple[int, int, str], kind: str) -> Optional[Scored]:
        ...

    def spurious(self, key: str) -> List[Scored]:
        ...


def sentence_key(tokens: Sequence[str]) -> str:
    """The default sentence key: its tokens in NFC (so two normal forms of a sentence err alike)."""
    return "\u241f".join(unicodedata.normalize("NFC", t).strip() for t in tokens)


def proxy_types(labels: Sequence[str]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """For a label set of one's own: each label's MasakhaNER stand-in (in order, PER ORG LOC DATE, cycling), whose
    error rates it gets, and the label each MasakhaNER type in an outcome becomes (the first label standing for
    it; with fewer than four labels, the others cycle over the labels)."""
    to_proxy = {label: MASAKHANER_LABELS[i % len(MASAKHANER_LABELS)] for i, label in enumerate(labels)}
    to_label = {kind: labels[i % len(labels)] for i, kind in enumerate(MASAKHANER_LABELS)}
    for label, kind in reversed(list(to_proxy.items())):
        to_label[kind] = label
    return to_proxy, to_label


class ErrorModel:
    """A profile's tables for one language (or pooled) and a seed: :meth:`answer` is the simulated LLM.

    ``labels``: a label set other than MasakhaNER's. The profile's tables are MasakhaNER's, so each label errs
    as its stand-in type does (:func:`proxy_types`), and a type confusion or a spurious entity takes a label of
    the set: the answers stay inside the configured schema, with the profile's error rates.
    ``hardness``: per sentence key, the bucket of each gold entity and the reference learner's wrong guesses
    (see the module docstring); a sentence or entity it lacks is drawn from the bucket-free tables.
    """

    def __init__(self, tables: LanguageTables, seed: int = 0, labels: Optional[Sequence[str]] = None,
                 hardness: Optional[HardnessLookup] = None) -> None:
        self.info, self.seed, self.hardness = tables, seed, hardness
        self.outcomes = OutcomeTables(tables.tables, tables.smoothing, tables.hardness_tables,
                                      tables.hardness_smoothing)
        self.learner_spans = dict(tables.learner_spans or {})
        own = labels is not None and tuple(labels) != MASAKHANER_LABELS
        self.to_proxy, self.to_label = proxy_types(list(labels)) if own and labels else ({}, {})

    def __repr__(self) -> str:
        return f"ErrorModel(profile={self.info.profile!r}, source={self.info.source!r}, seed={self.seed})"

    def answer(self, tokens: Sequence[str], tags: Sequence[str], run: int, key: Optional[str] = None) -> Answer:
        """The ``[token, tag]`` pairs the simulated LLM returns for this sentence in run ``run``."""
        if len(tokens) != len(tags):
            raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags (sentence {' '.join(tokens)[:60]!r})")
        key = sentence_key(tokens) if key is None else key
        spans = iob_to_spans(list(tags))
        proxies = [(s, e, self.to_proxy.get(label, label)) for s, e, label in spans]
        units: List[Unit] = [("entity", entity_condition(span[2], span[1] - span[0]), "correct",
                              partial(feasible, span=span)) for span in proxies]
        units += [("token", token_shape(t), "none", None) for t, g in zip(tokens, tags) if g == "O"]
        units += [(family, "all", "none", None) for family in ("items", "length", "output")]
        fixed = generator("sentence", self.seed, key).random((len(units), 4))
        varying = generator("run", self.seed, key, int(run)).random(len(units))
        buckets = [self.hardness.bucket(key, span) for span in spans] if self.hardness is not None else []
        buckets += [None] * (len(units) - len(buckets))
        plans = [self._plan(unit, u, b) for unit, u, b in zip(units, fixed, buckets)]
        chosen = [alternative if v < d else base for (base, d, alternative), v in zip(plans, varying)]
        if self.to_label:
            chosen = [":".join(self.to_label.get(part, part) for part in outcome.split(":")) for outcome in chosen]
        n_ents = len(spans)
        if self.hardness is not None and self.learner_spans:
            chosen = self._learner_guesses(key, spans, tags, chosen, fixed[:, 3])
        tags_out = predicted_tags(tokens, tags, spans, chosen[:n_ents], chosen[n_ents:-3])
        pairs: List[Any] = [[t, g] for t, g in zip(tokens, tags_out)]
        items, length, output = chosen[-3:]
        pairs = malform(pairs, items, fixed[-3, 3])
        pairs = change_length(pairs, length, fixed[-2, 3])
        if output == "invalid":  # the answer breaks off half way
            text = json.dumps(pairs, ensure_ascii=False)
            return text[: len(text) // 2]
        return [] if output == "empty" else pairs

    def _plan(self, unit: Unit, fixed: Sequence[float], bucket: Optional[str] = None) -> Plan:
        """A unit's systematic part: its base outcome, variation ``d`` and alternative outcome (a gold entity
        with a hardness ``bucket``: from its bucket's tables)."""
        family, condition, default, allowed = unit

        def table(key: str, kind: Optional[str] = None) -> Any:
            if bucket is None:
                return self.outcomes.get(family, condition, key, kind)
            return self.outcomes.get_conditioned(family, condition, bucket, key, kind)

        base = pick(table("base"), fixed[0], default, allowed)
        kind = unit_class(base)
        d = float(pick(table("variation", kind), fixed[1], "0.0"))
        alternative = pick(table("alternative", kind), fixed[2], base,
                           lambda outcome: _differs(base, outcome) and (allowed is None or allowed(outcome)))
        return base, d, absolute(base, alternative) or base

    def _learner_guesses(self, key: str, spans: Sequence[Tuple[int, int, str]], tags: Sequence[str],
                         chosen: List[str], u: Union[Sequence[float], np.ndarray]) -> List[str]:
        """``chosen`` with boundary, type and spurious errors moved onto the reference learner's likeliest wrong
        span of that kind, each with its ``learner_spans`` probability (``u``: the units' fourth uniforms)."""
        assert self.hardness is not None
        chosen = list(chosen)
        for i, (start, end, label) in enumerate(spans):
            kind = chosen[i].split(":")[0]
            if kind not in ("boundary", "type") or u[i] >= self.learner_spans.get(kind, 0.0):
                continue
            guess = self.hardness.candidate(key, (start, end, label), kind)
            if guess is not None:
                chosen[i] = f"type:{guess[2]}" if kind == "type" else \
                    f"boundary:{guess[0] - start:+d}:{guess[1] - end:+d}:{guess[2]}"
        o_positions = [j for j, g in enumerate(tags) if g == "O"]
        slot = {position: len(spans) + n for n, position in enumerate(o_positions)}
        guesses = [g for g in self.hardness.spurious(key) if g[0] in slot]
        placed = set()
        for n in range(len(o_positions)):
            index = len(spans) + n
            if not guesses or index in placed or not chosen[index].startswith("spurious:") or \
                    u[index] >= self.learner_spans.get("spurious", 0.0):
                continue
            start, end, label, _ = guesses.pop(0)
            target = slot[start]
            chosen[index], chosen[target] = chosen[target], f"spurious:{end - start}:{label}"
            placed.add(target)
        return chosen


def _differs(base: str, alternative: str) -> bool:
    """Whether ``alternative`` applies to ``base`` and changes it."""
    outcome = absolute(base, alternative)
    return outcome is not None and outcome != base


def predicted_tags(tokens: Sequence[str], gold: Sequence[str], spans: Sequence[Tuple[int, int, str]],
                   entity_outcomes: Sequence[str], token_outcomes: Sequence[str]) -> List[str]:
    """The tags of one run: gold entities changed by their outcomes, then spurious entities on free ``O``s."""
    n = len(tokens)
    predicted = []
    for (start, end, label), outcome in zip(spans, entity_outcomes):
        parts = outcome.split(":")
        if parts[0] == "type":
            predicted.append((start, end, parts[1]))
        elif parts[0] == "boundary":
            placed = place_boundary(int(parts[1]), int(parts[2]), (start, end, label), n)
            predicted.append((*(placed or (start, end)), label if parts[3] == "=" else parts[3]))
        elif parts[0] == "split":
            cut = start + min(max(int(parts[1]), 1), end - start - 1)
            first, second = (label if x == "=" else x for x in parts[2:4])
            predicted += [(start, cut, first), (cut, end, second)]
        elif parts[0] != "missed":
            predicted.append((start, end, label))
    tags = spans_to_iob(n, sorted(predicted))
    o_positions = [i for i, g in enumerate(gold) if g == "O"]
    for i, outcome in zip(o_positions, token_outcomes):
        if outcome.startswith("spurious:"):
            _, length, label = outcome.split(":", 2)
            placed = place_spurious(i, int(length), [t == "O" and g == "O" for t, g in zip(tags, gold)])
            if placed:
                tags[placed[0]:placed[1]] = [f"B-{label}"] + [f"I-{label}"] * (placed[1] - placed[0] - 1)
    return tags


def place_spurious(start: int, length: int, free: Sequence[bool]) -> Optional[Tuple[int, int]]:
    """Where a spurious entity of ``length`` drawn at ``start`` goes among the ``free`` tokens (gold and
    predicted ``O``): at ``start`` when it fits; else moved left within its free stretch, else into the
    nearest free stretch long enough; cut to the longest stretch when none is. Outcomes are drawn token by
    token, so an entity may be drawn where another lies or where there is no room; moving it keeps the
    recorded rates of spurious entities and tokens. ``None``: no token is free.
    """
    stretches = free_stretches(free)
    if not stretches:
        return None
    roomy = [(a, b) for a, b in stretches if b - a >= length]
    if not roomy:
        a, b = max(stretches, key=lambda ab: (ab[1] - ab[0], -abs(ab[0] - start)))
        return a, b
    a, b = min(roomy, key=lambda ab: 0 if ab[0] <= start < ab[1] else min(abs(ab[0] - start), abs(ab[1] - 1 - start)))
    begin = min(max(start, a), b - length)
    return begin, begin + length


def free_stretches(free: Sequence[bool]) -> List[Tuple[int, int]]:
    """``(start, end)`` of every maximal run of ``True`` in ``free``."""
    stretches, begin = [], None
    for i, is_free in enumerate(list(free) + [False]):
        if is_free and begin is None:
            begin = i
        elif not is_free and begin is not None:
            stretches.append((begin, i))
            begin = None
    return stretches


def _position(pairs: List[Any], kind: str, u: float) -> int:
    """A position among the elements whose token is of ``kind`` (any, when none is), at quantile ``u``."""
    candidates = [i for i, p in enumerate(pairs) if token_kind(p[0] if isinstance(p, list) and p else p) == kind]
    candidates = candidates or list(range(len(pairs)))
    return candidates[min(int(u * len(candidates)), len(candidates) - 1)]


def malform(pairs: List[Any], outcome: str, u: float) -> List[Any]:
    """``pairs`` with one element broken as ``outcome`` (``1 item:punct``, ...) says."""
    if outcome == "none" or not pairs:
        return pairs
    kind, _, where = outcome.rpartition(":")
    i = _position(pairs, where, u)
    token, tag = pairs[i]
    broken = {"1 item": [token], "0 items": [], "3 items": [token, tag, tag], "tag not a string": [token, None],
              "token not a string": [None, tag]}
    pairs[i] = broken.get(kind, token if kind.startswith("not a list") else [token])
    return pairs


def change_length(pairs: List[Any], outcome: str, u: float) -> List[Any]:
    """``pairs`` with tokens skipped (``-1:punct``) or added (``+1:word``: the element repeated) at one place."""
    if outcome == "none" or not pairs:
        return pairs
    delta, _, kind = outcome.partition(":")
    i = _position(pairs, kind, u)
    if int(delta) < 0:
        return pairs[:i] + pairs[i - int(delta):] if len(pairs) > -int(delta) else pairs[:1]
    repeated = [pairs[i][:] if isinstance(pairs[i], list) else pairs[i] for _ in range(int(delta))]
    return pairs[:i + 1] + repeated + pairs[i + 1:]
