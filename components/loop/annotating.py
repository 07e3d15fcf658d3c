"""A round's annotation step: ask the annotator for the selected sentences, write each answer as it arrives.

Answers are appended to ``round-<k>/annotations.jsonl`` (fsynced) in the units the
annotator yields from ``batches`` (the answers to one prompt together), so a killed
round keeps everything received, and a resumed one asks only for the rest. Requests
are made as the annotator reads them, so the step holds no second copy of the
round's token lists.
"""
import logging
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Union, overload

from spacy.tokens import Doc

from ..annotators.base import AnnotationRequest, Annotator, drop_reason, validate_annotation
from ..data.docs import doc_tags, get_meta
from ..data.iob import iob_tagset
from ..errors import LoopError
from ..evaluation.metrics import tag_agreement
from ..fileio import JsonlLog

logger = logging.getLogger(__name__)
SPEND_EVERY_S = 2.0  # the bar's spend is redrawn at most this often, not once per answer


def annotate(annotator: Annotator, log: JsonlLog, wanted: Sequence[str], by_id: Mapping[str, Doc], *,
             progress: bool = False, round_k: Optional[int] = None,
             tagset: Sequence[str] = iob_tagset(), done: Optional[Set[str]] = None) -> List[str]:
    """Ask ``annotator`` for every id in ``wanted`` not yet in ``log``; return the ids left unanswered.

    An answer for an id not asked (or already answered) is ignored with a warning; an answer that is not
    one valid IOB2 tag per token of ``tagset`` (the run's labels) is kept as dropped, with the reason.
    ``progress``: a bar on stderr with the sentences answered, those dropped, and the round's spend so far
    against the budget (when the annotator reports usage). ``done``: the ids ``log`` holds, when the caller has
    just read them (the log is not read again).
    """
    from tqdm import tqdm

    if done is None:
        done = {record["id"] for record in log}
    requests = _Requests([sid for sid in wanted if sid not in done], by_id)
    unknown = [sid for sid in requests.ids if sid not in by_id]
    if unknown:
        raise LoopError(f"{len(unknown)} sentences to annotate are not in the corpus (e.g. {unknown[:3]})")
    pending = dict.fromkeys(requests.ids)
    if not requests:
        return []
    bar = tqdm(total=len(requests), desc=f"round {round_k} annotating" if round_k else "annotating", unit="sent",
               disable=not progress, leave=False)
    dropped, shown = 0, -SPEND_EVERY_S
    for group in annotator.batches(requests):
        records = []
        for annotation in group:
            if annotation.id not in pending:
                logger.warning("annotator answered '%s', which was not asked or was answered already", annotation.id)
                continue
            del pending[annotation.id]
            records.append(validate_annotation(annotation, requests.n_words(annotation.id), tagset).to_dict())
        log.extend(records)
        if progress:
            dropped += sum(r["tags"] is None for r in records)
            bar.update(len(records))
            if time.monotonic() - shown >= SPEND_EVERY_S:
                bar.set_postfix_str(_spend(annotator, dropped), refresh=False)
                shown = time.monotonic()
    bar.close()
    return sorted(pending)


class _Requests(Sequence[AnnotationRequest]):
    """The requests for ``ids``, each made from ``by_id`` when it is read; the lengths of those read are kept, to
    check the answers against without building the Docs again."""

    def __init__(self, ids: List[str], by_id: Mapping[str, Doc]) -> None:
        self.ids, self._by_id = ids, by_id
        self._lengths: Dict[str, int] = {}

    def n_words(self, sid: str) -> int:
        """Sentence ``sid``'s number of tokens."""
        n = self._lengths.pop(sid, None)
        return len(self._by_id[sid]) if n is None else n

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> AnnotationRequest: ...

    @overload
    def __getitem__(self, i: slice) -> List[AnnotationRequest]: ...

    def __getitem__(self, i: Union[int, slice]) -> Union[AnnotationRequest, List[AnnotationRequest]]:
        if isinstance(i, slice):
            return [self._request(sid) for sid in self.ids[i]]
        return self._request(self.ids[i])

    def _request(self, sid: str) -> AnnotationRequest:
        words = [t.text for t in self._by_id[sid]]
        self._lengths[sid] = len(words)
        return AnnotationRequest(sid, words)


def _spend(annotator: Annotator, dropped: int) -> str:
    """``dropped 2, $0.41 of $5.00`` for the progress bar: the run's spend so far against its budget."""
    usage = annotator.usage() or {}
    text = f"dropped {dropped}"
    if usage.get("cost_usd") is not None:
        budget = getattr(getattr(annotator, "model", None), "budget", None)
        limit = getattr(budget, "max_usd", None)
        text += f", ${usage['cost_usd']:.2f}" + (f" of ${limit:.2f}" if limit else "")
    return text


def check_unanswered(annotator: Annotator, unanswered: List[str]) -> None:
    """Raise if the annotator left requests unanswered without having run out of budget."""
    if unanswered and not annotator.budget_exhausted:
        raise LoopError(f"annotator '{annotator.name}' returned without answering {len(unanswered)} "
                        f"requests (e.g. {unanswered[:3]}); run the loop again to ask for those only")


def annotation_summary(wanted: Sequence[str], records: Iterable[Dict[str, Any]],
                       by_id: Mapping[str, Doc]) -> Dict[str, Any]:
    """Counts (requested, received, dropped and why, repaired) and the labels' quality against gold (None for
    sentences of an unlabelled pool, which has no gold). ``records`` is read once (a :class:`JsonlLog` streams)."""
    errors: Dict[str, int] = {}
    problems: Dict[str, int] = {}
    ids: Set[str] = set()
    n_received = n_dropped = n_repaired = 0
    gold: List[List[str]] = []
    answers: List[List[str]] = []
    for r in records:
        ids.add(r["id"])
        for name, count in ((r.get("meta") or {}).get("problems") or {}).items():
            problems[name] = problems.get(name, 0) + count
        if r["tags"] is None:
            reason = drop_reason(r.get("error"))
            errors[reason] = errors.get(reason, 0) + 1
            n_dropped += 1
            continue
        n_received += 1
        n_repaired += bool((r.get("meta") or {}).get("repairs"))
        if get_meta(by_id[r["id"]]).get("labelled", True):  # judged against gold
            gold.append(doc_tags(by_id[r["id"]]))
            answers.append(r["tags"])
    quality = tag_agreement(gold, answers) if gold else {"token_accuracy": None, "ents_f": None}
    return {"n_requested": len(wanted), "n_received": n_received, "n_dropped": n_dropped,
            "n_unanswered": len(set(wanted) - ids), "n_repaired": n_repaired,
            "drop_reasons": errors, "problems": problems, "token_accuracy": quality["token_accuracy"],
            "ents_f": quality["ents_f"]}
