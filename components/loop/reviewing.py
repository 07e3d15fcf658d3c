"""The review step of a round: the most doubtful LLM labels go to a person, and their answers come back as gold.

After a round's answers are judged, :func:`write_review_tasks` ranks them (:mod:`..review.rank`) and writes the
budget's share as Prodigy tasks to ``review/round-<k>.jsonl`` (once). The answers are read from
``review/round-<k>.answers.jsonl`` (``prodigy db-out``; the SIMULATED reviewer writes it itself). With ``wait``,
the round goes on only when every task is answered (:class:`..errors.ReviewPending` otherwise: the run stops, and
the same command resumes it); without, it trains on what is answered and a later round merges late answers.
What a round counts is frozen in ``round-<k>/reviewed.jsonl`` (every answer of rounds ``<= k``), so a resumed or
rebuilt round sees exactly what it trained on.
"""
import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..annotators.base import Annotation
from ..data.docs import doc_tags, get_meta
from ..errors import LoopError, ReviewPending
from ..fileio import read_jsonl, write_jsonl
from ..policy.rules import LabelPolicy
from ..review.rank import review_order
from ..review.settings import ReviewSettings
from ..review.simulated import simulated_answers
from ..review.tasks import ReviewAnswer, read_answers, read_tasks_file, review_task, task_words
from ..review.timing import RANGE, review_seconds

logger = logging.getLogger(__name__)
REVIEW_DIR = "review"
REVIEWED = "reviewed.jsonl"


def tasks_path(root: Path, k: int) -> Path:
    """Round ``k``'s review tasks."""
    return root / REVIEW_DIR / f"round-{k:02d}.jsonl"


def answers_path(root: Path, k: int) -> Path:
    """Where round ``k``'s answers are read from."""
    return root / REVIEW_DIR / f"round-{k:02d}.answers.jsonl"


def write_review_tasks(root: Path, k: int, review: ReviewSettings, answers: Sequence[Annotation],
                       by_id: Mapping[str, Doc], judgements: Mapping[str, Mapping[str, Any]],
                       distrusted: Sequence[str], seed: int, vocab: Vocab, policy: Optional[LabelPolicy] = None,
                       unreliable: Sequence[str] = ()) -> int:
    """Rank round ``k``'s LLM answers and write the budget's share as review tasks (once); the number of tasks.
    ``policy`` and ``unreliable`` (the audit's types) are what the ``residual`` ranking needs."""
    path = tasks_path(root, k)
    if path.exists():
        return len(read_jsonl(path))
    received = [a for a in answers if a.tags is not None]
    order, ranking = review_order([(a.id, a.tags or []) for a in received], judgements, distrusted, review.rank,
                                  seed * 1000 + k, policy, unreliable)
    n = review.n_to_review(len(order), [len(by_id[d.id]) for d in order])
    by_answer = {a.id: a for a in received}
    tasks = []
    for rank, item in enumerate(order[:n], start=1):
        answer = by_answer[item.id]
        meta = {**get_meta(by_id[item.id]), "source": answer.source, "round": k, **answer.meta,
                "review": {"round": k, "rank": rank, "ranking": ranking, **item.why()}}
        tasks.append(review_task(vocab, [t.text for t in by_id[item.id]], answer.tags or [], meta))
    write_jsonl(path, tasks)
    return len(tasks)


def simulate_answers(root: Path, k: int, by_id: Mapping[str, Doc], vocab: Vocab, pool_labelled: bool) -> None:
    """The SIMULATED reviewer answers round ``k``'s tasks with the gold labels (once)."""
    path = answers_path(root, k)
    if path.exists():
        return
    if not pool_labelled:
        raise LoopError("the SIMULATED reviewer answers with the gold labels, and this corpus's pool has none; "
                        "use review.reviewer 'prodigy' (a person)")
    tasks = read_tasks_file(tasks_path(root, k))
    write_jsonl(path, simulated_answers(tasks, {sid: doc_tags(by_id[sid]) for sid in tasks}, vocab))


def collect(root: Path, rd: Path, k: int, review: ReviewSettings, vocab: Vocab, labels: Sequence[str],
            previous: Optional[Path] = None) -> Dict[str, Any]:
    """Read every round's answers so far; with ``wait`` raise :class:`ReviewPending` while round ``k``'s are
    incomplete; else freeze them in ``rd/reviewed.jsonl`` and return the round's review summary (``previous``: the
    round before's folder, whose snapshot says which late answers are new)."""
    snapshot = rd / REVIEWED
    tasks, answers = read_all(root, k, vocab, labels)
    pending = [sid for sid in tasks.get(k, {}) if sid not in answers.get(k, {})]
    if pending and review.wait and not snapshot.exists():
        raise ReviewPending(pending_message(root, k, len(pending), len(tasks[k]), labels))
    if not snapshot.exists():
        write_jsonl(snapshot, ({**a.to_dict(), "round": j, "words": len(task_words(tasks[j][sid]))}
                               for j in sorted(answers) for sid, a in answers[j].items()))
    counted_before = set(reviewed(previous)) if previous is not None else set()
    ranking = next((t["meta"]["review"]["ranking"] for t in tasks.get(k, {}).values()), review.rank)
    return summary(read_jsonl(snapshot), k, len(tasks.get(k, {})), review, counted_before, ranking)


def read_all(root: Path, k: int, vocab: Vocab, labels: Sequence[str]) -> Tuple[Dict[int, Dict[str, Any]],
                                                                              Dict[int, Dict[str, ReviewAnswer]]]:
    """The review tasks and the answers so far of rounds ``<= k``, by round and sentence id (answers checked)."""
    rounds = sorted(j for j in (int(p.name[len("round-"):-len(".jsonl")])
                                for p in (root / REVIEW_DIR).glob("round-??.jsonl")) if j <= k)
    tasks = {j: read_tasks_file(tasks_path(root, j)) for j in rounds}
    answers = {j: read_answers(vocab, answers_path(root, j), tasks[j], labels) if answers_path(root, j).exists()
               else {} for j in rounds}
    return tasks, answers


def unmerged(root: Path, rd: Path, k: int, vocab: Vocab, labels: Sequence[str]) -> int:
    """Answers on disk that no round counted (late answers after the last round that ran)."""
    if not (rd / REVIEWED).exists():
        return 0
    _, answers = read_all(root, k, vocab, labels)
    counted = reviewed(rd)
    return sum(sid not in counted for by_id in answers.values() for sid in by_id)


def reviewed(rd: Path) -> Dict[str, Dict[str, Any]]:
    """The answers round ``rd`` counts (``reviewed.jsonl`` records), by sentence id; empty without review."""
    path = rd / REVIEWED
    return {r["id"]: r for r in read_jsonl(path)} if path.exists() else {}


def summary(records: List[Dict[str, Any]], k: int, n_tasks: int, review: ReviewSettings,
            counted_before: Set[str], ranking: str) -> Dict[str, Any]:
    """The round record's ``review``: round ``k``'s tasks and answers, the late answers of earlier rounds it is the
    first to count (``counted_before``: the ids the round before counted), what the reviewer changed among those
    it counts, and the person's time for them."""
    own = [r for r in records if r["round"] == k]
    late = [r for r in records if r["round"] < k and r["id"] not in counted_before]
    counted = own + late
    seconds = {key: 0.0 for key in RANGE}
    for r in counted:
        # timed from Prodigy's _timestamp, a SIMULATED reviewer's estimate, or estimated here from the words
        spent = r.get("seconds") or review_seconds(r["words"])
        for key in RANGE:
            seconds[key] += spent[key]
    return {"reviewer": review.reviewer, "simulated": review.simulated, "ranking": ranking,
            "budget": review.budget, "wait": review.wait, "tasks": n_tasks, "answered": len(own),
            "late_from_earlier_rounds": len(late),
            "accepted": sum(r["answer"] == "accept" for r in counted),
            "rejected": sum(r["answer"] == "reject" for r in counted),
            "ignored": sum(r["answer"] == "ignore" for r in counted),
            "changed": sum(bool(r["changed"]) for r in counted),
            "person_hours": {key: seconds[key] / 3600 for key in RANGE},
            "answers_timed": sum(bool(r.get("timed")) for r in counted),
            "hours_estimated": not counted or not all(r.get("timed") for r in counted)}


def pending_message(root: Path, k: int, n_pending: int, n_tasks: int, labels: Sequence[str]) -> str:
    """What to do while round ``k``'s review is incomplete."""
    dataset = f"review_{root.name}_r{k:02d}".replace("-", "_")
    return (f"round {k}: {n_pending} of {n_tasks} review tasks are not answered yet. Review them with the LLM's "
            f"entities drawn: prodigy ner.manual {dataset} blank:xx {tasks_path(root, k)} --label {','.join(labels)}"
            f"; then prodigy db-out {dataset} > {answers_path(root, k)}; then run the same command again"
            " (it resumes here). To train on what is answered and merge the rest later, set "
            "review.wait false (--review-no-wait).")


def reviewed_meta(record: Dict[str, Any]) -> Dict[str, Any]:
    """The meta an accepted review answer gives its sentence in the labelled set: gold from then on."""
    return {"source": "human", "reviewed": {"round": record["round"], "changed": record["changed"],
                                            "llm_tags": record["llm_tags"]}}
