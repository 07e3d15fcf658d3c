"""The oracle annotator: answers with the dataset's own gold labels.

It stands in the annotator slot so the loop, the strategies and the learner can
be measured without an LLM (and gives the upper bound an LLM annotator is
compared with). It reads the gold corpus the loop was given.
"""
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Union

import spacy
from spacy.util import registry

from ..data.corpus import check_labelled, load_docs, pool_file
from ..data.docs import doc_tags, sentence_id
from ..data.shards import DocsById, ShardedPool, is_sharded
from .base import Annotation, AnnotationContext, AnnotationRequest, BaseAnnotator


class GoldAnnotator(BaseAnnotator):
    """Looks each request's id up in a gold corpus (``.spacy``, ``.jsonl`` or CoNLL)."""

    name = "gold"
    gives_gold = True

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._gold: Dict[str, List[str]] = {}
        self._shards: Optional[DocsById] = None  # a sharded pool: read the requested sentences only

    def _lookup(self) -> Dict[str, List[str]]:
        if not self._gold and self._shards is None:
            if is_sharded(pool_file(self.path)):
                pool = ShardedPool(pool_file(self.path), spacy.blank("xx").vocab)
                check_labelled(pool[:1], self.path, "the gold annotator answers with gold labels")
                self._shards = DocsById(pool)
                return self._gold
            docs = load_docs(self.path)
            check_labelled(docs, self.path, "the gold annotator answers with gold labels")
            self._gold = {sentence_id(doc): doc_tags(doc) for doc in docs}
        return self._gold

    def prepare(self, context: Optional[AnnotationContext]) -> None:
        """Read the gold labels now, so a corpus without any fails before the first round, not in it."""
        self._lookup()

    def __call__(self, requests: Sequence[AnnotationRequest]) -> Iterator[Annotation]:
        gold = self._lookup()
        if self._shards is not None:  # the requested sentences' labels, each shard read once
            requests = list(requests)
            self._shards.pin(r.id for r in requests)
            gold = {r.id: doc_tags(self._shards[r.id]) for r in requests if r.id in self._shards}
        for request in requests:
            tags = gold.get(request.id)
            if tags is None:
                yield Annotation(request.id, None, "gold", error=f"no gold labels for '{request.id}' in {self.path}")
            elif len(tags) != len(request.words):
                yield Annotation(request.id, None, "gold",
                                 error=f"gold has {len(tags)} tags for {len(request.words)} tokens")
            else:
                yield Annotation(request.id, tags, "gold")


@registry.misc("spacy-llm-loop.GoldAnnotator.v1")
def make_gold_annotator(path: str) -> GoldAnnotator:
    """The oracle: the gold labels of the corpus at ``path`` (the loop passes its train split)."""
    return GoldAnnotator(path)
