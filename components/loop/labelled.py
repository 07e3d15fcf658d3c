"""A run's sentences: the seed, what each round asked for and received, the pool, the learner's dev.

The seed is one of three kinds. A MasakhaNER run draws it from the gold train split (the paper). A corpus
of one's own (``prepare``) may bring a labelled seed file (``seed.spacy``), which is the seed as it is; or
none, and then the seed is drawn from the unlabelled pool and the annotator labels it in round 0
(:attr:`RunSentences.seed_by_annotator`), so the seed counts as annotated, not gold.

The annotator's answers reach the learner through the run's label policy (:mod:`..policy.rules`): entities it
doubts become missing tokens, judged by the model that chose the sentences (``judged.jsonl``). Gold answers
(the seed, an oracle) are never changed, and neither are the answers a person reviewed (``reviewed.jsonl``,
:mod:`.reviewing`): accepted, they are gold with ``source: human``; rejected, they leave the labelled set.

Everything here is read back from the run folder (``seed.json``, each round's
``selection.json``, ``annotations.jsonl`` and ``judged.jsonl``), so a resumed run sees exactly what the
interrupted one had.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import srsly
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..annotators.base import Annotation
from ..data.docs import get_meta, make_doc, sentence_id, set_task
from ..data.shards import DocsById, PoolView, ShardedPool
from ..fileio import JsonlLog, read_jsonl
from ..policy.rules import LabelPolicy
from ..strategies.seeding import SeedSampler
from .devsplit import split_dev
from .reviewing import reviewed, reviewed_meta
from .settings import LoopSettings
from .state import RunFolder

LEARNER_SPLIT = "learner_split"  # meta key: "train" or "dev" (the learner's own dev data)
POLICY_KEY = "label_policy"  # meta key: what the policy made of the answer (missing tokens, entities removed)
GOLD_SOURCES = ("gold", "human")  # answers no policy touches
JUDGED = "judged.jsonl"


class RunSentences:
    """The labelled set, the pool and the learner's dev split of one run, round by round."""

    def __init__(self, run: RunFolder, settings: LoopSettings, sampler: SeedSampler, train_docs: Sequence[Doc],
                 vocab: Vocab, seed_docs: Optional[List[Doc]] = None, pool_labelled: bool = True) -> None:
        self.run, self.settings, self.sampler = run, settings, sampler
        self.train_docs = train_docs  # a list, or a ShardedPool read a shard at a time
        self.seed_docs = seed_docs  # a labelled seed file's sentences (not in the pool), or None
        self.by_id: Mapping[str, Doc] = (
            DocsById(train_docs, seed_docs or []) if isinstance(train_docs, ShardedPool)
            else {sentence_id(doc): doc for doc in [*train_docs, *(seed_docs or [])]})
        self.vocab = vocab
        # No seed file and no gold in the pool: the seed is drawn from the pool and labelled by the annotator.
        self.seed_by_annotator = seed_docs is None and not pool_labelled
        self.policy: LabelPolicy = getattr(settings, "label_policy", None) or LabelPolicy()
        self.distrusted: Tuple[str, ...] = self.policy.distrusted(None)  # set_audit gives the audit's types
        self.unreliable: Tuple[str, ...] = ()

    def set_audit(self, unreliable: Optional[Sequence[str]]) -> None:
        """The types the audit found unreliable (for a policy that distrusts them, or holds them to their own
        threshold)."""
        self.distrusted = self.policy.distrusted(unreliable)
        self.unreliable = tuple(unreliable or ())

    def judgements(self, j: int) -> Dict[str, Dict[str, Any]]:
        """The learner's judgement of round ``j``'s answers, by id (empty before it is written); read from disk each
        time, so a round rebuilt from more answers never sees an old judgement."""
        path = self.run.round_dir(j) / JUDGED
        return {r["id"]: r for r in read_jsonl(path)} if path.exists() else {}

    def seed_ids(self) -> List[str]:
        """The seed set's sentence ids: the seed file's, or drawn from the pool once and saved."""
        ids = self.run.read_ids("seed")
        if ids is None:
            if self.seed_docs is not None:
                ids = [sentence_id(doc) for doc in self.seed_docs]
            else:
                ids = [sentence_id(self.train_docs[i]) for i in self.sampler(self.train_docs, self.settings.seed)]
            self.run.write_ids("seed", ids)
        return ids

    def n_gold(self) -> int:
        """Gold-labelled sentences in the labelled set: the seed, unless the annotator labelled it."""
        return 0 if self.seed_by_annotator else len(self.seed_ids())

    def reference_size(self) -> int:
        """What a relative query size (``5%``) is a share of: the pool before any query."""
        return len(self.train_docs) - (0 if self.seed_docs is not None else len(self.seed_ids()))

    def first_annotated_round(self) -> int:
        """0 when the annotator labels the seed, else 1."""
        return 0 if self.seed_by_annotator else 1

    def requested_ids(self, before: int) -> List[str]:
        """Ids selected (and so requested) in rounds ``1 .. before-1``."""
        ids: List[str] = []
        for j in range(1, before):
            path = self.run.round_dir(j) / "selection.json"
            ids.extend(item["id"] for item in srsly.read_json(path)["selected"])
        return ids

    def taken(self, k: int) -> Set[str]:
        """Ids no longer in the pool of round ``k``: the seed and everything requested before."""
        taken = set(self.seed_ids()) | set(self.requested_ids(k))
        self.prefetch(taken)
        return taken

    def prefetch(self, ids: Iterable[str]) -> None:
        """With a sharded pool, read these sentences (the labelled ones, a round's selection) in one pass over their
        shards and keep them, so that looking them up one by one later reads no shard again."""
        if isinstance(self.by_id, DocsById):
            self.by_id.pin(ids)

    def pool(self, k: int) -> Sequence[Doc]:
        """The unlabelled pool of round ``k``, in corpus order (a sharded pool's is a :class:`PoolView`)."""
        taken = self.taken(k)
        if isinstance(self.train_docs, ShardedPool):
            return PoolView(self.train_docs, [i for i, sid in enumerate(self.train_docs.ids) if sid not in taken])
        return [doc for doc in self.train_docs if sentence_id(doc) not in taken]

    def annotations(self, j: int) -> List[Annotation]:
        """The answers with tags received in round ``j``, in the order they were written."""
        log = JsonlLog(self.run.round_dir(j) / "annotations.jsonl")
        return [Annotation.from_dict(r) for r in log if r["tags"] is not None]

    def labelled(self, k: int) -> List[Doc]:
        """The labelled set of round ``k``: the gold seed plus every annotation received in rounds 1..k (0..k
        when the annotator labelled the seed).

        Each doc's meta says its source, its round and (``learner_split``) whether the learner trains on it
        or holds it out as its dev data.
        """
        docs = []
        for sid in [] if self.seed_by_annotator else self.seed_ids():
            doc = self.by_id[sid].copy()
            set_task(doc, {"meta": {**get_meta(doc), "source": "gold", "round": 0}})
            docs.append(doc)
        reviews = reviewed(self.run.round_dir(k))  # a person's answers this round counts (review)
        for j in range(self.first_annotated_round(), k + 1):
            for annotation in self.annotations(j):
                review = reviews.get(annotation.id)
                if review is None or review["answer"] == "ignore":
                    docs.append(self._annotated_doc(annotation, j, k))
                elif review["answer"] == "accept":  # gold from then on: no label policy touches it
                    doc = make_doc(self.vocab, [t.text for t in self.by_id[annotation.id]], review["tags"])
                    meta = {**get_meta(self.by_id[annotation.id]), "round": j, **annotation.meta,
                            "llm_source": annotation.source, **reviewed_meta(review)}
                    set_task(doc, {"meta": meta})
                    docs.append(doc)
                # "reject": the reviewer found the sentence unusable; it leaves the labelled set
        dev = self.learner_dev_ids(k)
        for doc in docs:
            set_task(doc, {"meta": {**get_meta(doc), LEARNER_SPLIT: "dev" if sentence_id(doc) in dev else "train"}})
        return docs

    def learner_dev_ids(self, k: int) -> Set[str]:
        """The labelled sentences the learner holds out as dev in round ``k`` (none with the oracle dev)."""
        if self.settings.dev == "oracle":
            return set()
        if self.settings.dev == "seed":
            return split_dev([self.seed_ids()], self.settings.dev_share, self.settings.dev_min, self.settings.seed)
        rounds = [] if self.seed_by_annotator else [self.seed_ids()]
        rounds += [[a.id for a in self.annotations(j)] for j in range(self.first_annotated_round(), k + 1)]
        return split_dev(rounds, self.settings.dev_share, self.settings.dev_min, self.settings.seed)

    def _annotated_doc(self, annotation: Annotation, round_k: int, labelled_round: int) -> Doc:
        """The doc the learner is taught for an answer received in ``round_k``, in the labelled set of
        ``labelled_round`` (with ``rejudge``, the newest judgement of it)."""
        gold = self.by_id[annotation.id]
        words = [t.text for t in gold]
        meta = {**get_meta(gold), "source": annotation.source, "round": round_k, **annotation.meta}
        if self.policy.is_trust or annotation.source in GOLD_SOURCES or annotation.tags is None:
            doc = make_doc(self.vocab, words, annotation.tags)
        else:
            judged_in = labelled_round if self.policy.rejudge else round_k
            decision = self.policy.apply(annotation.tags, self.judgements(judged_in).get(annotation.id),
                                         self.distrusted, self.unreliable)
            doc = make_doc(self.vocab, words)
            doc.set_ents([Span(doc, s, e, label) for s, e, label in decision.ents],
                         missing=[Span(doc, s, e) for s, e, _ in decision.missing], default="outside")
            meta[POLICY_KEY] = {"policy": self.policy.name, **decision.to_meta()}
        set_task(doc, {"meta": meta})
        return doc
