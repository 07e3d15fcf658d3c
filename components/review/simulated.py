"""The SIMULATED reviewer of the benchmarks: it answers every review task with the gold labels, at once.

It stands for a careful person, so it measures what review can buy, not what a real reviewer would do (people
miss entities too). Each answer carries the seconds a person would have spent on it (:mod:`.timing`: a range),
and says in its meta and ``_annotator_id`` that it is simulated.
"""
from typing import Any, Dict, List, Mapping, Sequence

from spacy.vocab import Vocab

from .tasks import answer_line, task_words
from .timing import review_seconds

ANNOTATOR_ID = "simulated-reviewer"
MARK = "SIMULATED reviewer (gold labels)"


def simulated_answers(tasks: Mapping[str, Dict[str, Any]], gold: Mapping[str, Sequence[str]],
                      vocab: Vocab) -> List[Dict[str, Any]]:
    """An accepted answer with the gold tags for every task; a KeyError names a sentence without gold labels."""
    out = []
    for sid, task in tasks.items():
        if sid not in gold:
            raise KeyError(f"the SIMULATED reviewer answers with gold labels, and sentence '{sid}' has none")
        extra = {"reviewer": MARK, "review_seconds": review_seconds(len(task_words(task)))}
        out.append(answer_line(task, gold[sid], vocab, extra, annotator_id=ANNOTATOR_ID))
    return out
