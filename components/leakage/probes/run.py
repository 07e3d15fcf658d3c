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
                   probes: Sequence[str] = PROBES, tagging_accuracy: Optional[float] = None,
                   label_sentences: Optional[Sequence[Any]] = None) -> Dict[str, Any]:
    """The probes of one language's corpus folder (``test.spacy`` and ``train.spacy``).

    ``label_sentences`` and ``tagging_accuracy``: the label quiz asks about these sentences instead (those
    annotator-eval asked the same model about) and compares its rate with the model's sentence-level
    tagging accuracy on them (see :func:`annotator_eval_skill`).
    """
    unknown = sorted(set(probes) - set(PROBES))
    if unknown:
        raise ValueError(f"unknown probes {unknown}; choose from {', '.join(PROBES)}")
    test = load_sentences(corpus / "test.spacy")
    out: Dict[str, Any] = {}
    if "text_quiz" in probes:
        out["text_quiz"] = text_quiz(test, complete, lang=lang, n=n, seed=seed)
    if "label_quiz" in probes:
        quizzed = list(label_sentences) if label_sentences else test
        out["label_quiz"] = label_quiz(quizzed, complete, lang=lang, n=n, seed=seed, tagging_accuracy=tagging_accuracy,
                                       split="train or validation" if label_sentences else "test")
    if "source" in probes:
        out["source"] = source_probe(test, complete, lang=lang, n=n, seed=seed)
    if "completion" in probes:
        out["completion"] = completion_probe(load_sentences(corpus / "train.spacy"), complete, lang=lang, n=n,
                                             seed=seed)
    return out


def annotator_eval_skill(recording: Path) -> Dict[str, Any]:
    """The sentences of an annotator-eval recording (``<model>/<lang>.json``) and the model's sentence-level
    tagging accuracy on them: the share of its runs whose tags equal gold exactly (a dropped run counts as
    wrong). Sentence level, because the label quiz asks for a whole tag sequence."""
    from ...annotator_eval.recorded import read_recording, run_tags

    records = read_recording(recording).records
    right = total = 0
    for record in records:
        for run in record.runs:
            total += 1
            right += run_tags(run) == list(record.gold)
    return {"sentences": [(list(r.tokens), list(r.gold)) for r in records],
            "tagging_accuracy": right / total if total else None, "recording": str(recording)}


def probe_languages(corpus_root: Path, langs: Sequence[str], complete: Complete, *, n: int = 100, seed: int = 0,
                    probes: Sequence[str] = PROBES, alpha: float = 0.05,
                    annotator_eval: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Every language's probes and the verdict over them (with Holm's correction across languages).

    ``annotator_eval``: per language, :func:`annotator_eval_skill` of the same model, for the label quiz.
    """
    skills = annotator_eval or {}
    results = {lang: probe_language(corpus_root / lang, lang, complete, n=n, seed=seed, probes=probes,
                                    tagging_accuracy=(skills.get(lang) or {}).get("tagging_accuracy"),
                                    label_sentences=(skills.get(lang) or {}).get("sentences"))
               for lang in langs}
    counted = [p for p in ("text_quiz", "label_quiz", "completion") if p in probes]
    return {"n": n, "seed": seed, "probes": list(probes), "results": results,
            "verdict": verdict(results, alpha=alpha, probes=counted) if counted else None}
