"""The active-learning loop of arXiv 2404.02261, resumable at every step.

Round 0 trains the learner on the seed set. Each round ``k >= 1`` then: scores
the unlabelled pool with round ``k-1``'s model, selects with the strategy, asks
the annotator for labels (each answer appended to disk as it arrives), merges
them into the labelled set, retrains from the base config and evaluates on dev
and test. Every step writes its output atomically into ``round-<k>/``; a step
whose output exists is never run again, so ``kill -9`` at any moment loses at
most the step in progress, and an annotation is never requested twice. One
process at a time works on a run folder (a lock held for the process's lifetime).

The parts live beside this module: :mod:`.labelled` (seed, pool, labelled set,
the learner's dev split), :mod:`.selecting`, :mod:`.annotating`, :mod:`.timings`;
:mod:`.state` (the run folder, its identity and lock) and :mod:`.environment`.
"""
import hashlib
import logging
import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.util import load_config
from thinc.api import Config

from ..annotators.base import AnnotationContext, AnnotationRequest, Annotator, as_annotator
from ..data.corpus import load_docs, open_pool, pool_digest, pool_texts
from ..data.docs import bare_copy, get_meta, sentence_id
from ..data.own import read_manifest
from ..data.prodigy import doc_to_task
from ..data.shards import PoolView, ShardedPool
from ..environment import environment
from ..errors import LoopError
from ..evaluation.evaluate import evaluate_nlp
from ..fileio import JsonlLog, atomic_path, file_digest, iter_jsonl, write_json, write_jsonl
from ..learner.calibrate import calibrate_pipeline
from ..learner.committee import requested_estimator, requested_size, train_committee, without_committee
from ..learner.progress import training_summary
from ..learner.train import check_init_tok2vec, train_pipeline
from ..learner.transfer import prepare_transfer, training_folder, write_prefix
from ..policy.audit import audit_labels, unreliable_types
from ..policy.judge import judge
from ..policy.taught import taught_quality
from ..review.settings import ReviewSettings
from ..strategies.base import SelectsFromScores, Strategy, UsesAudit
from ..strategies.seeding import SeedSampler
from ..uncertainty.component import install_extensions
from .annotating import annotate, annotation_summary, check_unanswered
from .auditing import AUDIT_FILE, run_audit
from .labelled import GOLD_SOURCES, JUDGED, LEARNER_SPLIT, RunSentences
from .reviewing import REVIEWED, collect, reviewed, simulate_answers, unmerged, write_review_tasks
from .selecting import (
    attach_scores,
    drop_leftover_parts,
    saved_vectors,
    score_pool,
    scoring_processes,
    selection_record,
    subsample_indices,
    vectors_path,
)
from .settings import MUTABLE_SETTINGS, LoopSettings, learner_name, run_name
from .state import RunFolder
from .timings import Timings

logger = logging.getLogger(__name__)
REPORTED = ("ents_p", "ents_r", "ents_f", "ents_per_type", "paper_token_f1_entity_positions", "uncertainty_auroc",
            "uncertainty_auroc_length", "uncertainty_auroc_n_ents", "uncertainty_auroc_with_entity",
            "uncertainty_auroc_per_measure", "uncertainty_n_eval", "uncertainty_ece", "uncertainty_ece_raw")


ESTIMATOR_OVERRIDE = "components.uncertainty.estimator"
DEFAULT_LEARNER = Path("configs/learner-cnn.cfg")  # runs of this learner leave it out of their name


def without_no_op_estimator(learner_config: Path, overrides: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """``overrides`` without an estimator override that says what the learner config says already (the project's
    ``--vars.estimator beam``): it changes nothing, and left in it would change the run's identity, so a run
    started without it would refuse to resume."""
    kept = dict(overrides or {})
    if ESTIMATOR_OVERRIDE in kept and kept[ESTIMATOR_OVERRIDE] == requested_estimator(learner_config):
        del kept[ESTIMATOR_OVERRIDE]
    return kept


def run_names(settings: LoopSettings, annotator: Annotator, strategy: Strategy,
              learner_overrides: Optional[Dict[str, Any]] = None) -> Tuple[str, str]:
    """The run's folder name and the name the loop would give it by itself (:func:`.settings.run_name`).

    A name given (``loop.run_name``: the project's ``--vars.run``) that is the plain
    ``<lang>-<annotator>-<strategy>[-<learner>]-seed<k>`` of a run whose settings add to that name (another learner
    config, estimator, warm start, the oracle or seed dev, transfer, pretrained tok2vec) is refused: it would file
    the run where the default run goes, and each would then refuse to resume the other's folder.
    """
    overrides = without_no_op_estimator(settings.learner_config, learner_overrides)
    pretrained = bool(overrides.get("paths.init_tok2vec"))
    estimator = requested_estimator(settings.learner_config, overrides)
    name = run_name(settings, annotator, strategy, pretrained=pretrained, estimator=estimator)
    own = run_name(replace(settings, run_name=None), annotator, strategy, pretrained=pretrained, estimator=estimator)
    plain = replace(settings, run_name=None, warm_start=False, dev="labelled", transfer_langs=(),
                    review=ReviewSettings())
    plain_names = {run_name(plain, annotator, strategy),  # the same learner, on the default settings
                   run_name(replace(plain, learner_config=DEFAULT_LEARNER), annotator, strategy)}  # the CNN's
    if settings.run_name and name in plain_names and name != own:
        raise LoopError(f"the run folder name '{name}' is the one of a run on the default settings, but this run's "
                        f"settings name it '{own}': give it that name (--vars.run {own} in the project, --vars.trf_run "
                        f"for loop-trf; --run-name {own} on the loop command) or another of your own")
    return name, own


def _in_pool_order(scores: Path, ids: Sequence[str]) -> Iterator[Dict[str, Any]]:
    """The saved score records, each checked to be the pool's sentence at its position (a sharded pool's selection
    pairs scores and sentences by position)."""
    n = 0
    for line, record in iter_jsonl(scores):
        if n >= len(ids) or record.get("id") != ids[n]:
            raise LoopError(f"{scores}:{line}: the score of '{record.get('id')}' where the pool has "
                            f"'{ids[n] if n < len(ids) else 'nothing'}'; delete the file to score the round again")
        n += 1
        yield record
    if n != len(ids):
        raise LoopError(f"{scores}: {n} scores for {len(ids)} pool sentences; delete the file to score the round again")


class ActiveLearningLoop:
    """One run: one language, annotator, strategy and seed (see the module docstring)."""

    def __init__(self, settings: LoopSettings, sampler: SeedSampler, strategy: Strategy, annotator: Annotator,
                 *, learner_overrides: Optional[Dict[str, Any]] = None, config_text: str = "",
                 progress: bool = False) -> None:
        install_extensions()
        self.progress = progress  # progress bars (annotation, scoring) and spaCy's training table on the console
        self.settings, self.sampler, self.strategy = settings, sampler, strategy
        self.annotator = as_annotator(annotator)
        self.learner_overrides = without_no_op_estimator(settings.learner_config, learner_overrides)
        self.committee = requested_size(settings.learner_config, self.learner_overrides)  # 0: no committee
        self.estimator = estimator = requested_estimator(settings.learner_config, self.learner_overrides)
        if getattr(strategy, "measure", None) == "bald" and estimator == "beam":  # before anything is trained
            raise LoopError(f"strategy '{strategy.name}' needs the uncertainty estimator 'mc_dropout' or 'committee' "
                            "(the beam gives no BALD): --vars.estimator mc_dropout in the project, "
                            "--learner.components.uncertainty.estimator mc_dropout on the loop command")
        check_init_tok2vec(settings.learner_config, self.learner_overrides)
        self.name, _ = run_names(settings, self.annotator, strategy, self.learner_overrides)
        self.run = RunFolder(settings.runs / self.name)
        self.vocab = spacy.blank("xx").vocab
        info = settings.info
        seed_docs = load_docs(settings.corpus / "seed.spacy", self.vocab) if "seed" in info.splits else None
        pool = open_pool(settings.corpus / "train.spacy", self.vocab)  # a list, or a sharded pool read lazily
        if isinstance(pool, ShardedPool) and not isinstance(strategy, SelectsFromScores):
            raise LoopError(f"strategy '{strategy.name}' needs the scored pool in memory, and this pool is sharded "
                            "(read a shard at a time); give it a select_scores method (SelectsFromScores: every "
                            "built-in strategy has one) or use a built-in strategy")
        self.sentences = RunSentences(self.run, settings, sampler, pool, self.vocab, seed_docs=seed_docs,
                                      pool_labelled=info.pool_labelled)
        self.config_text = config_text
        self.environment = environment()
        self.audit: Optional[Dict[str, Any]] = None  # the audit's summary (loop.json), once it ran
        if settings.review.active and settings.review.simulated and not info.pool_labelled:
            raise LoopError("the SIMULATED reviewer answers with the gold labels, and this corpus's pool has none; "
                            "review with a person (--reviewer prodigy)")

    def identity(self) -> Dict[str, Any]:
        """What makes this run this run (saved in ``run.json``, checked on resume), and where it ran."""
        s = self.settings
        return {**self._identity_extra(), "lang": s.lang, "annotator": self.annotator.name,
                "strategy": self.strategy.name, "seed": s.seed,
                "query_size": str(s.query_size), "seed_set": self.sampler.name, "loop.rounds": s.rounds,
                "loop.gpu_id": s.gpu_id, "corpus": pool_digest(s.corpus / "train.spacy"),
                "learner_config": file_digest(s.learner_config), "learner_overrides": self.learner_overrides,
                "learner_config_effective": self.learner_digest(), "loop_config": self.config_text,
                "annotator_identity": self.annotator.identity(),
                "environment": self.environment}

    def _identity_extra(self) -> Dict[str, Any]:
        """The identity's parts a MasakhaNER run without transfer or pretraining does not have (so that older runs
        keep resuming): labels, the corpus manifest, the seed file, transfer, pretrained weights."""
        s = self.settings
        extra: Dict[str, Any] = {}
        if not s.labels.is_masakhaner:  # a MasakhaNER run's identity stays as it was, so older runs resume
            extra["labels"] = s.labels.to_dict()
        if s.info.own:  # a corpus of one's own: every input file and option it was prepared from (dev, test too)
            manifest = read_manifest(s.corpus) or {}
            extra["corpus_manifest"] = {"inputs": manifest.get("inputs"), "options": manifest.get("options")}
        if "seed" in s.info.splits:
            extra["seed_file"] = file_digest(s.corpus / "seed.spacy")
        if s.transfer_langs:
            extra["transfer"] = {"langs": list(s.transfer_langs), "max_per_lang": s.transfer_max,
                                 **({"ratio": s.transfer_ratio} if s.transfer_ratio else {})}
        if self.learner_overrides.get("paths.init_tok2vec"):  # the weights, not only their path
            extra["init_tok2vec"] = file_digest(Path(self.learner_overrides["paths.init_tok2vec"]))
        if s.review.active:
            extra["review"] = s.review.identity()
        return extra

    def learner_digest(self) -> str:
        """SHA-256 (16 hex digits) of the learner config with its overrides applied: what each round trains."""
        config = load_config(self.settings.learner_config, overrides=self.learner_overrides, interpolate=False)
        return hashlib.sha256(config.to_str().encode("utf-8")).hexdigest()[:16]

    def log(self, message: str, *args: Any) -> None:
        """A progress line prefixed with the run's name."""
        logger.info(f"[{self.name}] {message}", *args)

    def run_all(self) -> Dict[str, Any]:
        """Run (or resume) every round; return the content of ``loop.json``."""
        self.run.lock()
        try:
            resumed = self.run.claim(self.identity(), MUTABLE_SETTINGS)
            self.log("%s in %s", "resuming" if resumed else "starting", self.run.root)
            self._prepare_transfer()
            self._prepare_annotator()
            self._audit()
            for k in range(self.settings.rounds + 1):
                if not self.run.record_path(k).exists():
                    if k > 0 and not self.sentences.pool(k):
                        self.log("the pool is exhausted after round %d; stopping", k - 1)
                        break
                    if k > 0 and self.annotator.budget_exhausted:
                        self.log("the annotation budget is spent; stopping before round %d", k)
                        break
                    self._round(k)
                self._write_loop_json()
            self._report_unmerged()
            return srsly.read_json(self.run.loop_json)
        finally:
            self.run.unlock()

    def _report_unmerged(self) -> None:
        """Review answers on disk that no round counted (they came after the last round ran, without waiting)."""
        review, records = self.settings.review, self.run.records()
        if not review.active or review.wait or not records:
            return
        last = records[-1]["round"]
        n = unmerged(self.run.root, self.run.round_dir(last), last, self.vocab, self.settings.labels.labels)
        if n:
            self.log("%d review answers came after round %d and no round counts them: run more rounds "
                     "(--rounds) to merge them", n, last)

    def _prepare_transfer(self) -> None:
        """With ``loop.transfer_langs``: the run's transfer sample (``transfer.spacy``, ``transfer.json``), once."""
        s = self.settings
        if not s.transfer_langs or (self.run.root / "transfer.json").exists():
            return
        record = prepare_transfer(self.run.root / "transfer.spacy", s.transfer_langs, s.lang,
                                  pool_texts(self.sentences.train_docs), s.corpus.parent, s.transfer_max, s.seed)
        write_json(self.run.root / "transfer.json", record)
        self.log("transfer: %d gold sentences of %s join every round's training (never dev, never counted)",
                 record["sentences"], ", ".join(record["langs"]))

    def _train_path(self, rd: Path) -> Path:
        """The round's training data: its own train split, and the transfer sample when there is one (with
        ``loop.transfer_ratio``, the sample's first ``ratio x`` the round's train sentences)."""
        s = self.settings
        if not s.transfer_langs:
            return rd / "train.spacy"
        transfer = self.run.root / "transfer.spacy"
        if s.transfer_ratio:
            n = math.ceil(s.transfer_ratio * len(load_docs(rd / "train.spacy", self.vocab)))
            transfer = write_prefix(transfer, rd / "transfer-part.spacy", n, self.vocab)
        folder = training_folder(rd / "train-with-transfer", [rd / "train.spacy", transfer])
        if transfer.parent == rd:
            transfer.unlink()
        return folder

    def _prepare_annotator(self) -> None:
        """Write the gold seed as Prodigy JSONL (the k-shot source) and hand the run's context to the annotator.

        A seed the annotator labels itself gives no examples: the annotator works zero-shot.
        """
        seed_path = self.run.root / "seed.jsonl"
        if not seed_path.exists():
            gold = [] if self.sentences.seed_by_annotator else self.sentences.labelled(0)
            write_jsonl(seed_path, (doc_to_task(doc) for doc in gold))
        s = self.settings
        self.annotator.prepare(AnnotationContext(self.run.root, seed_path, s.lang, labels=s.labels,
                                                 language=s.language))

    def _audit(self) -> None:
        """Before round 1: the annotator labels the gold seed (``loop.audit``) and is scored on it (``audit.json``);
        the label policy learns which types it distrusts. A run whose round 1 had begun before audits existed, an
        oracle and a run without a gold seed have none."""
        s, root = self.settings, self.run.root
        can = s.audit is not None and not self.annotator.gives_gold and not self.sentences.seed_by_annotator
        audit = None
        started = any((self.run.round_dir(1) / name).exists() for name in ("selection.json", "annotations.jsonl"))
        if (root / AUDIT_FILE).exists() or (can and not started and s.rounds > 0):
            audit = run_audit(root, self.annotator, self.sentences.labelled(0), s.audit or 0, s.seed,
                              list(s.labels.labels), list(s.labels.tagset), progress=self.progress)
        policy = s.label_policy
        if audit is None and policy.needs_audit and not self.annotator.gives_gold:
            self.log("label policy '%s' treats the types the audit finds unreliable apart, but this run has no "
                     "audit (loop.audit, or no gold seed): every type is treated alike", policy.name)
        self._use_audit(audit)

    def _use_audit(self, audit: Optional[Dict[str, Any]]) -> None:
        """The label policy learns which types the audit found unreliable; ``loop.json`` gets its summary."""
        policy = self.settings.label_policy
        unreliable = unreliable_types(audit, policy.min_precision) if audit else None
        self.sentences.set_audit(unreliable)
        if audit:
            self.audit = {**{k: audit[k] for k in ("sentences", "ents_p", "ents_r", "ents_f", "token_accuracy")},
                          "per_type": {t: {k: v[k] for k in ("p", "p_ci", "r", "r_ci", "n_gold", "n_pred")}
                                       for t, v in audit["per_type"].items()},
                          "unreliable": unreliable, "cost_usd": (audit.get("usage") or {}).get("cost_usd")}
            self.log("audit on %d gold sentences: entity F1 %.1f; unreliable types (precision below %.2f): %s",
                     audit["sentences"], 100 * (audit["ents_f"] or 0.0), policy.min_precision,
                     ", ".join(unreliable or []) or "none")

    def _judge(self, k: int) -> None:
        """With a label policy that reads it: round ``k``'s answers judged by round ``k-1``'s model (the one that
        chose them, never trained on them), saved as ``judged.jsonl``. With ``rejudge``, every answer so far: the
        earlier ones by a model that was taught what the policy kept of them (and nothing where it made them
        missing), so it is no independent judge of those; it can re-admit what an earlier model doubted."""
        path = self.run.round_dir(k) / JUDGED
        review = self.settings.review
        needed = self.settings.label_policy.needs_judge or (review.active and review.rank != "random")
        if k == 0 or path.exists() or not needed or self.annotator.gives_gold:
            return
        if self.sentences.seed_by_annotator:  # a learner taught only by the annotator would echo its errors
            self.log("round %d: no gold seed, so the learner knows only the annotator's labels and its disagreement "
                     "is no evidence: label policy '%s' keeps the answers as they are (no judge)", k,
                     self.settings.label_policy.name)
            return
        first = self.sentences.first_annotated_round() if self.settings.label_policy.rejudge else k
        answers = [a for j in range(first, k + 1) for a in self.sentences.annotations(j)
                   if a.source not in GOLD_SOURCES]
        nlp = spacy.load(self.run.round_dir(k - 1) / "model")
        words = [[t.text for t in self.sentences.by_id[a.id]] for a in answers]
        records = judge(nlp, [a.id for a in answers], words, [a.tags or [] for a in answers])
        write_jsonl(path, records)

    def _review(self, k: int) -> Optional[Dict[str, Any]]:
        """With a review budget: round ``k``'s most doubtful answers go to a person as Prodigy tasks, and the answers
        so far are frozen for the round (:mod:`.reviewing`); None without review. Raises
        :class:`..errors.ReviewPending` while a waiting run's tasks are unanswered."""
        review, root = self.settings.review, self.run.root
        if not review.active or self.annotator.gives_gold:
            return None
        by_id = self.sentences.by_id
        ranked = replace(review, rank="random") if k == 0 else review  # round 0: a fair sample, the audit's gold
        n = write_review_tasks(root, k, ranked, self.sentences.annotations(k), by_id, self.sentences.judgements(k),
                               self.sentences.distrusted, self.settings.seed, self.vocab, self.sentences.policy,
                               self.sentences.unreliable)
        if review.simulated:
            simulate_answers(root, k, by_id, self.vocab, self.settings.info.pool_labelled)
        result = collect(root, self.run.round_dir(k), k, review, self.vocab, self.settings.labels.labels,
                         previous=self.run.round_dir(k - 1) if k > 0 else None)
        self.log("round %d/%d: review (%s, %s reviewer): %d tasks, %d answered (%d changed by the reviewer, %d "
                 "rejected); %d late answers of earlier rounds", k, self.settings.rounds, review.rank,
                 "SIMULATED" if review.simulated else review.reviewer, n, result["answered"], result["changed"],
                 result["rejected"], result["late_from_earlier_rounds"])
        return result

    def _audit_from_review(self, k: int) -> None:
        """A run without a gold seed, with review: the seed answers a person accepted (round 0's tasks, a random
        draw; counted by round ``k``, so late ones too) are the audit's gold, so the annotator is measured and the
        label policy can distrust types from then on."""
        s, path = self.settings, self.run.root / AUDIT_FILE
        if path.exists() or s.audit is None:
            return
        records = [r for r in reviewed(self.run.round_dir(k)).values() if r["round"] == 0 and r["answer"] == "accept"]
        if not records:
            return
        audit = audit_labels([r["tags"] for r in records], [r["llm_tags"] for r in records], list(s.labels.labels))
        audit.update({"annotator": self.annotator.name, "requested": len(records), "unanswered": 0, "usage": None,
                      "gold": "review: seed sentences a person reviewed in round 0 (a random draw)"})
        write_json(path, audit)
        self._use_audit(audit)

    # -- one round ------------------------------------------------------------------------------
    def _round(self, k: int) -> None:
        rd = self.run.round_dir(k)
        rd.mkdir(parents=True, exist_ok=True)
        timings = Timings(rd / "timings.json")
        annotation = None
        if k > 0 or self.sentences.seed_by_annotator:
            selection = self._select(k, timings) if k > 0 else self._seed_selection()
            annotation = self._annotate(k, selection, timings)
            if annotation.pop("added"):
                _remove_derived(rd)  # written before these answers came (e.g. a resume with a raised budget)
            self._judge(k)
            review = self._review(k)
            if review is not None:
                annotation["review"] = review
                if self.sentences.seed_by_annotator:  # no gold seed: the person's answers on the seed, the audit's gold
                    self._audit_from_review(k)
        labelled = self.sentences.labelled(k)
        if not labelled:
            raise LoopError(f"{rd}: round {k} has no labelled sentence to train on (the annotator answered none)")
        dev_path = self._write_labelled(rd, labelled)
        model = rd / "model"
        if not model.exists():
            n_dev = sum(get_meta(doc).get(LEARNER_SPLIT) == "dev" for doc in labelled)
            self.log("round %d/%d: training on %d sentences (dev: %s)", k, self.settings.rounds,
                     len(labelled) - n_dev, "the gold dev split (oracle)" if not n_dev else
                     f"{n_dev} of the gold seed" if self.settings.dev == "seed" else f"{n_dev} of the labelled")
            with timings.measure("train"):
                train_path = self._train_path(rd)
                overrides = without_committee(self.learner_overrides) if self.committee else self.learner_overrides
                train_pipeline(self.settings.learner_config, model, train_path=train_path, dev_path=dev_path,
                               seed=self.settings.seed, gpu_id=self.settings.gpu_id,
                               overrides=overrides, log_path=rd / "train.log", echo=self.progress,
                               init_from=self._warm_start_from(k))
                if train_path.is_dir():  # copies made for the learner: the round keeps its own train.spacy
                    shutil.rmtree(train_path)
        if self.committee:  # the uncertainty estimator's other learners, each on a bootstrap resample
            with timings.measure("train_committee"):
                members = train_committee(self.settings.learner_config, model, size=self.committee,
                                          train_path=rd / "train.spacy", dev_path=dev_path, seed=self.settings.seed,
                                          gpu_id=self.settings.gpu_id, overrides=self.learner_overrides,
                                          log_dir=rd)
            if members:
                self.log("round %d/%d: trained %d committee members (%.0fs)", k, self.settings.rounds, len(members),
                         sum(m["seconds"] for m in members))
        with timings.measure("evaluate"):
            calibration = calibrate_pipeline(model, dev_path)  # on the learner's own dev data, once
            scores = self._evaluate(model)
        record = self._record(k, labelled, scores, annotation, timings, model)
        record["calibration"] = calibration.get("calibration")
        write_json(self.run.record_path(k), record)
        test = "no test data" if record["test"] is None else f"test entity F1 {100 * record['test']['ents_f']:.2f}"
        self.log("round %d/%d: %d labelled sentences (%d annotated; learner dev: %s), %s (train %.0fs)", k,
                 self.settings.rounds, record["n_labelled"], record["n_annotated"],
                 record["learner_dev"]["n"] or "the gold dev split", test, timings.data.get("train", 0.0))

    def _warm_start_from(self, k: int) -> Optional[Path]:
        """With ``loop.warm_start``, round ``k >= 1`` continues from round ``k-1``'s model; else None (retrain)."""
        return self.run.round_dir(k - 1) / "model" if self.settings.warm_start and k > 0 else None

    def _seed_selection(self) -> Dict[str, Any]:
        """Round 0's request when the annotator labels the seed: the seed sentences, saved like a selection."""
        path = self.run.round_dir(0) / "selection.json"
        if not path.exists():
            ids = self.sentences.seed_ids()
            write_json(path, {"round": 0, "strategy": f"seed:{self.sampler.name}",
                              "n_pool": len(self.sentences.train_docs),
                              "selected": [{"id": sid, "score": None} for sid in ids]})
            self.log("round 0: the seed (%d sentences drawn from the pool by '%s') goes to '%s' to be labelled",
                     len(ids), self.sampler.name, self.annotator.name)
        return srsly.read_json(path)

    def _select(self, k: int, timings: Timings) -> Dict[str, Any]:
        rd = self.run.round_dir(k)
        path = rd / "selection.json"
        if path.exists():
            data = srsly.read_json(path)
            self.sentences.prefetch(item["id"] for item in data["selected"])
            return data
        whole = self.sentences.pool(k)
        chosen = subsample_indices(len(whole), self.settings.subsample, self.settings.seed * 1000 + k)
        streamed = isinstance(whole, PoolView)  # a sharded pool: scores are read back one by one, no Docs held
        pool: Sequence[Doc]
        if streamed:
            assert isinstance(whole, PoolView)
            pool = whole if chosen is None else whole.subset(chosen)
        else:
            pool = [bare_copy(whole[i]) for i in (range(len(whole)) if chosen is None else chosen)]
        scores = rd / "scores.jsonl"
        drop_leftover_parts(scores)
        if self.strategy.needs_model:
            if not scores.exists() or not vectors_path(scores).exists():  # runs scored before vectors were kept
                processes = scoring_processes(self.settings.score_processes, len(pool))
                with timings.measure("score"):
                    score_pool(self.run.round_dir(k - 1) / "model", pool, scores, progress=self.progress,
                               n_process=processes, cluster=self.settings.score_cluster)
                where = (f"on the Dask cluster {self.settings.score_cluster}" if self.settings.score_cluster
                         else f"in {processes} process{'' if processes == 1 else 'es'}")
                self.log("round %d/%d: scored %d pool sentences in %.1fs %s", k, self.settings.rounds, len(pool),
                         timings.data["score"], where)
            if not streamed:
                attach_scores(pool, scores)
        if isinstance(self.strategy, UsesAudit):  # a strategy that weighs the annotator's expected label quality
            audit = self.run.root / AUDIT_FILE
            self.strategy.use_audit(srsly.read_json(audit) if audit.exists() else None)
        with timings.measure("select"):
            reference = self.sentences.reference_size()
            seed = self.settings.seed * 1000 + k
            if streamed:
                assert isinstance(pool, PoolView) and isinstance(self.strategy, SelectsFromScores)
                lengths = pool.n_tokens()
                ids = [pool.id(i) for i in range(len(pool))]
                records = _in_pool_order(scores, ids) if self.strategy.needs_model else iter(())
                selection = self.strategy.select_scores(
                    records, lengths, self.settings.query_size, reference_size=reference, seed=seed,
                    vectors=saved_vectors(scores) if self.strategy.needs_model else None)
            else:
                selection = self.strategy(pool, self.settings.query_size, reference_size=reference, seed=seed)
                ids, lengths = [sentence_id(doc) for doc in pool], [len(doc) for doc in pool]
            data = selection_record(k, ids, lengths, selection, self.sentences.taken(k),
                                    str(self.settings.query_size))
        if self.settings.subsample is not None:  # the strategy saw a random part of the pool
            data.update({"n_pool": len(whole), "n_candidates": len(pool), "subsample": str(self.settings.subsample)})
        write_json(path, data)
        self.sentences.prefetch(item["id"] for item in data["selected"])
        top = ", ".join(f"{item['id']} ({item['score']:.3f})" for item in data["selected"][:3])
        self.log("round %d/%d: selected %d of %d pool sentences with '%s'; top: %s", k, self.settings.rounds,
                 len(data["selected"]), len(pool), self.strategy.name, top)
        return data

    def _annotate(self, k: int, selection: Dict[str, Any], timings: Timings) -> Dict[str, Any]:
        log = JsonlLog(self.run.round_dir(k) / "annotations.jsonl")
        wanted = [item["id"] for item in selection["selected"]]
        by_id = self.sentences.by_id
        self.annotator.begin_round(k)
        done = {record["id"] for record in log}
        todo = [sid for sid in wanted if sid not in done]
        added = False
        estimate = self._estimate(k, todo)
        if todo:
            self.log("round %d/%d: requesting %d annotations from '%s' (%d already on disk)", k,
                     self.settings.rounds, len(todo), self.annotator.name, len(wanted) - len(todo))
            with timings.measure("annotate"):
                unanswered = annotate(self.annotator, log, wanted, by_id, progress=self.progress, round_k=k,
                                      tagset=self.settings.labels.tagset, done=done)
            added = len(unanswered) < len(set(todo))
            check_unanswered(self.annotator, unanswered)
            if unanswered:
                self.log("round %d/%d: the annotation budget is spent; %d selected sentences stay unlabelled, "
                         "training on what there is", k, self.settings.rounds, len(unanswered))
        summary = annotation_summary(wanted, log, by_id)
        usage = self.annotator.usage(k)
        if usage:
            summary["usage"] = usage
        if estimate:
            summary["estimate"] = estimate
        summary["added"] = added  # popped by the caller: not part of the record
        return summary

    def _estimate(self, k: int, ids: List[str]) -> Optional[Dict[str, Any]]:
        """Log what asking for ``ids`` should cost (an annotator that can say), before anything is sent."""
        estimate = getattr(self.annotator, "estimate", None)
        if estimate is None or not ids:
            return None
        result = estimate([AnnotationRequest(sid, [t.text for t in self.sentences.by_id[sid]]) for sid in ids])
        cost = "unpriced" if result["cost_usd"] is None else f"${result['cost_usd']:.2f}"
        self.log("round %d/%d: estimate for %d sentences: %d input + %d output tokens, %s (before any cache hit)",
                 k, self.settings.rounds, len(ids), result["input_tokens"], result["output_tokens"], cost)
        return result

    def _write_labelled(self, rd: Path, docs: List[Doc]) -> Path:
        """Write the round's labelled set (JSONL), the learner's train and dev DocBins; return the dev path."""
        if not (rd / "labelled.jsonl").exists():
            write_jsonl(rd / "labelled.jsonl", (doc_to_task(doc) for doc in docs))
        train = [doc for doc in docs if get_meta(doc).get(LEARNER_SPLIT) != "dev"]
        weight = self.settings.label_policy.gold_weight  # gold (and reviewed) sentences this many times, beside answers
        gold = [doc for doc in train if get_meta(doc).get("source") in GOLD_SOURCES]
        train += gold * (weight - 1) if len(gold) < len(train) else []
        dev = [doc for doc in docs if get_meta(doc).get(LEARNER_SPLIT) == "dev"]
        for name, part in (("train.spacy", train), ("dev.spacy", dev)):
            if part and not (rd / name).exists():
                with atomic_path(rd / name) as tmp:
                    DocBin(docs=part, store_user_data=True).to_disk(tmp)
        if self.settings.dev == "oracle":
            return self.settings.corpus / "dev.spacy"
        if not dev:
            raise LoopError(f"{rd}: {len(docs)} labelled sentences are too few to hold any out as the learner's dev "
                            "data; label more seed sentences or use --loop.dev oracle")
        return rd / "dev.spacy"

    def _evaluate(self, model: Path) -> Dict[str, Optional[Dict[str, Any]]]:
        """Scores on the corpus's gold dev and test splits; None for a split the corpus does not have."""
        nlp = spacy.load(model)
        paths = {split: self.settings.corpus / f"{split}.spacy" for split in ("dev", "test")}
        optional = self.settings.info.own  # a corpus of one's own may have no gold dev or test; MasakhaNER has both
        return {split: evaluate_nlp(nlp, load_docs(path, nlp.vocab)) if path.exists() or not optional else None
                for split, path in paths.items()}

    def _record(self, k: int, labelled: List[Doc], scores: Dict[str, Any], annotation: Optional[Dict[str, Any]],
                timings: Timings, model: Path) -> Dict[str, Any]:
        n_gold = self.sentences.n_gold()
        n_dev = sum(get_meta(doc).get(LEARNER_SPLIT) == "dev" for doc in labelled)
        training = Config().from_disk(model / "config.cfg", interpolate=False)["training"]
        log = model.parent / "train.log"
        summary = training_summary(log, training) if log.exists() else {}
        taught = taught_quality([(doc, self.sentences.by_id[sentence_id(doc)]) for doc in labelled
                                 if get_meta(doc).get("source") not in GOLD_SOURCES
                                 and get_meta(self.sentences.by_id[sentence_id(doc)]).get("labelled", True)],
                                round_k=k, policy=self.settings.label_policy.name)
        return {"round": k, "n_gold": n_gold, "n_annotated": len(labelled) - n_gold, "n_labelled": len(labelled),
                "n_train": len(labelled) - n_dev, "taught": taught,
                "learner_dev": {"source": self.settings.dev, "n": n_dev if n_dev else None,
                                "best_score": summary.get("best_score"), "best_step": summary.get("best_step"),
                                "last_step": summary.get("last_step"), "stopped_by": summary.get("stopped_by")},
                "test": _reported(scores["test"]), "dev": _reported(scores["dev"]),
                "review": (annotation or {}).pop("review", None),
                "annotation": annotation, "seconds": timings.rounded(), "environment": environment(),
                **({"n_transfer": self._transfer()["sentences"]} if self.settings.transfer_langs else {})}

    def _write_loop_json(self) -> None:
        s = self.settings
        write_json(self.run.loop_json, {
            "lang": s.lang, "annotator": self.annotator.name, "strategy": self.strategy.name, "seed": s.seed,
            "query_size": str(s.query_size), "seed_set": self.sampler.name, "learner_config": str(s.learner_config),
            "learner": learner_name(s.learner_config), "estimator": self.estimator, "warm_start": s.warm_start,
            "dev": s.dev, "dev_share": s.dev_share, "dev_min": s.dev_min, "run": self.name,
            "seed_source": "annotator" if self.sentences.seed_by_annotator else "gold",
            "labels": list(s.labels.labels), "transfer": self._transfer() if s.transfer_langs else None,
            "init_tok2vec": self._identity_extra().get("init_tok2vec"), "corpus": str(s.corpus),
            "label_policy": s.label_policy.identity(), "distrusted": list(self.sentences.distrusted),
            "review": s.review.to_dict() if s.review.active and not self.annotator.gives_gold else None,
            "audit": self.audit,
            "rounds": self.run.records()})

    def _transfer(self) -> Dict[str, Any]:
        return srsly.read_json(self.run.root / "transfer.json")


def _reported(scores: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The record's part of a split's scores; None (not available, never zero) without that gold split."""
    return None if scores is None else {key: scores.get(key) for key in REPORTED}


def _remove_derived(rd: Path) -> None:
    """Delete what a round derived from its annotations (labelled set, learner files, model) so it is rebuilt."""
    for name in ("labelled.jsonl", "train.spacy", "dev.spacy", JUDGED, REVIEWED):
        (rd / name).unlink(missing_ok=True)
    if (rd / "model").exists():
        shutil.rmtree(rd / "model")
