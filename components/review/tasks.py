"""Review tasks out, the reviewer's answers in: Prodigy JSONL both ways, every answer checked against its task.

A task is the LLM's answer as Prodigy's ``ner_manual`` input: ``text``, ``tokens``, the LLM's ``spans`` drawn,
and ``meta`` with the sentence id, the answer's provenance (model, request id, prompt hash) and why it was
chosen (``meta.review``). The answers file is what ``prodigy db-out`` writes: every line one task with its
``answer``. ``accept``: the spans as the reviewer left them are the sentence's labels from then on (gold, with
``source: human``); ``reject``: the sentence is unusable and leaves the labelled set; ``ignore``: the reviewer
skipped it and the LLM's answer stays under the label policy. A line without an ``answer``, an answer for a
sentence that is not among the tasks, a second answer for one sentence, edited tokens or text, an entity type the
run does not have, or a broken line is an error naming file and line; the file is never changed by the loop.

A person's time is read from Prodigy's ``_timestamp`` (Prodigy >= 1.11 stamps each answer when it is submitted in
the web app, in whole seconds): an answer took the gap since the same session's previous answer. The first answer
of a session, and one after a pause longer than :data:`MAX_GAP_S` (a break, not work), are not timed; the loop
estimates those from their words (:mod:`.timing`).
"""
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..data.docs import doc_tags, get_meta, make_doc, set_task
from ..data.prodigy import ANSWERS, doc_to_task, task_to_doc
from ..errors import TaskFormatError
from ..fileio import iter_jsonl
from .timing import RANGE

MAX_GAP_S = 600.0  # a longer pause between two answers of one session is a break


@dataclass
class ReviewAnswer:
    """The reviewer's answer on one sentence: ``accept`` with its ``tags``, ``reject`` or ``ignore``."""

    id: str
    answer: str
    tags: Optional[List[str]]
    llm_tags: List[str]
    line: int
    seconds: Optional[Dict[str, float]] = None  # a SIMULATED reviewer's estimate, or a person's timed seconds
    timed: bool = False  # seconds measured from Prodigy's _timestamp

    @property
    def changed(self) -> bool:
        """Whether the reviewer's labels differ from the LLM's (an accepted answer only)."""
        return self.answer == "accept" and self.tags != self.llm_tags

    def to_dict(self) -> Dict[str, Any]:
        """The record of ``round-<k>/reviewed.jsonl``."""
        return {"id": self.id, "answer": self.answer, "tags": self.tags, "llm_tags": self.llm_tags,
                "changed": self.changed, "seconds": self.seconds, "timed": self.timed}


def review_task(vocab: Vocab, words: Sequence[str], tags: Sequence[str], meta: Dict[str, Any]) -> Dict[str, Any]:
    """The Prodigy task for one LLM answer (``meta`` must hold ``sentence_id``)."""
    doc = make_doc(vocab, list(words), list(tags))
    set_task(doc, {"meta": meta})
    task = doc_to_task(doc)
    task.pop("answer", None)  # an input task has no answer yet
    return task


def task_words(task: Dict[str, Any]) -> List[str]:
    """A task's token texts."""
    return [t["text"] for t in task["tokens"]]


def task_tags(vocab: Vocab, task: Dict[str, Any]) -> List[str]:
    """The IOB2 tags of a task's spans."""
    return doc_tags(task_to_doc(vocab, task))


def read_answers(vocab: Vocab, path: Path, tasks: Dict[str, Dict[str, Any]],
                 labels: Optional[Sequence[str]] = None) -> Dict[str, ReviewAnswer]:
    """The answers in ``path`` to ``tasks`` (by sentence id), each checked (see the module docstring); ``labels``:
    the run's entity types, the only ones an accepted answer may use."""
    answers: Dict[str, ReviewAnswer] = {}
    stamps: List[Tuple[str, float, int, str]] = []  # session, _timestamp, line, sentence id
    for number, task in iter_jsonl(path):
        doc = task_to_doc(vocab, task, str(path), number)
        answer = _answer(doc, task, tasks, answers, path, number, labels)
        answers[answer.id] = answer
        stamp = task.get("_timestamp")
        if stamp is not None:
            if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or stamp < 0:
                raise TaskFormatError(f"_timestamp must be seconds since 1970 (Prodigy writes an integer), got "
                                      f"{stamp!r}", path, number)
            session = str(task.get("_session_id") or task.get("_annotator_id") or "")
            stamps.append((session, float(stamp), number, answer.id))
    for sid, seconds in timed_seconds(stamps).items():
        answers[sid].seconds = {key: seconds for key in RANGE}
        answers[sid].timed = True
    return answers


def timed_seconds(stamps: Sequence[Tuple[str, float, int, str]]) -> Dict[str, float]:
    """Seconds per answer from ``(session, _timestamp, line, sentence id)``: the gap since the session's previous
    answer (answers of the same second in file order), when it is at most :data:`MAX_GAP_S` (see the module
    docstring)."""
    by_session: Dict[str, List[Tuple[float, int, str]]] = defaultdict(list)
    for session, stamp, line, sid in stamps:
        by_session[session].append((stamp, line, sid))
    out: Dict[str, float] = {}
    for answered in by_session.values():
        answered.sort()
        for (before, _, _), (stamp, _, sid) in zip(answered, answered[1:]):
            if stamp - before <= MAX_GAP_S:
                out[sid] = stamp - before
    return out


def _answer(doc: Doc, raw: Dict[str, Any], tasks: Dict[str, Dict[str, Any]], seen: Dict[str, ReviewAnswer],
            path: Path, number: int, labels: Optional[Sequence[str]] = None) -> ReviewAnswer:
    def fail(message: str) -> TaskFormatError:
        return TaskFormatError(message, path, number)

    if "answer" not in raw:
        raise fail("the line has no 'answer' (accept, reject or ignore): is this a review task rather than the "
                   "reviewer's answer? Answers come from prodigy db-out")

    sid = get_meta(doc).get("sentence_id")
    if sid is None:
        raise fail("the answer has no meta.sentence_id (the review task's meta must come back with its answer, as "
                   "prodigy db-out writes it)")
    if sid not in tasks:
        raise fail(f"an answer for sentence '{sid}', which is not among the review tasks it answers "
                   f"({len(tasks)} tasks)")
    if sid in seen:
        raise fail(f"a second answer for sentence '{sid}' (the first is on line {seen[sid].line}); keep one of "
                   "them (one reviewer per sentence, or settle the disagreement first, e.g. with prodigy review)")
    expected = task_words(tasks[sid])
    words = [t.text for t in doc]
    if words != expected:
        where = next((i for i, (a, b) in enumerate(zip(words, expected)) if a != b), min(len(words), len(expected)))
        got = words[where] if where < len(words) else "<end>"
        want = expected[where] if where < len(expected) else "<end>"
        raise fail(f"sentence '{sid}': the tokens were edited (token {where} is {got!r}, the task's is {want!r}); "
                   "review with the task's tokens as they are (ner.manual keeps a task's own tokens)")
    if doc.text != tasks[sid]["text"]:
        raise fail(f"sentence '{sid}': the text differs from the task's; review it as it is")
    answer = raw["answer"]
    if answer not in ANSWERS:  # task_to_doc checked it already; kept for the type checker
        raise fail(f"unknown answer '{answer}'")
    unknown = sorted({e.label_ for e in doc.ents} - set(labels)) if labels is not None and answer == "accept" else []
    if unknown:
        raise fail(f"sentence '{sid}': entity type {', '.join(map(repr, unknown))} is not one of the run's labels "
                   f"({', '.join(labels or [])})")
    llm_tags = task_tags(doc.vocab, tasks[sid])
    return ReviewAnswer(sid, answer, doc_tags(doc) if answer == "accept" else None, llm_tags, number,
                        get_meta(doc).get("review_seconds"))


def read_tasks_file(path: Path) -> Dict[str, Dict[str, Any]]:
    """The review tasks of ``path`` by sentence id, in file order."""
    return {task["meta"]["sentence_id"]: task for _, task in iter_jsonl(path)}


def answer_line(task: Dict[str, Any], tags: Sequence[str], vocab: Vocab, extra: Optional[Dict[str, Any]] = None,
                annotator_id: str = "") -> Dict[str, Any]:
    """An accepted answer to ``task`` with ``tags``, in the shape ``prodigy db-out`` writes (for the SIMULATED
    reviewer and the tests)."""
    doc = make_doc(vocab, task_words(task), list(tags))
    set_task(doc, {"meta": {**task.get("meta", {}), **(extra or {})}})
    out = doc_to_task(doc)
    out.update({"answer": "accept", "_view_id": "ner_manual"})
    if annotator_id:
        out["_annotator_id"] = annotator_id
    return out
