"""Probe D: guided vs general completion (Golchin & Surdeanu, arXiv 2308.08493), without an LLM judge.

Each sampled train sentence is cut after its first half of tokens (``len // 2``); the model completes
the first piece twice, with the guided prompt (naming the dataset and split) and with the general one
(naming only the language; see :mod:`.prompts`). Each completion is compared with the true rest:

- both are canonicalised: Unicode NFC, case-folded, punctuation (categories ``P*``) deleted,
  whitespace collapsed; then the completion's first line is cut to as many words as the reference
  has (a model that carries on past the sentence's end is not penalised);
- ``edit``: normalised Levenshtein similarity, ``1 - distance / max(len)`` on characters
  (``rapidfuzz.distance.Levenshtein.normalized_similarity``); the pre-stated metric of the test;
- ``rouge_l``: ROUGE-L F1 on words (our own LCS: ``rouge-score``'s tokenizer drops non-ASCII
  letters, which would erase most of Yorùbá or Ewe);
- exact: the canonical words are equal; near-exact: not exact and ``edit >= near_exact`` (0.85).

The pre-stated test: a paired one-sided Wilcoxon signed-rank test that guided minus general ``edit``
similarity is above zero. The memorised share is read as the share of guided completions that are
exact or near-exact (Clopper-Pearson), reported beside the same share for general completions.
"""
import unicodedata
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
from rapidfuzz.distance import Levenshtein

from . import prompts
from .sample import DATASET, Sentence, language_name, sample_indices, valid_sentence
from .stats import LEVEL, proportion, share_from_proportion, wilcoxon_greater

Complete = Callable[[List[str]], List[str]]
NEAR_EXACT = 0.85


def canonical_words(text: str) -> List[str]:
    """``text`` in NFC, case-folded, without punctuation, split on whitespace (see the module docstring)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in folded).split()


def split_sentence(tokens: Sequence[str]) -> Tuple[str, str]:
    """The first piece (the first ``len // 2`` tokens) and the true rest, as text."""
    cut = len(tokens) // 2
    return prompts.sentence_text(tokens[:cut]), prompts.sentence_text(tokens[cut:])


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 of two word lists (longest common subsequence; 0 when either is empty)."""
    if not candidate or not reference:
        return 0.0
    previous = [0] * (len(reference) + 1)
    for word in candidate:
        current = [0]
        for j, ref in enumerate(reference):
            current.append(previous[j] + 1 if word == ref else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(candidate) + len(reference))


def compare(completion: str, rest: str, near_exact: float = NEAR_EXACT) -> Dict[str, Any]:
    """``edit``, ``rouge_l``, ``exact`` and ``near_exact`` of a completion against the true rest."""
    reference = canonical_words(rest)
    lines = completion.strip().splitlines()
    first = lines[0] if lines else ""
    first = first[len("Second piece:"):] if first.startswith("Second piece:") else first
    words = canonical_words(first)[:len(reference)]
    edit = float(Levenshtein.normalized_similarity(" ".join(words), " ".join(reference)))
    exact = words == reference
    return {"edit": edit, "rouge_l": rouge_l(words, reference), "exact": exact,
            "near_exact": (not exact) and edit >= near_exact}


def eligible(sentence: Sentence, min_rest_words: int = 3) -> bool:
    """A valid sentence whose first piece and rest both have words (the rest at least ``min_rest_words``)."""
    if not valid_sentence(sentence) or len(sentence[0]) < 4:
        return False
    first, rest = split_sentence(sentence[0])
    return bool(canonical_words(first)) and len(canonical_words(rest)) >= min_rest_words


def completion_probe(sentences: Sequence[Sentence], complete: Complete, *, lang: str, n: int = 100, seed: int = 0,
                     split: str = "train", dataset: str = DATASET, near_exact: float = NEAR_EXACT,
                     level: float = LEVEL) -> Dict[str, Any]:
    """Probe D on ``n`` seeded sentences of the ``split`` split (see the module docstring)."""
    indices = sample_indices(sentences, n, np.random.default_rng(seed), eligible)
    pieces = [split_sentence(sentences[i][0]) for i in indices]
    language = language_name(lang)
    guided = [prompts.GUIDED.format(split=split, dataset=dataset, language=language, first=f) for f, _ in pieces]
    general = [prompts.GENERAL.format(language=language, first=f) for f, _ in pieces]
    answers = complete(guided + general)
    rows: List[Dict[str, Any]] = []
    for k, (index, (_, rest)) in enumerate(zip(indices, pieces)):
        g, c = answers[k], answers[len(indices) + k]
        if getattr(g, "error", None) or getattr(c, "error", None):
            continue
        rows.append({"index": index, "guided": compare(str(g), rest, near_exact),
                     "general": compare(str(c), rest, near_exact), "raw_guided": str(g)[:200]})
    summary = {mode: _summary([r[mode] for r in rows], level) for mode in ("guided", "general")}
    tests = {metric: wilcoxon_greater([r["guided"][metric] for r in rows], [r["general"][metric] for r in rows])
             for metric in ("edit", "rouge_l")}
    matched = summary["guided"]["exact_or_near"]
    return {"probe": "completion", "prompt_version": prompts.VERSIONS["completion"], "lang": lang, "seed": seed,
            "split": split, "dataset": dataset, "n_requested": n, "n": len(rows), "failed": len(indices) - len(rows),
            "thresholds": {"exact": "canonical words equal", "near_exact": f"not exact and edit >= {near_exact:g}"},
            "statistic": {"name": "median guided - general edit similarity",
                          "value": tests["edit"]["median_difference"], "guided": summary["guided"],
                          "general": summary["general"]},
            "test": tests["edit"], "rouge_l_test": tests["rouge_l"],
            "memorised_share": share_from_proportion(matched, "share of guided completions exact or near-exact"),
            "items": rows}


def _summary(scores: List[Dict[str, Any]], level: float) -> Dict[str, Any]:
    exact = sum(s["exact"] for s in scores)
    near = sum(s["near_exact"] for s in scores)
    return {"mean_edit": float(np.mean([s["edit"] for s in scores])) if scores else None,
            "mean_rouge_l": float(np.mean([s["rouge_l"] for s in scores])) if scores else None,
            "exact": exact, "near_exact": near, "exact_or_near": proportion(exact + near, len(scores), level)}
