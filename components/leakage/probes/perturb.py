"""Distractors for the quizzes: word-level perturbations of a sentence, tag-level ones of its gold tags.

Text (quiz B), three kinds, one of each per sentence:

- ``window_shuffle``: the words inside one window of up to ``window`` consecutive tokens reordered
  (a non-identity permutation that changes the text; nothing is replaced, so no synonyms are involved);
- ``drop_or_duplicate``: one token deleted, or (for sentences under 5 tokens, or on a coin flip)
  repeated right after itself;
- ``swap_two``: two tokens with different text, at least two positions apart when the sentence
  allows, exchanged.

Tags (quiz C), three kinds, each valid IOB2 (built from spans with ``spans_to_iob``, extensions only
over ``O`` tokens, so entities never overlap):

- ``boundary_shift``: one boundary of one entity moved by one token (extending or shrinking it);
- ``type_swap``: one entity's label replaced by another label;
- ``date_extent``: a DATE entity's extent changed by two tokens (both ends by one, or one end by
  two; a one-token change when nothing else fits). Sentences without a DATE entity get the same
  change on another entity, recorded as ``extent_change``.

Every distractor differs from the original and from the other two (text compared as joined tokens);
a sentence that cannot get three is ineligible (``None``), never given a duplicate option.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ...data.iob import MASAKHANER_LABELS, iob_problems, iob_to_spans, spans_to_iob

TEXT_KINDS: Tuple[str, ...] = ("window_shuffle", "drop_or_duplicate", "swap_two")
TAG_KINDS: Tuple[str, ...] = ("boundary_shift", "type_swap", "date_extent")
Span = Tuple[int, int, str]
_TRIES = 20


def window_shuffle(tokens: Sequence[str], rng: np.random.Generator, window: int = 4) -> Optional[List[str]]:
    """``tokens`` with one window's words reordered so the text changes; None if no window can change."""
    w = min(window, len(tokens))
    starts = [s for s in range(len(tokens) - w + 1) if len(set(tokens[s:s + w])) > 1]
    if w < 2 or not starts:
        return None
    start = starts[int(rng.integers(len(starts)))]
    part = list(tokens[start:start + w])
    for _ in range(_TRIES):
        order = rng.permutation(w)
        moved = [part[i] for i in order]
        if moved != part:
            return list(tokens[:start]) + moved + list(tokens[start + w:])
    return None


def drop_or_duplicate(tokens: Sequence[str], rng: np.random.Generator) -> Optional[List[str]]:
    """``tokens`` with one token dropped, or duplicated in place (always under 5 tokens); never unchanged."""
    if not tokens:
        return None
    i = int(rng.integers(len(tokens)))
    if len(tokens) >= 5 and rng.random() < 0.5:
        return list(tokens[:i]) + list(tokens[i + 1:])
    return list(tokens[:i + 1]) + [tokens[i]] + list(tokens[i + 1:])


def swap_two(tokens: Sequence[str], rng: np.random.Generator) -> Optional[List[str]]:
    """``tokens`` with two differing tokens exchanged (two or more positions apart when possible)."""
    pairs = [(i, j) for i in range(len(tokens)) for j in range(i + 1, len(tokens)) if tokens[i] != tokens[j]]
    apart = [(i, j) for i, j in pairs if j - i >= 2]
    choices = apart or pairs
    if not choices:
        return None
    i, j = choices[int(rng.integers(len(choices)))]
    swapped = list(tokens)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    return swapped


def text_distractors(tokens: Sequence[str], rng: np.random.Generator,
                     window: int = 4) -> Optional[List[Tuple[str, List[str]]]]:
    """``[(kind, tokens)]``, one per :data:`TEXT_KINDS`, all distinct from each other and the original."""
    makers: List[Callable[[], Optional[List[str]]]] = [
        lambda: window_shuffle(tokens, rng, window), lambda: drop_or_duplicate(tokens, rng),
        lambda: swap_two(tokens, rng)]
    return _distinct(list(zip(TEXT_KINDS, makers)), list(tokens), " ".join)


def tag_candidates(tags: Sequence[str], labels: Sequence[str] = MASAKHANER_LABELS) -> List[List[List[str]]]:
    """Every variant of each :data:`TAG_KINDS` for ``tags`` (lists of tag sequences, in that order)."""
    spans = iob_to_spans(tags)
    n = len(tags)

    def free(start: int, end: int) -> bool:  # tokens outside every entity, inside the sentence
        return 0 <= start <= end <= n and all(tags[i] == "O" for i in range(start, end))

    def variant(k: int, span: Span) -> List[str]:
        return spans_to_iob(n, spans[:k] + [span] + spans[k + 1:])

    def reshaped(k: int, moves: Sequence[Tuple[int, int]]) -> List[List[str]]:
        s, e, label = spans[k]
        out = []
        for ds, de in moves:
            s2, e2 = s + ds, e + de
            if s2 < e2 and (s2 >= s or free(s2, s)) and (e2 <= e or free(e, e2)):  # grow only over O
                out.append(variant(k, (s2, e2, label)))
        return out

    one = [(-1, 0), (1, 0), (0, 1), (0, -1)]
    two = [(-1, 1), (1, -1), (-2, 0), (2, 0), (0, 2), (0, -2), (-1, -1), (1, 1)]
    dates = [k for k, span in enumerate(spans) if span[2] == "DATE"] or list(range(len(spans)))
    boundary = [v for k in range(len(spans)) for v in reshaped(k, one)]
    types = [variant(k, (s, e, other)) for k, (s, e, label) in enumerate(spans) for other in labels if other != label]
    extent = [v for k in dates for v in reshaped(k, two)] or [v for k in dates for v in reshaped(k, one)]
    return [boundary, types, extent]


def tag_distractors(tags: Sequence[str], rng: np.random.Generator,
                    labels: Sequence[str] = MASAKHANER_LABELS) -> Optional[List[Tuple[str, List[str]]]]:
    """``[(kind, tags)]``, one per :data:`TAG_KINDS`, valid IOB2 and distinct; None without entities or when
    a kind has no variant left. ``date_extent`` reads ``extent_change`` for a sentence without a DATE."""
    if not iob_to_spans(tags) or iob_problems(tags):
        return None
    kinds = list(TAG_KINDS)
    if "B-DATE" not in tags:
        kinds[2] = "extent_change"
    pools = tag_candidates(tags, labels)
    makers = [(kind, _picker(pool, rng)) for kind, pool in zip(kinds, pools)]
    return _distinct(makers, list(tags), " ".join)


def _picker(pool: List[List[str]], rng: np.random.Generator) -> Callable[[], Optional[List[str]]]:
    return lambda: pool[int(rng.integers(len(pool)))] if pool else None


def _distinct(makers: List[Tuple[str, Callable[[], Optional[List[str]]]]], original: List[str],
              key: Callable[[List[str]], str]) -> Optional[List[Tuple[str, List[str]]]]:
    """One result per maker, each differing (by ``key``) from the original and the others; None if impossible."""
    seen = {key(original)}
    chosen = []
    for kind, make in makers:
        for _ in range(_TRIES):
            candidate = make()
            if candidate is None:
                return None
            if key(candidate) not in seen:
                break
        else:
            return None
        seen.add(key(candidate))
        chosen.append((kind, candidate))
    return chosen
