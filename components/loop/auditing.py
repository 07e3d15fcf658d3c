"""The audit step: before round 1 the annotator labels (a sample of) the gold seed and is scored per type.

Its answers go to ``audit/annotations.jsonl`` as they arrive (a killed audit asks only for the rest, and the
prompt cache and ledger count them like every request: round 0 in the ledger), its scores to ``audit.json``
(:func:`..policy.audit.audit_labels`). Sentences the annotator shows as k-shot examples are left out: an
annotator is not graded on answers it was given. An oracle (``gives_gold``) and a run without a gold seed have
no audit; for the latter, a small sample labelled by a person can serve as the audit's gold.
"""
import logging
import random
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly
from spacy.tokens import Doc

from ..annotators.base import Annotator
from ..data.docs import doc_tags, sentence_id
from ..fileio import JsonlLog, write_json
from ..policy.audit import audit_labels
from .annotating import annotate, check_unanswered

logger = logging.getLogger(__name__)
AUDIT_FILE = "audit.json"


def audit_sample(seed: List[Doc], annotator: Annotator, size: int, seed_value: int) -> List[Doc]:
    """The seed sentences to audit: all (``size`` 0) or ``size`` drawn with ``seed_value``, never the
    annotator's own examples."""
    shown = {tuple(words) for words in annotator.example_sentences()}
    docs = [doc for doc in seed if tuple(t.text for t in doc) not in shown]
    if size and size < len(docs):
        docs = random.Random(seed_value).sample(docs, size)
    return docs


def run_audit(root: Path, annotator: Annotator, seed: List[Doc], size: int, seed_value: int,
              labels: List[str], tagset: List[str], progress: bool = False) -> Optional[Dict[str, Any]]:
    """Audit ``annotator`` on the gold ``seed`` once (``audit.json`` is its result; None when nothing could be
    audited). Answers already on disk are not asked again; a budget spent part way audits what was answered."""
    path = root / AUDIT_FILE
    if path.exists():
        return srsly.read_json(path)
    docs = audit_sample(seed, annotator, size, seed_value)
    if not docs:
        return None
    by_id = {sentence_id(doc): doc for doc in docs}
    log = JsonlLog(root / "audit" / "annotations.jsonl")
    annotator.begin_round(0)
    logger.info("audit: %d gold seed sentences go to '%s' (%d already answered)", len(docs), annotator.name,
                sum(1 for _ in log))
    unanswered = annotate(annotator, log, list(by_id), by_id, progress=progress, round_k=0, tagset=tagset)
    check_unanswered(annotator, unanswered)
    answers = {r["id"]: r["tags"] for r in log if r["id"] in by_id}
    if not answers:
        return None
    ids = [sid for sid in by_id if sid in answers]
    result = audit_labels([doc_tags(by_id[sid]) for sid in ids], [answers[sid] for sid in ids], labels)
    result.update({"annotator": annotator.name, "requested": len(docs), "unanswered": len(unanswered),
                   "usage": annotator.usage(0) or None})
    write_json(path, result)
    return result
