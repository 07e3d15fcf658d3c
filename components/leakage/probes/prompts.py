"""The probes' prompts (versioned: a changed wording is a new version, as cached answers depend on it).

Quizzes follow the Data Contamination Quiz (arXiv 2311.06233): four options A-D and
``E) None of the provided options.``; one letter is asked for. Completion prompts follow the guided
and general instructions of arXiv 2308.08493; both name the language, only the guided one names
the dataset and split. Source identification asks as arXiv 2404.02261 did, with the sample shown
one ``token TAG`` per line as the dataset's CoNLL files have it.
"""
from typing import Sequence

from ...data.iob import iob_to_spans

VERSIONS = {"text_quiz": "text-quiz.v1", "label_quiz": "label-quiz.v1", "source": "source.v1",
            "completion": "completion.v1"}
LETTERS = "ABCD"
NONE_LETTER = "E"
NONE_OPTION = "None of the provided options."
QUIZ_RULES = ("When selecting the option, you must follow these rules:\n"
              "(1) Answer with a single option letter only.\n"
              "(2) If you do not know the dataset or the correct answer, select option "
              f"\"{NONE_LETTER}) {NONE_OPTION}\"")
TEXT_QUIZ = ("Instruction: You are provided with a five-choice quiz. Your task is to select the option that "
             "exactly corresponds to a sentence from the {split} split of the {dataset} dataset ({language}).\n"
             + QUIZ_RULES + "\n\n{options}\n\nAnswer:")
LABEL_QUIZ = ("Instruction: You are provided with a five-choice quiz about the named-entity annotation of a "
              "sentence from the {split} split of the {dataset} dataset ({language}). Entities are written "
              "[words](LABEL) with the labels {labels}. Your task is to select the option whose annotation "
              "exactly corresponds to the dataset's gold annotation of the sentence.\n"
              + QUIZ_RULES + "\n\nSentence: {sentence}\n\n{options}\n\nAnswer:")
SOURCE = ("Identify the source named entity recognition (NER) dataset of the following sample, one token and "
          "its IOB2 tag per line. Answer with the dataset's name and version, or \"unknown\".\n\n"
          "Sample:\n{sample}\n\nSource dataset:")
GUIDED = ("Instruction: You are provided with the first piece of a sentence from the {split} split of the "
          "{dataset} dataset ({language}). Finish the second piece of the sentence as exactly appeared in the "
          "dataset. Only rely on the original form of the sentence in the dataset to finish the second piece.\n\n"
          "First piece: {first}\n\nSecond piece:")
GENERAL = ("Instruction: Finish the second piece based on the first piece, such that these two pieces "
           "become a single sentence in {language}.\n\nFirst piece: {first}\n\nSecond piece:")
# What tells the prompts apart (the simulated endpoint reads them too).
MARK_LABEL_QUIZ = "quiz about the named-entity annotation"
MARK_TEXT_QUIZ = "five-choice quiz"
MARK_SOURCE = "Identify the source named entity recognition"
MARK_GUIDED = "as exactly appeared in the dataset"
MARK_FIRST = "First piece: "


def sentence_text(tokens: Sequence[str]) -> str:
    """A sentence as the dataset writes it: tokens joined by single spaces."""
    return " ".join(tokens)


def render_entities(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The sentence with each entity written ``[words](LABEL)``, e.g. ``[Gaborone](LOC) ke motse``."""
    words = list(tokens)
    for start, end, label in reversed(iob_to_spans(tags)):
        words[start:end] = [f"[{' '.join(words[start:end])}]({label})"]
    return " ".join(words)


def options_block(options: Sequence[str]) -> str:
    """``A) ...`` to ``D) ...`` and the ``E) None ...`` line."""
    lines = [f"{letter}) {text}" for letter, text in zip(LETTERS, options)]
    return "\n".join(lines + [f"{NONE_LETTER}) {NONE_OPTION}"])


def conll_sample(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """One ``token TAG`` line per token."""
    return "\n".join(f"{token} {tag}" for token, tag in zip(tokens, tags))
