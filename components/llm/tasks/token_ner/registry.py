"""``spacy-llm-loop.TokenNER.v1`` and ``.v2``: the registered factories of :class:`~.task.TokenNERTask`.

v1 is the paper's prompt with a one-paragraph guideline note; its text is frozen (prompt caches key on it).
v2 is the same task with MasakhaNER's annotation rules in full (``templates/masakhaner_guideline.v1.txt``, or a
guideline file of one's own) in place of the note.
"""
from pathlib import Path
from typing import Dict, List, Literal, Optional

from spacy_llm.registry import registry

from ....data.corpus import LANGUAGES
from ....data.iob import MASAKHANER_LABELS
from ....package_data import read_text
from . import similar as _similar  # noqa: F401  (registers spacy-llm-loop.SimilarExamples.v1 with the task)
from .task import ExamplesSource, TokenNERTask

TEMPLATE = "llm/tasks/templates/token_ner.v1.jinja"  # package data
GUIDELINE_FILE = "llm/tasks/templates/masakhaner_guideline.v1.txt"  # package data; '#' lines are comments

# The paper's tag definitions (MasakhaNER's four types in IOB2).
TAG_DEFINITIONS: Dict[str, str] = {
    "O": "the token is not part of a named entity",
    "B-PER": "the first token of a person's name",
    "I-PER": "a following token of the same person's name",
    "B-ORG": "the first token of an organisation's name",
    "I-ORG": "a following token of the same organisation's name",
    "B-LOC": "the first token of a location's name",
    "I-LOC": "a following token of the same location's name",
    "B-DATE": "the first token of a date or period expression",
    "I-DATE": "a following token of the same date or period expression",
}
# The MasakhaNER annotation-guideline note given to the annotator.
GUIDELINE = (
    "Follow the MasakhaNER annotation guidelines: tag proper names of persons, organisations and locations; "
    "DATE covers absolute and relative dates and periods (days, months, years, 'last week', 'in 2019'). "
    "A token that carries a name with a prefix or suffix attached (for example a locative or possessive "
    "prefix) is tagged as part of the name; titles such as Mr or Dr are not part of a person's name."
)


@registry.llm_tasks("spacy-llm-loop.TokenNER.v1")
def make_token_ner_task(
    lang: str,
    labels: List[str] = list(MASAKHANER_LABELS),
    language: Optional[str] = None,
    template: Optional[str] = None,
    examples: Optional[ExamplesSource] = None,
    sentences_per_request: int = 2,
    on_error: Literal["drop", "repair"] = "drop",
    min_aligned: float = 0.8,
    tag_definitions: Optional[Dict[str, str]] = None,
    guideline: Optional[str] = None,
) -> TokenNERTask:
    """The paper's token-level NER prompt for ``lang`` (a MasakhaNER code; ``language`` overrides its name).

    template: path of a Jinja template (default: ``templates/token_ner.v1.jinja``).
    examples: k-shot examples (e.g. ``spacy-llm-loop.TokenNERExamples.v1``); never the test split.
    sentences_per_request: sentences in one request (the paper: 2).
    on_error: ``drop`` a sentence with any problem (the paper) or ``repair`` it and record the repairs.
    min_aligned: under ``repair``, the share of input tokens a response of the wrong length must align.
    """
    name = language or LANGUAGES.get(lang)
    if not name:
        raise ValueError(f"Unknown language '{lang}': set `language` to the language's name")
    text = Path(template).read_text(encoding="utf-8") if template else read_text(TEMPLATE)
    return TokenNERTask(labels=labels, language=name, template=text,
                        tag_definitions={**TAG_DEFINITIONS, **(tag_definitions or {})},
                        guideline=GUIDELINE if guideline is None else guideline, examples=examples,
                        sentences_per_request=sentences_per_request, on_error=on_error, min_aligned=min_aligned)


@registry.llm_tasks("spacy-llm-loop.TokenNER.v2")
def make_token_ner_task_v2(
    lang: str,
    labels: List[str] = list(MASAKHANER_LABELS),
    language: Optional[str] = None,
    template: Optional[str] = None,
    examples: Optional[ExamplesSource] = None,
    sentences_per_request: int = 2,
    on_error: Literal["drop", "repair"] = "drop",
    min_aligned: float = 0.8,
    tag_definitions: Optional[Dict[str, str]] = None,
    guideline: Optional[str] = None,
    guideline_path: Optional[str] = None,
) -> TokenNERTask:
    """:func:`make_token_ner_task` with MasakhaNER's annotation rules as the guideline.

    guideline_path: a text file of one's own ('#' lines left out); default: the packaged MasakhaNER guideline.
    guideline: the guideline as a string; wins over ``guideline_path`` (the loop sets it for a label set of the
        user's own, which MasakhaNER's rules do not describe).
    examples: as v1's, or a source that selects per request (``spacy-llm-loop.SimilarExamples.v1``).
    """
    if guideline is None:
        text = Path(guideline_path).read_text(encoding="utf-8") if guideline_path else read_text(GUIDELINE_FILE)
        guideline = guideline_text(text)
    return make_token_ner_task(lang, labels=labels, language=language, template=template, examples=examples,
                               sentences_per_request=sentences_per_request, on_error=on_error,
                               min_aligned=min_aligned, tag_definitions=tag_definitions, guideline=guideline)


def guideline_text(text: str) -> str:
    """A guideline file's text without its comment lines (``#`` first: the source is cited there, not in the
    prompt) and without the whitespace around it."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()
