"""Pure functions over IOB2 tag sequences: schema, validation and repair.

Shared by the CoNLL reader and the LLM-output parser, so both repair the same
way: an ``I-X`` that does not continue an ``X`` entity starts one (``B-X``), as
conlleval and seqeval's default mode read it.
"""
from typing import Iterable, List, Sequence, Tuple

MASAKHANER_LABELS: Tuple[str, ...] = ("PER", "ORG", "LOC", "DATE")


def iob_tagset(labels: Iterable[str] = MASAKHANER_LABELS) -> Tuple[str, ...]:
    """All IOB2 tags for ``labels``: ``O`` first, then ``B-X``, ``I-X`` per label."""
    tags = ["O"]
    for label in labels:
        tags.extend((f"B-{label}", f"I-{label}"))
    return tuple(tags)


def iob_problems(tags: Sequence[str]) -> List[Tuple[int, str]]:
    """``(index, message)`` for every ``I-X`` that does not continue an ``X`` entity."""
    problems = []
    prev = "O"
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            if prev == "O":
                problems.append((i, f"'{tag}' follows 'O'"))
            elif prev[2:] != tag[2:]:
                problems.append((i, f"'{tag}' follows '{prev}'"))
        prev = tag
    return problems


def repair_iob(tags: Sequence[str]) -> Tuple[List[str], List[Tuple[int, str]]]:
    """Turn every ``I-X`` that starts an entity into ``B-X``; return the tags and the repairs."""
    fixed = list(tags)
    problems = iob_problems(fixed)
    for i, message in problems:
        fixed[i] = "B-" + fixed[i][2:]
    return fixed, [(i, f"{message}; read as 'B-{tags[i][2:]}'") for i, message in problems]


def iob_to_spans(tags: Sequence[str]) -> List[Tuple[int, int, str]]:
    """Entity spans ``(start, end_exclusive, label)`` of a valid IOB2 sequence."""
    spans: List[Tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        continues = tag.startswith("I-") and tag[2:] == label and start >= 0
        if start >= 0 and not continues:
            spans.append((start, i, label))
            start, label = -1, ""
        if tag.startswith("B-") or (tag.startswith("I-") and not continues):
            start, label = i, tag[2:]
    return spans


def spans_to_iob(n_tokens: int, spans: Iterable[Tuple[int, int, str]]) -> List[str]:
    """IOB2 tags for ``n_tokens`` tokens from ``(start, end_exclusive, label)`` spans."""
    tags = ["O"] * n_tokens
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags
