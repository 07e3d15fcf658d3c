"""The active-learning loop of arXiv 2404.02261, resumable at every step.

Round 0 trains the learner on the seed set. Each round ``k >= 1`` then: scores
the unlabelled pool with round ``k-1``'s model, selects with the strategy, asks
the annotator for labels (each answer appended to disk as it arrives), merges
them into the labelled set, retrains from the base config and evaluates on dev
and test. Every step writes its output atomically into ``round-<k>/``; a step
whose output exists is never run again, so ``kill -9`` at any moment loses at
most the step in progress, and an annotation is never requested twice.
"""
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import spacy
import srsly
from spacy.tokens import Doc, DocBin

from ..annotators.base import Annotation, AnnotationContext, AnnotationRequest, Annotator, validate_annotation
from ..data.corpus import load_docs
from ..data.docs import bare_copy, doc_tags, get_meta, make_doc, sentence_id, set_task
from ..data.iob import iob_tagset
from ..data.prodigy import doc_to_task
from ..errors import LoopError
from ..evaluation.evaluate import evaluate_nlp
from ..evaluation.metrics import tag_agreement
from ..fileio import JsonlLog, atomic_path, write_json, write_jsonl
from ..learner.train import train_pipeline
from ..strategies.base import Selection, Strategy
from ..uncertainty.component import install_extensions
from ..uncertainty.measures import DOC_MEASURES
from .seeding import SeedSampler
from .settings import LoopSettings, learner_name, run_name
from .state import RunFolder, file_digest, read_scores

logger = logging.getLogger(__name__)
REPORTED = ("ents_p", "ents_r", "ents_f", "ents_per_type", "paper_token_f1_entity_positions", "uncertainty_auroc")


class ActiveLearningLoop:
    """One run: one language, annotator, strategy and seed (see the module docstring)."""

    def __init__(self, settings: LoopSettings, sampler: SeedSampler, strategy: Strategy, annotator: Annotator,
                 *, learner_overrides: Optional[Dict[str, Any]] = None, config_text: str = "") -> None:
        install_extensions()
        self.settings, self.sampler, self.strategy, self.annotator = settings, sampler, strategy, annotator
        self.learner_overrides = dict(learner_overrides or {})
        self.name = run_name(settings, annotator, strategy)
        self.run = RunFolder(settings.runs / self.name)
        self.vocab = spacy.blank("xx").vocab
        self.train_docs = load_docs(settings.corpus / "train.spacy", self.vocab)
        self.by_id = {sentence_id(doc): doc for doc in self.train_docs}
        self.config_text = config_text

    def identity(self) -> Dict[str, Any]:
        """What makes this run this run (saved in ``run.json``, checked on resume)."""
        s = self.settings
        return {"lang": s.lang, "annotator": self.annotator.name, "strategy": self.strategy.name, "seed": s.seed,
                "query_size": str(s.query_size), "seed_set": self.sampler.name, "loop.rounds": s.rounds,
                "loop.gpu_id": s.gpu_id, "corpus": file_digest(s.corpus / "train.spacy"),
                "learner_config": file_digest(s.learner_config), "learner_overrides": self.learner_overrides,
                "loop_config": self.config_text}

    def log(self, message: str, *args: Any) -> None:
        """A progress line prefixed with the run's name."""
        logger.info(f"[{self.name}] {message}", *args)

    def run_all(self) -> Dict[str, Any]:
        """Run (or resume) every round; return the content of ``loop.json``."""
        resumed = self.run.claim(self.identity())
        self.log("%s in %s", "resuming" if resumed else "starting", self.run.root)
        self._prepare_annotator()
        for k in range(self.settings.rounds + 1):
            if not self.run.record_path(k).exists():
                if k > 0 and not self._pool(k):
                    self.log("the pool is exhausted after round %d; stopping", k - 1)
                    break
                if k > 0 and getattr(self.annotator, "budget_exhausted", False):
                    self.log("the annotation budget is spent; stopping before round %d", k)
                    break
                self._round(k)
            self._write_loop_json()
        return srsly.read_json(self.run.loop_json)

    def _prepare_annotator(self) -> None:
        """Write the gold seed as Prodigy JSONL (the k-shot source) and hand the run's context to the annotator."""
        seed_path = self.run.root / "seed.jsonl"
        if not seed_path.exists():
            write_jsonl(seed_path, (doc_to_task(doc) for doc in self._labelled(0)))
        if hasattr(self.annotator, "prepare"):
            self.annotator.prepare(AnnotationContext(self.run.root, seed_path, self.settings.lang))

    # -- the labelled set and the pool ------------------------------------------------------
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

    def _pool(self, k: int) -> List[Doc]:
        taken = set(self.seed_ids()) | set(self.requested_ids(k))
        return [doc for doc in self.train_docs if sentence_id(doc) not in taken]

    def _labelled(self, k: int) -> List[Doc]:
        """The labelled set of round ``k``: the gold seed plus every annotation received in rounds 1..k."""
        docs = []
        for sid in self.seed_ids():
            doc = self.by_id[sid].copy()
            set_task(doc, {"meta": {**get_meta(doc), "source": "gold", "round": 0}})
            docs.append(doc)
        for j in range(1, k + 1):
            for record in JsonlLog(self.run.round_dir(j) / "annotations.jsonl").records:
                if record["tags"] is not None:
                    docs.append(self._annotated_doc(Annotation.from_dict(record), j))
        return docs

    def _annotated_doc(self, annotation: Annotation, round_k: int) -> Doc:
        gold = self.by_id[annotation.id]
        doc = make_doc(self.vocab, [t.text for t in gold], annotation.tags)
        meta = {**get_meta(gold), "source": annotation.source, "round": round_k, **annotation.meta}
        set_task(doc, {"meta": meta})
        return doc

    # -- one round ------------------------------------------------------------------------------
    def _round(self, k: int) -> None:
        rd = self.run.round_dir(k)
        rd.mkdir(parents=True, exist_ok=True)
        timings = _Timings(rd / "timings.json")
        annotation = None
        if k > 0:
            selection = self._select(k, timings)
            annotation = self._annotate(k, selection, timings)
        labelled = self._labelled(k)
        self._write_labelled(rd, labelled)
        model = rd / "model"
        if not model.exists():
            self.log("round %d/%d: training on %d sentences", k, self.settings.rounds, len(labelled))
            with timings.measure("train"):
                train_pipeline(self.settings.learner_config, model, train_path=rd / "train.spacy",
                               dev_path=self.settings.corpus / "dev.spacy", seed=self.settings.seed,
                               gpu_id=self.settings.gpu_id, overrides=self.learner_overrides,
                               log_path=rd / "train.log", init_from=self._warm_start_from(k))
        with timings.measure("evaluate"):
            scores = self._evaluate(model)
        record = self._record(k, labelled, scores, annotation, timings.data)
        write_json(self.run.record_path(k), record)
        self.log("round %d/%d: %d sentences (%d annotated), test entity F1 %.2f, dev %.2f (train %.0fs)",
                 k, self.settings.rounds, record["n_train"], record["n_annotated"], 100 * record["test"]["ents_f"],
                 100 * record["dev"]["ents_f"], timings.data.get("train", 0.0))

    def _warm_start_from(self, k: int) -> Optional[Path]:
        """With ``loop.warm_start``, round ``k >= 1`` continues from round ``k-1``'s model; else None (retrain)."""
        return self.run.round_dir(k - 1) / "model" if self.settings.warm_start and k > 0 else None

    def _select(self, k: int, timings: "_Timings") -> Dict[str, Any]:
        rd = self.run.round_dir(k)
        path = rd / "selection.json"
        if path.exists():
            return srsly.read_json(path)
        pool = [bare_copy(doc) for doc in self._pool(k)]
        if self.strategy.needs_model:
            self._attach_scores(k, pool, timings)
        with timings.measure("select"):
            selection = self.strategy(pool, self.settings.query_size, reference_size=self._reference_size(),
                                      seed=self.settings.seed * 1000 + k)
            data = self._selection_record(k, pool, selection)
        write_json(path, data)
        top = ", ".join(f"{item['id']} ({item['score']:.3f})" for item in data["selected"][:3])
        self.log("round %d/%d: selected %d of %d pool sentences with '%s'; top: %s", k, self.settings.rounds,
                 len(data["selected"]), len(pool), self.strategy.name, top)
        return data

    def _reference_size(self) -> int:
        return len(self.train_docs) - len(self.seed_ids())

    def _attach_scores(self, k: int, pool: List[Doc], timings: "_Timings") -> None:
        """Score the pool with the previous round's model (or reload the saved scores) into ``doc._.uncertainty``."""
        path = self.run.round_dir(k) / "scores.jsonl"
        if not path.exists():
            with timings.measure("score"):
                nlp = spacy.load(self.run.round_dir(k - 1) / "model")
                records = [_score_record(doc) for doc in nlp.pipe([d.copy() for d in pool], batch_size=256)]
                write_jsonl(path, records)
            self.log("round %d/%d: scored %d pool sentences in %.1fs", k, self.settings.rounds, len(pool),
                     timings.data["score"])
        saved = read_scores(path)
        for doc in pool:
            doc._.uncertainty = saved[sentence_id(doc)]

    def _selection_record(self, k: int, pool: Sequence[Doc], selection: Selection) -> Dict[str, Any]:
        chosen = [sentence_id(pool[i]) for i in selection.indices]
        labelled = set(self.seed_ids()) | set(self.requested_ids(k))
        if labelled & set(chosen) or len(set(chosen)) != len(chosen):
            raise LoopError(f"strategy '{selection.strategy}' chose a labelled or repeated sentence")
        values = np.asarray(selection.pool_scores, dtype="float64")
        return {"round": k, "strategy": selection.strategy, "query_size": str(self.settings.query_size),
                "n_pool": len(pool), "pool_scores": {"min": float(values.min()), "mean": float(values.mean()),
                                                       "median": float(np.median(values)), "max": float(values.max())},
                "selected": [{"id": sid, "rank": r, "score": s, "n_tokens": len(pool[i])}
                             for r, (sid, i, s) in enumerate(zip(chosen, selection.indices, selection.scores))]}

    def _annotate(self, k: int, selection: Dict[str, Any], timings: "_Timings") -> Dict[str, Any]:
        log = JsonlLog(self.run.round_dir(k) / "annotations.jsonl")
        wanted = [item["id"] for item in selection["selected"]]
        done = {record["id"] for record in log.records}
        requests = [AnnotationRequest(sid, [t.text for t in self.by_id[sid]]) for sid in wanted if sid not in done]
        tagset = iob_tagset()
        if hasattr(self.annotator, "begin_round"):
            self.annotator.begin_round(k)
        if requests:
            self.log("round %d/%d: requesting %d annotations from '%s' (%d already on disk)", k,
                     self.settings.rounds, len(requests), self.annotator.name, len(done))
            pending = {r.id: r for r in requests}
            with timings.measure("annotate"):
                group: List[Dict[str, Any]] = []  # answers to one prompt are written together (see below)
                for annotation in self.annotator(requests):
                    request = pending.pop(annotation.id, None)
                    if request is None:
                        logger.warning("annotator answered '%s', which was not asked or was answered already",
                                       annotation.id)
                        continue
                    record = validate_annotation(annotation, len(request.words), tagset).to_dict()
                    if group and not _same_prompt(group[-1], record):
                        log.extend(group)
                        group = []
                    group.append(record)
                    if len(group) >= int((record.get("meta") or {}).get("group_size") or 1):
                        log.extend(group)
                        group = []
                log.extend(group)
            if pending and getattr(self.annotator, "budget_exhausted", False):
                self.log("round %d/%d: the annotation budget is spent; %d selected sentences stay unlabelled, "
                         "training on what there is", k, self.settings.rounds, len(pending))
            elif pending:
                raise LoopError(f"annotator '{self.annotator.name}' returned without answering {len(pending)} "
                                f"requests (e.g. {sorted(pending)[:3]}); run the loop again to ask for those only")
        summary = self._annotation_summary(wanted, log.records)
        if hasattr(self.annotator, "usage"):
            summary["usage"] = self.annotator.usage(k)
        return summary

    def _annotation_summary(self, wanted: List[str], records: List[Dict[str, Any]]) -> Dict[str, Any]:
        received = [r for r in records if r["tags"] is not None]
        errors: Dict[str, int] = {}
        problems: Dict[str, int] = {}
        for r in records:
            if r["tags"] is None:
                reason = str(r.get("error") or "unknown").split(":")[0]
                errors[reason] = errors.get(reason, 0) + 1
            for name, count in ((r.get("meta") or {}).get("problems") or {}).items():
                problems[name] = problems.get(name, 0) + count
        quality = tag_agreement([doc_tags(self.by_id[r["id"]]) for r in received], [r["tags"] for r in received])
        return {"n_requested": len(wanted), "n_received": len(received), "n_dropped": len(records) - len(received),
                "n_unanswered": len(set(wanted) - {r["id"] for r in records}),
                "n_repaired": sum(bool((r.get("meta") or {}).get("repairs")) for r in received),
                "drop_reasons": errors, "problems": problems, "token_accuracy": quality["token_accuracy"],
                "ents_f": quality["ents_f"]}

    def _write_labelled(self, rd: Path, docs: List[Doc]) -> None:
        if not (rd / "labelled.jsonl").exists():
            write_jsonl(rd / "labelled.jsonl", (doc_to_task(doc) for doc in docs))
        if not (rd / "train.spacy").exists():
            with atomic_path(rd / "train.spacy") as tmp:
                DocBin(docs=docs, store_user_data=True).to_disk(tmp)

    def _evaluate(self, model: Path) -> Dict[str, Any]:
        nlp = spacy.load(model)
        return {split: evaluate_nlp(nlp, load_docs(self.settings.corpus / f"{split}.spacy", nlp.vocab))
                for split in ("dev", "test")}

    def _record(self, k: int, labelled: List[Doc], scores: Dict[str, Any], annotation: Optional[Dict[str, Any]],
                seconds: Dict[str, float]) -> Dict[str, Any]:
        n_gold = len(self.seed_ids())
        return {"round": k, "n_gold": n_gold, "n_annotated": len(labelled) - n_gold, "n_train": len(labelled),
                "test": {key: scores["test"][key] for key in REPORTED},
                "dev": {key: scores["dev"][key] for key in REPORTED},
                "annotation": annotation, "seconds": {key: round(seconds.get(key, 0.0), 2)
                                                      for key in ("train", "score", "select", "annotate", "evaluate")}}

    def _write_loop_json(self) -> None:
        s = self.settings
        write_json(self.run.loop_json, {
            "lang": s.lang, "annotator": self.annotator.name, "strategy": self.strategy.name, "seed": s.seed,
            "query_size": str(s.query_size), "seed_set": self.sampler.name, "learner_config": str(s.learner_config),
            "learner": learner_name(s.learner_config), "warm_start": s.warm_start, "run": self.name,
            "rounds": self.run.records()})


def _same_prompt(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    """Whether two answers came from one prompt (several sentences per request).

    Such answers (``meta.group_size`` of them) are written in one go: were a kill to leave half a group
    on disk, the rest would be regrouped with other sentences on resume, making new prompts that miss
    the cache and are paid again.
    """
    key = (a.get("meta") or {}).get("prompt_hash")
    return key is not None and key == (b.get("meta") or {}).get("prompt_hash")


def _score_record(doc: Doc) -> Dict[str, Any]:
    scores = doc._.uncertainty
    return {"id": sentence_id(doc), "n_tokens": len(doc), **{name: scores[name] for name in DOC_MEASURES}}


class _Timings:
    """Seconds per step of a round, saved after each step so a resumed round keeps what it spent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: Dict[str, float] = srsly.read_json(path) if path.exists() else {}

    def measure(self, step: str) -> "_Timer":
        """A context manager adding the time spent inside it to ``step``."""
        return _Timer(self, step)

    def add(self, step: str, seconds: float) -> None:
        """Add ``seconds`` to ``step`` and save."""
        self.data[step] = self.data.get(step, 0.0) + seconds
        write_json(self.path, self.data)


class _Timer:
    def __init__(self, timings: _Timings, step: str) -> None:
        self.timings, self.step = timings, step

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timings.add(self.step, time.perf_counter() - self.start)
