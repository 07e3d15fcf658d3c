"""Quizzes B (text) and C (labels): does the model pick the original among three perturbations?

Design (pre-stated): each sampled sentence is asked once, as four options A-D (the original and its
three distractors, see :mod:`.perturb`) plus ``E) None of the provided options``. The original's
position is balanced over the sample: a seeded shuffle of A, B, C, D, A, B ... so each letter holds
it for n/4 sentences (±1). A model that answers from position alone (any fixed preference over A-E)
then picks the original at a rate of at most 1/4, whatever its preference, so :data:`CHANCE` = 0.25
is the null rate of the exact one-sided binomial test. One question per distinct sentence keeps the
trials independent, so the binomial test and the Clopper-Pearson interval are exact; asking every
sentence in all four positions would make its four answers one cluster. An answer that names no
letter counts as not picking the original (conservative; counted as ``unparsed``); a request that got
no answer is left out (counted as ``failed``). The memorised share is ``(rate - chance) / (1 - chance)``
(:func:`~.stats.share_from_rate`).

Caveat: a model that knows the language can spot a reordered or duplicated word by fluency alone,
and a good tagger can spot wrong tags; the label quiz therefore reports the rate that tagging skill
would explain when the caller passes a tagging accuracy.
"""
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...data.iob import MASAKHANER_LABELS
from . import prompts
from .perturb import tag_distractors, text_distractors
from .sample import DATASET, Sentence, language_name, valid_sentence
from .stats import LEVEL, binomial_greater, proportion, share_from_rate

CHANCE = 0.25
Complete = Callable[[List[str]], List[str]]
_LEAD = r"^[\s*\"'(\[]*(?:(?i:the\s+)?(?i:correct\s+)?(?i:answer|option)(?i:\s+is)?\s*[:\-]?[\s*\"'(\[]*)?"
_FIRST_LETTER = re.compile(_LEAD + r"([A-E])(?![A-Za-z])")
_ANY_LETTER = re.compile(r"(?<![A-Za-z])([A-E])\)|(?i:option|answer)\s*:?\s*\(?([A-E])(?![A-Za-z])")


@dataclass(frozen=True)
class QuizItem:
    """One question: the sentence's index, the original's position (0-3), the options' kinds, the prompt."""

    index: int
    position: int
    kinds: Tuple[str, ...]
    prompt: str


def parse_letter(answer: str) -> Optional[str]:
    """The option letter an answer gives: a leading ``B``, ``(B)``, ``Answer: B``, ``B) ...``, else the one
    letter written as ``B)`` or ``option B`` anywhere; None when there is none or several."""
    match = _FIRST_LETTER.match(answer)
    if match:
        return match.group(1)
    found = {a or b for a, b in _ANY_LETTER.findall(answer)}
    return found.pop() if len(found) == 1 else None


def balanced_positions(n: int, rng: np.random.Generator) -> List[int]:
    """``n`` positions of the original, each of 0-3 used n/4 times (±1), in seeded random order."""
    return [int(p) for p in rng.permutation(np.resize(np.arange(len(prompts.LETTERS)), n))]


def build_items(sentences: Sequence[Sentence], n: int, rng: np.random.Generator,
                make: Callable[[Sentence, np.random.Generator], Optional[Tuple[str, List[Tuple[str, str]]]]],
                prompt: Callable[[Sentence, List[str]], str]) -> List[QuizItem]:
    """Up to ``n`` questions: sentences in seeded order, skipping those ``make`` cannot give three distractors.

    ``make`` returns the original option text and ``[(kind, distractor text)]``; ``prompt`` the full prompt.
    """
    drafts = []
    for index in rng.permutation(len(sentences)):
        sentence = sentences[int(index)]
        made = make(sentence, rng) if valid_sentence(sentence) else None
        if made is not None:
            drafts.append((int(index), made))
        if len(drafts) == n:
            break
    if not drafts:
        raise ValueError(f"none of the {len(sentences)} sentences can be made into a quiz question")
    items = []
    for (index, (original, distractors)), position in zip(drafts, balanced_positions(len(drafts), rng)):
        ordered = [distractors[int(i)] for i in rng.permutation(len(distractors))]
        ordered.insert(position, ("original", original))
        items.append(QuizItem(index, position, tuple(k for k, _ in ordered),
                              prompt(sentences[index], [text for _, text in ordered])))
    return items


def score_quiz(items: Sequence[QuizItem], answers: Sequence[str], *, chance: float = CHANCE,
               level: float = LEVEL) -> Dict[str, Any]:
    """Rate of picking the original, its interval, the binomial test against ``chance`` and the memorised share."""
    rows, picked, failed, unparsed = [], 0, 0, 0
    positions = {letter: {"trials": 0, "original_picked": 0} for letter in prompts.LETTERS}
    letters: Dict[str, int] = {}
    for item, answer in zip(items, answers):
        if getattr(answer, "error", None):
            failed += 1
            continue
        letter = parse_letter(str(answer))
        correct = letter == prompts.LETTERS[item.position]
        unparsed += letter is None
        picked += correct
        letters[letter or "unparsed"] = letters.get(letter or "unparsed", 0) + 1
        slot = positions[prompts.LETTERS[item.position]]
        slot["trials"] += 1
        slot["original_picked"] += correct
        rows.append({"index": item.index, "original": prompts.LETTERS[item.position], "answer": letter,
                     "correct": correct, "kinds": list(item.kinds), "raw": str(answer)[:200]})
    rate = proportion(picked, len(rows), level)
    return {"n": len(rows), "failed": failed, "unparsed": unparsed, "chance": chance,
            "statistic": dict(rate, name="original_rate"), "test": binomial_greater(picked, len(rows), chance),
            "memorised_share": share_from_rate(rate, chance), "positions": positions, "answers": letters,
            "items": rows}


def text_quiz(sentences: Sequence[Sentence], complete: Complete, *, lang: str, n: int = 100, seed: int = 0,
              split: str = "test", dataset: str = DATASET, window: int = 4, chance: float = CHANCE,
              level: float = LEVEL) -> Dict[str, Any]:
    """Quiz B: the original sentence among three word-level perturbations (see the module docstring)."""
    def make(sentence: Sentence, rng: np.random.Generator) -> Optional[Tuple[str, List[Tuple[str, str]]]]:
        found = text_distractors(sentence[0], rng, window)
        return None if found is None else (prompts.sentence_text(sentence[0]),
                                           [(kind, prompts.sentence_text(t)) for kind, t in found])

    def prompt(sentence: Sentence, options: List[str]) -> str:
        return prompts.TEXT_QUIZ.format(split=split, dataset=dataset, language=language_name(lang),
                                        options=prompts.options_block(options))

    items = build_items(sentences, n, np.random.default_rng(seed), make, prompt)
    result = score_quiz(items, complete([item.prompt for item in items]), chance=chance, level=level)
    return {"probe": "text_quiz", "prompt_version": prompts.VERSIONS["text_quiz"], "lang": lang, "seed": seed,
            "split": split, "dataset": dataset, "n_requested": n, **result}


def label_quiz(sentences: Sequence[Sentence], complete: Complete, *, lang: str, n: int = 100, seed: int = 0,
               split: str = "test", dataset: str = DATASET, labels: Sequence[str] = MASAKHANER_LABELS,
               tagging_accuracy: Optional[float] = None, chance: float = CHANCE,
               level: float = LEVEL) -> Dict[str, Any]:
    """Quiz C: the gold tags among three tag perturbations, for sentences with at least one entity.

    tagging_accuracy: the model's tagging accuracy on these data (best: the share of sentences it tags
        entirely right), reported beside the quiz rate with the rate that skill alone would explain.
    """
    def make(sentence: Sentence, rng: np.random.Generator) -> Optional[Tuple[str, List[Tuple[str, str]]]]:
        found = tag_distractors(sentence[1], rng, labels)
        return None if found is None else (prompts.render_entities(*sentence),
                                           [(kind, prompts.render_entities(sentence[0], t)) for kind, t in found])

    def prompt(sentence: Sentence, options: List[str]) -> str:
        return prompts.LABEL_QUIZ.format(split=split, dataset=dataset, language=language_name(lang),
                                         labels=", ".join(labels), sentence=prompts.sentence_text(sentence[0]),
                                         options=prompts.options_block(options))

    items = build_items(sentences, n, np.random.default_rng(seed), make, prompt)
    result = score_quiz(items, complete([item.prompt for item in items]), chance=chance, level=level)
    return {"probe": "label_quiz", "prompt_version": prompts.VERSIONS["label_quiz"], "lang": lang, "seed": seed,
            "split": split, "dataset": dataset, "n_requested": n, **result,
            "skill": skill_comparison(result["statistic"], tagging_accuracy, chance)}


def skill_comparison(rate: Dict[str, Any], accuracy: Optional[float], chance: float = CHANCE) -> Dict[str, Any]:
    """The quiz rate beside the caller's tagging accuracy ``a``: skill alone explains ``a + (1 - a) * chance``.

    A model that tags a sentence fully right can pick the gold option without having seen it; so only a
    rate beyond that (one-sided exact binomial test against it) points to memorised annotations.
    """
    note = ("Memorised annotations would show as a quiz rate beyond what tagging skill explains: with "
            "sentence-level tagging accuracy a, skill alone gives a + (1 - a) * chance. Entity-level F1 "
            "overstates sentence-level accuracy, so passing it makes this comparison conservative.")
    if accuracy is None:
        return {"tagging_accuracy": None, "note": note}
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"tagging_accuracy must be a share in [0, 1], got {accuracy}")
    explained = accuracy + (1.0 - accuracy) * chance
    test = (binomial_greater(rate["successes"], rate["trials"], explained) if explained < 1.0
            else {"p_value": 1.0, "null": "rate <= 1"})
    return {"tagging_accuracy": accuracy, "skill_explained_rate": explained, "quiz_rate": rate["value"],
            "excess": None if rate["value"] is None else rate["value"] - explained, "test": test, "note": note}
