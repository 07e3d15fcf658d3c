"""Probe A: "which NER dataset does this sample come from?" (arXiv 2404.02261, Step 4A).

Each sampled sentence is shown as ``token TAG`` lines and the model names a dataset in free text.
Answers are classified by ordered, case-insensitive regular expressions (the first that matches
wins, so a versioned MasakhaNER name is read before the unversioned one); anything else is
``other/unknown``. Reported: the share of every class, and of any MasakhaNER version, each with a
Clopper-Pearson interval. The pre-stated test: the share naming ``target`` (default: the exact
dataset, MasakhaNER 2.0) exceeds ``null_rate``, the share expected from a model that does not know
the sentences (exact one-sided binomial). There is no chance rate here: naming a well-known
dataset shows knowledge that the dataset exists, not memory of its sentences (GPT-4-Turbo named
MasakhaNER 1.0 96% of the time in the paper), so ``null_rate`` is a stated assumption, best set
from a control sample, and the verdict leaves this probe out unless asked (see :mod:`.verdict`).
"""
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from . import prompts
from .sample import Sentence, sample_indices, valid_sentence
from .stats import LEVEL, binomial_greater, proportion, share_from_proportion

OTHER = "other/unknown"
MASAKHANER_CLASSES = ("MasakhaNER 2.0", "MasakhaNER 1.0", "MasakhaNER (no version)")
DEFAULT_PATTERNS: Dict[str, str] = {
    "MasakhaNER 2.0": r"masakha[\s_-]*ner[\s_(\-]*(?:v(?:ersion)?\s*)?2(?:\.0)?(?![\d.]*\d)",
    "MasakhaNER 1.0": r"masakha[\s_-]*ner[\s_(\-]*(?:v(?:ersion)?\s*)?1(?:\.0)?(?![\d.]*\d)",
    "MasakhaNER (no version)": r"masakha[\s_-]*ner",
    "CoNLL-2003": r"conll[\s_-]*(?:20)?03",
    "WikiAnn": r"wiki[\s_-]*ann|pan[\s_-]*x\b",
}
Complete = Callable[[List[str]], List[str]]


def compile_patterns(patterns: Mapping[str, str]) -> Dict[str, "re.Pattern[str]"]:
    """The patterns compiled case-insensitively, in order; a ValueError naming a pattern that does not compile."""
    compiled = {}
    for name, pattern in patterns.items():
        try:
            compiled[name] = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise ValueError(f"source pattern for '{name}' does not compile: {pattern!r} ({err})") from None
    return compiled


def classify_source(answer: str, patterns: Optional[Mapping[str, "re.Pattern[str]"]] = None) -> str:
    """The first class whose pattern matches ``answer`` (:data:`DEFAULT_PATTERNS` by default), else :data:`OTHER`."""
    for name, pattern in (patterns or compile_patterns(DEFAULT_PATTERNS)).items():
        if pattern.search(answer):
            return name
    return OTHER


def source_probe(sentences: Sequence[Sentence], complete: Complete, *, lang: str, n: int = 100, seed: int = 0,
                 patterns: Optional[Mapping[str, str]] = None, target: Sequence[str] = ("MasakhaNER 2.0",),
                 family: Sequence[str] = MASAKHANER_CLASSES, null_rate: float = 0.05,
                 level: float = LEVEL) -> Dict[str, Any]:
    """Probe A on ``n`` seeded sentences: shares of the datasets named, and the test on ``target``.

    patterns: ``{class: regex}`` in matching order (default :data:`DEFAULT_PATTERNS`); ``target`` and
    ``family`` (what counts as "naming MasakhaNER") must be among its classes.
    """
    compiled = compile_patterns(patterns or DEFAULT_PATTERNS)
    missing = [name for name in [*target, *family] if name not in compiled]
    if missing:
        raise ValueError(f"target/family classes {missing} are not among the patterns' classes {list(compiled)}")
    indices = sample_indices(sentences, n, np.random.default_rng(seed), valid_sentence)
    asked = [prompts.SOURCE.format(sample=prompts.conll_sample(*sentences[i])) for i in indices]
    answers = complete(asked)
    rows = [{"index": i, "class": classify_source(str(a), compiled), "raw": str(a)[:200]}
            for i, a in zip(indices, answers) if not getattr(a, "error", None)]
    counts = {name: sum(r["class"] == name for r in rows) for name in [*compiled, OTHER]}
    hits = sum(counts[name] for name in target)
    named = proportion(hits, len(rows), level)
    return {"probe": "source", "prompt_version": prompts.VERSIONS["source"], "lang": lang, "seed": seed,
            "n_requested": n, "n": len(rows), "failed": len(indices) - len(rows), "counts": counts,
            "shares": {name: proportion(k, len(rows), level) for name, k in counts.items()},
            "masakhaner_any_version": proportion(sum(counts[name] for name in family), len(rows), level),
            "statistic": dict(named, name="target_share", target=list(target)),
            "test": binomial_greater(hits, len(rows), null_rate),
            "memorised_share": share_from_proportion(named, "share naming " + " or ".join(target)),
            "items": rows}
