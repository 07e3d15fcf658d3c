"""What one LLM run did to one sentence, as *outcomes* of units: the error model's vocabulary.

A sentence's *units* are its gold entities (condition: type and length, ``DATE:2+``), its gold-``O`` tokens
(condition: the token's shape) and three sentence-wide units (``length``, ``items``, ``output``).
In each run every unit has one outcome, a short string:

- gold entity: ``correct``; ``missed``; ``type:X`` (same span, type X); ``split:<k>:X:Y`` (two or more
  predicted entities overlap it: read as cut after its ``k``-th token into X and Y); ``boundary:<ds>:<de>:X``
  (the one overlapping predicted span starts ``ds`` and ends ``de`` tokens off gold, type X).
- gold-``O`` token: ``none``, or ``spurious:<length>:X`` when a predicted entity that overlaps no gold
  entity starts there (as an alternative to a spurious base, ``respan:<length delta>:X``, see :func:`relative`).
- ``length``: ``none`` or ``<delta>:<kind>`` (``-1:punct``: one punctuation token skipped; ``+1:word``).
- ``items``: ``none`` or ``<malformed kind>:<token kind>`` (``1 item:punct``: a ``[token]`` without tag).
- ``output``: ``none``, ``invalid`` (not a list) or ``empty``.

``X`` may be outside the schema (``EVENT``, ``PROD``): that is how out-of-schema tags are modelled.
Entity and token outcomes are read from runs of the right length only (others say nothing about spans).
"""
import difflib
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..annotator_eval.failures import malformed_kind
from ..annotator_eval.recorded import run_tags
from ..data.iob import iob_to_spans

Span = Tuple[int, int, str]
MAX_SPURIOUS_LENGTH = 12
SENTENCE_UNITS = ("length", "items", "output")


def token_shape(token: str) -> str:
    """A gold-``O`` token's condition: ``punct`` (no letter or digit), ``num``, ``cap`` or ``lower``."""
    if not any(ch.isalnum() for ch in token):
        return "punct"
    if any(ch.isdigit() for ch in token):
        return "num"
    return "cap" if token[:1].isupper() else "lower"


def entity_condition(label: str, length: int) -> str:
    """A gold entity's condition: its type and whether it is one token or more (``PER:1``, ``DATE:2+``)."""
    return f"{label}:{'1' if length == 1 else '2+'}"


def feasible(outcome: str, span: Span) -> bool:
    """Whether an entity outcome can happen to ``span``: a type confusion needs another type, a split two tokens."""
    if outcome.startswith("split:"):
        return span[1] - span[0] > 1
    return not outcome.startswith("type:") or outcome.split(":")[1] != span[2]


def place_boundary(start_delta: int, end_delta: int, span: Span, n_tokens: int) -> Optional[Tuple[int, int]]:
    """Where a boundary error of ``(start_delta, end_delta)`` puts ``span`` in a sentence of ``n_tokens``.

    Deltas are clipped so the span stays in the sentence, non-empty and overlapping gold; when clipping
    leaves it unchanged (a one-token entity cannot shrink, a final one cannot grow right), it grows by one
    token where it can, so the error keeps happening. ``None``: no boundary error is possible.
    """
    start, end = span[0], span[1]
    new_start = min(max(start + start_delta, 0), end - 1)
    new_end = min(max(end + end_delta, new_start + 1, start + 1), n_tokens)
    if (new_start, new_end) != (start, end):
        return new_start, new_end
    if end < n_tokens:
        return start, end + 1
    if start > 0:
        return start - 1, end
    return (start, end - 1) if end - start > 1 else None


def relative(base: str, alternative: str) -> str:
    """A spurious entity's alternative written relative to its base (``respan:-1:=``: one token shorter, same
    type) when both are spurious: runs of one sentence mostly vary a spurious entity's length, not more."""
    if base.startswith("spurious:") and alternative.startswith("spurious:"):
        (_, length, label), (_, other_length, other_label) = base.split(":", 2), alternative.split(":", 2)
        return f"respan:{int(other_length) - int(length):+d}:{'=' if other_label == label else other_label}"
    return alternative


def absolute(base: str, alternative: str) -> Optional[str]:
    """The outcome a (possibly relative) alternative stands for given the base; ``None`` if it cannot apply."""
    if not alternative.startswith("respan:"):
        return alternative
    if not base.startswith("spurious:"):
        return None
    _, delta, label = alternative.split(":", 2)
    _, length, base_label = base.split(":", 2)
    return f"spurious:{max(1, int(length) + int(delta))}:{base_label if label == '=' else label}"


def token_kind(token: Any) -> str:
    """``punct`` or ``word``: which tokens an LLM skips or leaves untagged."""
    return "punct" if isinstance(token, str) and token_shape(token) == "punct" else "word"


def run_spans(tags: Sequence[Any]) -> List[Span]:
    """Predicted spans of a run's tags, any label (a missing or non-string tag reads as ``O``)."""
    return iob_to_spans([t if isinstance(t, str) else "O" for t in tags])


def entity_outcome(gold: Span, predicted: Sequence[Span]) -> str:
    """The outcome of one gold entity given a run's predicted spans (see the module docstring)."""
    start, end, label = gold
    if gold in predicted:
        return "correct"
    same = [p for p in predicted if p[0] == start and p[1] == end]
    if same:
        return f"type:{same[0][2]}"
    overlapping = [p for p in predicted if p[0] < end and start < p[1]]
    if not overlapping:
        return "missed"
    if len(overlapping) > 1 and end - start > 1:
        first, second = sorted(overlapping)[:2]
        cut = min(max(second[0] - start, 1), end - start - 1)
        return f"split:{cut}:{first[2]}:{second[2]}"
    best = max(overlapping, key=lambda p: (min(end, p[1]) - max(start, p[0]), -p[0]))
    return f"boundary:{best[0] - start:+d}:{best[1] - end:+d}:{best[2]}"


def spurious_outcomes(gold_spans: Sequence[Span], predicted: Sequence[Span]) -> Dict[int, str]:
    """``{token index: spurious:<length>:X}`` for predicted entities that overlap no gold entity."""
    out = {}
    for start, end, label in predicted:
        if not any(s < end and start < e for s, e, _ in gold_spans):
            out[start] = f"spurious:{min(end - start, MAX_SPURIOUS_LENGTH)}:{label}"
    return out


def length_outcome(tokens: Sequence[str], run: List[Any]) -> str:
    """``none``, or the length difference and the kind of the first token skipped or added."""
    delta = len(run) - len(tokens)
    if delta == 0:
        return "none"
    answered = [e[0] if isinstance(e, (list, tuple)) and e else None for e in run]
    changed = [op for op in difflib.SequenceMatcher(a=list(tokens), b=answered, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    kind = "word"
    if changed:
        _, i1, i2, j1, j2 = changed[0]
        kind = token_kind(tokens[i1] if delta < 0 and i1 < i2 else answered[j1] if j1 < j2 else None)
    return f"{delta:+d}:{kind}"


def items_outcome(run: List[Any]) -> str:
    """``none``, or the first malformed element's kind and the kind of its token."""
    for element in run:
        kind = malformed_kind(element)
        if kind:
            first = element[0] if isinstance(element, (list, tuple)) and element else element
            return f"{kind}:{token_kind(first)}"
    return "none"


def run_outcomes(tokens: Sequence[str], gold: Sequence[str], run: Any) -> Dict[str, Any]:
    """Every unit's outcome in one run: ``entities`` (list, gold-span order), ``tokens`` ({index: outcome}
    for gold-``O`` tokens, ``none`` omitted) and the sentence units; ``None`` where a run says nothing."""
    tags: Optional[List[Any]] = run_tags(run)
    if not tags:
        return {"entities": None, "tokens": None, "length": None, "items": None,
                "output": "invalid" if tags is None else "empty"}
    usable = len(tags) == len(gold)
    gold_spans = iob_to_spans(list(gold))
    predicted = run_spans(tags) if usable else []
    return {"entities": [entity_outcome(g, predicted) for g in gold_spans] if usable else None,
            "tokens": spurious_outcomes(gold_spans, predicted) if usable else None,
            "length": length_outcome(tokens, run), "items": items_outcome(run), "output": "none"}
