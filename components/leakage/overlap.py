"""Exact and near-duplicate sentences between named sets of sentences, and within a set.

Sentences are compared on their normalised text (:func:`.normalise.normalise`: NFC,
case-folded, punctuation deleted, whitespace collapsed).

* **exact duplicates**: the same normalised text (an empty one, e.g. a sentence of
  punctuation only, matches nothing);
* **near duplicates**: a different normalised text whose set of character 5-grams
  (:func:`.normalise.shingles`) has a Jaccard similarity of at least 0.8 with the other's.
  The threshold is the one Lee et al. (2022, "Deduplicating Training Data Makes Language
  Models Better", ACL) used for near-duplicate documents; character rather than word n-grams
  because sentences are short: one changed word in a 20-word sentence costs 3 of ~18 word
  3-grams (Jaccard ~0.7) but only ~10 of ~120 character 5-grams (Jaccard ~0.85), and because
  they survive small spelling and tokenisation differences. Texts of fewer than 30 normalised
  characters are matched exactly only: a few shared letters would already make them "near".

Candidate pairs come from MinHash LSH (``datasketch``; 128 permutations in 32 bands of 4
rows, so a pair at Jaccard 0.8 is missed with probability (1 - 0.8**4)**32 ~ 5e-8, at 0.9
~ 1e-14). Every candidate is then VERIFIED with the exact Jaccard of the two shingle sets,
so no false positive from MinHash remains; the only possible error is such a (rare) miss.
Ids are not compared: the same sentence (same id) in two sets is an exact duplicate like any other.
"""
import itertools
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, DefaultDict, Dict, FrozenSet, List, Literal, Mapping, Optional, Sequence, Set, Tuple

from datasketch import MinHash, MinHashLSH

from .normalise import jaccard, normalise, shingles

Kind = Literal["exact", "near"]


@dataclass(frozen=True)
class Sentence:
    """One sentence of a set: its id, its original text and, when known, the corpus split it came from."""

    id: str
    text: str
    split: Optional[str] = None


@dataclass(frozen=True)
class OverlapSettings:
    """What counts as a duplicate (see the module docstring) and how much of it a report lists."""

    threshold: float = 0.8  # verified Jaccard of character shingles for a near duplicate
    shingle_size: int = 5
    min_chars: int = 30  # normalised texts shorter than this are matched exactly only
    bands: int = 32  # LSH bands x rows = MinHash permutations
    rows: int = 4
    seed: int = 1  # of the MinHash permutations
    max_items: int = 10  # duplicate pairs listed per pair of sets
    preview_chars: int = 80  # texts in listed items are cut to this length

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if min(self.shingle_size, self.bands, self.rows) < 1:
            raise ValueError(f"shingle_size, bands and rows must be positive, got {self}")


@dataclass(frozen=True)
class Overlap:
    """One duplicate pair: ``left`` in set ``left_set`` and ``right`` in ``right_set`` (possibly the same set)."""

    left_set: str
    left: Sentence
    right_set: str
    right: Sentence
    kind: Kind
    similarity: float


@dataclass(frozen=True)
class _Entry:
    set_name: str
    order: int  # of the set among the sets, so pairs are reported in the order the sets were given
    sentence: Sentence
    norm: str
    grams: FrozenSet[str]


def find_overlaps(sets: Mapping[str, Sequence[Sentence]], settings: OverlapSettings = OverlapSettings(),
                  within: bool = False) -> List[Overlap]:
    """Every exact and (verified) near-duplicate pair between different sets, and inside a set with ``within``.

    A pair's ``left`` is in the set given first. Exact pairs come first, then near pairs by similarity.
    """
    entries = [_Entry(name, order, s, norm, shingles(norm, settings.shingle_size))
               for order, (name, items) in enumerate(sets.items()) for s in items for norm in [normalise(s.text)]]
    found: List[Tuple[int, int, Kind, float]] = [(i, j, "exact", 1.0) for i, j in _exact_pairs(entries)]
    found += [(i, j, "near", sim) for i, j, sim in _near_pairs(entries, settings, within)]
    overlaps = []
    for i, j, kind, sim in found:
        a, b = sorted((entries[i], entries[j]), key=lambda e: e.order)
        if a.set_name != b.set_name or within:
            overlaps.append(Overlap(a.set_name, a.sentence, b.set_name, b.sentence, kind, round(sim, 4)))
    overlaps.sort(key=lambda o: (o.kind != "exact", -o.similarity, o.left_set, o.right_set, o.left.id, o.right.id))
    return overlaps


def _exact_pairs(entries: Sequence[_Entry]) -> List[Tuple[int, int]]:
    groups: DefaultDict[str, List[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        if entry.norm:
            groups[entry.norm].append(index)
    return [pair for group in groups.values() for pair in itertools.combinations(group, 2)]


def _near_pairs(entries: Sequence[_Entry], settings: OverlapSettings, within: bool) -> List[Tuple[int, int, float]]:
    """Pairs of different normalised texts, both long enough, at verified Jaccard >= ``settings.threshold``."""
    long_enough = [i for i, e in enumerate(entries) if len(e.norm) >= settings.min_chars]
    num_perm = settings.bands * settings.rows
    hashes = MinHash.bulk([[g.encode("utf-8") for g in entries[i].grams] for i in long_enough],
                          num_perm=num_perm, seed=settings.seed)
    lsh = MinHashLSH(num_perm=num_perm, params=(settings.bands, settings.rows))
    with lsh.insertion_session() as session:
        for index, minhash in zip(long_enough, hashes):
            session.insert(index, minhash, check_duplication=False)
    pairs = []
    seen: Set[Tuple[int, int]] = set()
    for index, minhash in zip(long_enough, hashes):
        for other in lsh.query(minhash):
            pair = (min(index, other), max(index, other))
            a, b = entries[index], entries[other]
            if other == index or pair in seen or a.norm == b.norm or (a.set_name == b.set_name and not within):
                continue
            seen.add(pair)
            similarity = jaccard(a.grams, b.grams)
            if similarity >= settings.threshold:
                pairs.append((pair[0], pair[1], similarity))
    return pairs


def summarise(sets: Mapping[str, Sequence[Sentence]], overlaps: Sequence[Overlap],
              settings: OverlapSettings = OverlapSettings(), pairs: Optional[Sequence[Tuple[str, str]]] = None,
              within: bool = False) -> Dict[str, Any]:
    """The JSON report of ``overlaps``: settings, each set's size, and per pair of sets (``"a|b"``, every pair
    in the order given unless ``pairs`` names them) the exact and near counts and up to ``max_items`` pairs.

    Counts are ``{"pairs": duplicate pairs, "left": sentences of a with a duplicate in b, "right": the same
    for b}``; with ``within``, ``"within"`` gives per set ``{"pairs", "sentences"}`` of duplicates inside it.
    """
    names = list(sets)
    wanted = list(pairs) if pairs is not None else list(itertools.combinations(names, 2))
    for a, b in wanted:
        if a not in sets or b not in sets:
            raise KeyError(f"pair ({a!r}, {b!r}) names a set that is not among {names}")
    by_pair: DefaultDict[Tuple[str, str], List[Overlap]] = defaultdict(list)
    for overlap in overlaps:
        by_pair[(overlap.left_set, overlap.right_set)].append(overlap)
    report: Dict[str, Any] = {"settings": asdict(settings), "sizes": {name: len(sets[name]) for name in names},
                              "pairs": {}}
    for a, b in wanted:
        found = by_pair[(a, b)] + [_swap(o) for o in by_pair[(b, a)]] if a != b else by_pair[(a, a)]
        report["pairs"][pair_key(a, b)] = {"left": a, "right": b, **_counts(found, settings)}
    if within:
        report["within"] = {name: _counts(by_pair[(name, name)], settings, within=True) for name in names}
    return report


def overlap_report(sets: Mapping[str, Sequence[Sentence]], settings: OverlapSettings = OverlapSettings(),
                   pairs: Optional[Sequence[Tuple[str, str]]] = None, within: bool = False) -> Dict[str, Any]:
    """:func:`find_overlaps` then :func:`summarise`: the duplicate counts between named sets, as a JSON dict."""
    return summarise(sets, find_overlaps(sets, settings, within), settings, pairs, within)


def check_leakage(sets: Mapping[str, Sequence[Sentence]], test: str = "test",
                  training: Sequence[str] = ("seed", "pool", "examples"), examples: str = "examples",
                  settings: OverlapSettings = OverlapSettings(),
                  pairs: Optional[Sequence[Tuple[str, str]]] = None) -> Dict[str, Any]:
    """:func:`overlap_report` of ``sets`` plus ``"leakage"`` (a flag) and ``"errors"``, each listing its items:

    * ``examples_from_test``: a few-shot example from the ``test`` split, or an exact or near duplicate
      of a sentence of the ``test`` set;
    * ``test_in_training``: the same for every sentence of the ``training`` sets (examples included).

    An item is ``{"set", "id", "text", "split", "reason", "test_id", "similarity"}`` where ``reason`` is
    ``"test_split"`` (the sentence's own split is ``test``: the loop took it from the test data) or
    ``"exact"``/``"near"`` (it duplicates test sentence ``test_id``, e.g. a train sentence that MasakhaNER
    itself repeats in its test split). A sentence matched with itself (same id) is only a ``test_split`` item.
    ``count`` is the number of distinct offending sentences.
    """
    for name in (test, examples, *training):
        if name not in sets:
            raise KeyError(f"set {name!r} is not among the sets given ({list(sets)})")
    overlaps = find_overlaps(sets, settings)
    report = summarise(sets, overlaps, settings, pairs)
    errors = {"examples_from_test": _offending(sets, overlaps, [examples], test, settings.preview_chars),
              "test_in_training": _offending(sets, overlaps, list(training), test, settings.preview_chars)}
    return {"leakage": any(error["count"] for error in errors.values()), "errors": errors, **report}


def _offending(sets: Mapping[str, Sequence[Sentence]], overlaps: Sequence[Overlap], names: Sequence[str],
               test: str, preview_chars: int) -> Dict[str, Any]:
    """The sentences of sets ``names`` from the ``test`` split or duplicating a sentence of set ``test``."""
    items = [_offender(name, s, "test_split", None, None, preview_chars)
             for name in names for s in sets[name] if s.split == test]
    for o in overlaps:
        for own_set, own, other_set, other in ((o.left_set, o.left, o.right_set, o.right),
                                               (o.right_set, o.right, o.left_set, o.left)):
            if own_set in names and other_set == test and own.id != other.id:
                items.append(_offender(own_set, own, o.kind, other.id, o.similarity, preview_chars))
    items.sort(key=lambda item: (item["set"], item["id"], item["reason"] != "test_split", item["test_id"] or ""))
    return {"count": len({(item["set"], item["id"]) for item in items}), "items": items}


def _offender(set_name: str, sentence: Sentence, reason: str, test_id: Optional[str], similarity: Optional[float],
              preview_chars: int) -> Dict[str, Any]:
    return {"set": set_name, "id": sentence.id, "text": shorten(sentence.text, preview_chars),
            "split": sentence.split, "reason": reason, "test_id": test_id, "similarity": similarity}


def pair_key(left: str, right: str) -> str:
    """The report's key for a pair of sets."""
    return f"{left}|{right}"


def overlap_item(overlap: Overlap, preview_chars: int = 80) -> Dict[str, Any]:
    """One pair as listed in a report: kind, similarity, both ids and both texts, cut to ``preview_chars``."""
    return {"kind": overlap.kind, "similarity": overlap.similarity,
            "left_id": overlap.left.id, "right_id": overlap.right.id,
            "left_text": shorten(overlap.left.text, preview_chars),
            "right_text": shorten(overlap.right.text, preview_chars)}


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def _swap(o: Overlap) -> Overlap:
    return Overlap(o.right_set, o.right, o.left_set, o.left, o.kind, o.similarity)


def _counts(found: Sequence[Overlap], settings: OverlapSettings, within: bool = False) -> Dict[str, Any]:
    counts: Dict[str, Any] = {}
    for kind in ("exact", "near"):
        of_kind = [o for o in found if o.kind == kind]
        left, right = {o.left.id for o in of_kind}, {o.right.id for o in of_kind}
        sides = {"sentences": len(left | right)} if within else {"left": len(left), "right": len(right)}
        counts[kind] = {"pairs": len(of_kind), **sides}
    ordered = sorted(found, key=lambda o: (o.kind != "exact", -o.similarity, o.left.id, o.right.id))
    counts["items"] = [overlap_item(o, settings.preview_chars) for o in ordered[:settings.max_items]]
    return counts
