"""All memorisation probes for a list of languages, and their verdict (``leakage --probe-annotator``).

The quizzes (B, C) and source identification (A) ask about test sentences, the completion probe (D) about
train sentences (its prompt names the split), each a seeded sample of ``n`` per language, through one
chat model (the annotator's, at temperature 0, with its cache and ledger).
"""
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .completion import completion_probe
from .quiz import label_quiz, text_quiz
from .sample import load_sentences
from .source import source_probe
from .verdict import verdict

PROBES = ("text_quiz", "label_quiz", "source", "completion")
Complete = Callable[[List[str]], List[str]]


def probe_language(corpus: Path, lang: str, complete: Complete, *, n: int = 100, seed: int = 0,
                   probes: Sequence[str] = PROBES, tagging_accuracy: Optional[float] = None) -> Dict[str, Any]:
    """The probes of one language's corpus folder (``test.spacy`` and ``train.spacy``)."""
    unknown = sorted(set(probes) - set(PROBES))
    if unknown:
        raise ValueError(f"unknown probes {unknown}; choose from {', '.join(PROBES)}")
    test = load_sentences(corpus / "test.spacy")
    out: Dict[str, Any] = {}
    if "text_quiz" in probes:
        out["text_quiz"] = text_quiz(test, complete, lang=lang, n=n, seed=seed)
    if "label_quiz" in probes:
        out["label_quiz"] = label_quiz(test, complete, lang=lang, n=n, seed=seed, tagging_accuracy=tagging_accuracy)
    if "source" in probes:
        out["source"] = source_probe(test, complete, lang=lang, n=n, seed=seed)
    if "completion" in probes:
        out["completion"] = completion_probe(load_sentences(corpus / "train.spacy"), complete, lang=lang, n=n,
                                             seed=seed)
    return out


def probe_languages(corpus_root: Path, langs: Sequence[str], complete: Complete, *, n: int = 100, seed: int = 0,
                    probes: Sequence[str] = PROBES, alpha: float = 0.05,
                    tagging_accuracy: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """Every language's probes and the verdict over them (with Holm's correction across languages)."""
    results = {lang: probe_language(corpus_root / lang, lang, complete, n=n, seed=seed, probes=probes,
                                    tagging_accuracy=(tagging_accuracy or {}).get(lang)) for lang in langs}
    counted = [p for p in ("text_quiz", "label_quiz", "completion") if p in probes]
    return {"n": n, "seed": seed, "probes": list(probes), "results": results,
            "verdict": verdict(results, alpha=alpha, probes=counted) if counted else None}
