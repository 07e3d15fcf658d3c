"""A run's sentences: the gold seed, what each round asked for and received, the pool, the learner's dev.

Everything here is read back from the run folder (``seed.json``, each round's
``selection.json`` and ``annotations.jsonl``), so a resumed run sees exactly what the
interrupted one had.
"""
from typing import Dict, List, Set

import srsly
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..annotators.base import Annotation
from ..data.docs import get_meta, make_doc, sentence_id, set_task
from ..fileio import JsonlLog
from .devsplit import split_dev
from .seeding import SeedSampler
from .settings import LoopSettings
from .state import RunFolder

LEARNER_SPLIT = "learner_split"  # meta key: "train" or "dev" (the learner's own dev data)


class RunSentences:
    """The labelled set, the pool and the learner's dev split of one run, round by round."""

    def __init__(self, run: RunFolder, settings: LoopSettings, sampler: SeedSampler, train_docs: List[Doc],
                 vocab: Vocab) -> None:
        self.run, self.settings, self.sampler = run, settings, sampler
        self.train_docs = train_docs
        self.by_id: Dict[str, Doc] = {sentence_id(doc): doc for doc in train_docs}
        self.vocab = vocab

    def seed_ids(self) -> List[str]:
        """The seed set's sentence ids, drawn once and saved."""
        ids = self.run.read_ids("seed")
        if ids is None:
            ids = [sentence_id(self.train_docs[i]) for i in self.sampler(self.train_docs, self.settings.seed)]
            self.run.write_ids("seed", ids)
        return ids

    def requested_ids(self, before: int) -> List[str]:
        """Ids selected (and so requested) in rounds ``1 .. before-1``."""
        ids: List[str] = []
        for j in range(1, before):
            path = self.run.round_dir(j) / "selection.json"
            ids.extend(item["id"] for item in srsly.read_json(path)["selected"])
        return ids

    def taken(self, k: int) -> Set[str]:
        """Ids no longer in the pool of round ``k``: the seed and everything requested before."""
        return set(self.seed_ids()) | set(self.requested_ids(k))

    def pool(self, k: int) -> List[Doc]:
        """The unlabelled pool of round ``k``, in corpus order."""
        taken = self.taken(k)
        return [doc for doc in self.train_docs if sentence_id(doc) not in taken]

    def annotations(self, j: int) -> List[Annotation]:
        """The answers with tags received in round ``j``, in the order they were written."""
        records = JsonlLog(self.run.round_dir(j) / "annotations.jsonl").records
        return [Annotation.from_dict(r) for r in records if r["tags"] is not None]

    def labelled(self, k: int) -> List[Doc]:
        """The labelled set of round ``k``: the gold seed plus every annotation received in rounds 1..k.

        Each doc's meta says its source, its round and (``learner_split``) whether the learner trains on it
        or holds it out as its dev data.
        """
        docs = []
        for sid in self.seed_ids():
            doc = self.by_id[sid].copy()
            set_task(doc, {"meta": {**get_meta(doc), "source": "gold", "round": 0}})
            docs.append(doc)
        for j in range(1, k + 1):
            docs.extend(self._annotated_doc(annotation, j) for annotation in self.annotations(j))
        dev = self.learner_dev_ids(k)
        for doc in docs:
            set_task(doc, {"meta": {**get_meta(doc), LEARNER_SPLIT: "dev" if sentence_id(doc) in dev else "train"}})
        return docs

    def learner_dev_ids(self, k: int) -> Set[str]:
        """The labelled sentences the learner holds out as dev in round ``k`` (none with the oracle dev)."""
        if self.settings.dev == "oracle":
            return set()
        rounds = [self.seed_ids()] + [[a.id for a in self.annotations(j)] for j in range(1, k + 1)]
        return split_dev(rounds, self.settings.dev_share, self.settings.dev_min, self.settings.seed)

    def _annotated_doc(self, annotation: Annotation, round_k: int) -> Doc:
        gold = self.by_id[annotation.id]
        doc = make_doc(self.vocab, [t.text for t in gold], annotation.tags)
        meta = {**get_meta(gold), "source": annotation.source, "round": round_k, **annotation.meta}
        set_task(doc, {"meta": meta})
        return doc
