"""Reference learners: the fixed learners whose probabilities make a gold entity hard or easy (:mod:`.hardness`).

A loop's learner starts from a seed of a few hundred gold sentences, so the reference is a learner of that size:
the CNN of ``configs/learner-cnn.cfg`` with the project's default schedule, on :data:`SEED_SIZE` random gold train
sentences, early-stopped on the gold dev split. A learner's probability of a sentence it trained on says nothing
about hardness, so there are :data:`N_REFERENCES` of them on *disjoint* samples and every sentence is scored by
the ones that did not train on it: a sample's sentences by the other learner, every other sentence by the mean of
both. Sentences in ``exclude`` (the recorded sentences a profile is fitted on) are in no sample, so the hardness
the profile is fitted with and the hardness a loop's pool is simulated with come from the same two learners.
The reference is fixed: it does not change with the loop's seed or rounds, and never reads the loop's learner.
"""
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union, cast

import numpy as np
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..data.corpus import load_docs
from ..data.docs import doc_tags, make_doc, sentence_id
from ..data.iob import iob_to_spans
from ..errors import InputError
from ..fileio import write_json, write_jsonl
from ..learner.train import train_pipeline
from ..policy.judge import COMPONENT
from ..uncertainty.measures import span_confidences
from .annotate import sentence_key
from .hardness import CANDIDATE_MIN, Span, hardness_bucket, hardness_row

if TYPE_CHECKING:
    from ..uncertainty.component import Uncertainty

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]
SEED_SIZE = 400  # the loop's seed-sized learner (the measurement's "seed" learner)
N_REFERENCES = 2
SAMPLE_SEED = 100  # the samples' seed: not a loop seed (0, 1, ...), so the reference is not a loop's own seed
Sentence = Tuple[Optional[str], List[str], List[str]]  # id, tokens, gold tags


@dataclass(frozen=True)
class Reference:
    """A trained reference learner and the sentence keys it trained on (it never scores those)."""

    path: Path
    trained_on: FrozenSet[str]


def reference_samples(keys: Sequence[str], size: int = SEED_SIZE, n: int = N_REFERENCES, seed: int = SAMPLE_SEED,
                      exclude: Sequence[str] = ()) -> List[List[int]]:
    """``n`` disjoint random samples of ``size`` indices into ``keys`` (sorted), none of them in ``exclude``."""
    excluded = set(exclude)
    eligible = np.array([i for i, key in enumerate(keys) if key not in excluded], dtype=int)
    if len(eligible) < n * size:
        raise InputError(f"{len(eligible)} sentences are too few for {n} disjoint reference samples of {size}")
    chosen = np.random.default_rng(seed).permutation(eligible)[: n * size]
    return [sorted(int(i) for i in chosen[k * size:(k + 1) * size]) for k in range(n)]


def _write_docs(docs: Sequence[Doc], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=list(docs), store_user_data=True).to_disk(path)
    return path


def train_references(train: PathLike, dev: PathLike, folder: PathLike, config: PathLike, *,
                     size: int = SEED_SIZE, n: int = N_REFERENCES, seed: int = SAMPLE_SEED,
                     exclude: Sequence[str] = (), overrides: Optional[Dict[str, Any]] = None) -> List[Reference]:
    """Train (or reuse, when ``folder`` holds them for the same samples) the reference learners on disjoint
    samples of the gold ``train`` file, early-stopped on ``dev`` minus ``exclude`` (sentence keys)."""
    folder = Path(folder)
    docs = load_docs(train)
    keys = [sentence_key([t.text for t in doc]) for doc in docs]
    samples = reference_samples(keys, size, n, seed, exclude)
    excluded = set(exclude)
    dev_docs = [d for d in load_docs(dev) if sentence_key([t.text for t in d]) not in excluded]
    dev_path = _write_docs(dev_docs, folder / "data" / "dev.spacy")
    references = []
    for k, sample in enumerate(samples):
        model = folder / f"ref-{k}"
        record = folder / f"ref-{k}.json"
        ids = [keys[i] for i in sample]
        saved = srsly.read_json(record) if record.exists() else {}
        if not ((model / "meta.json").exists() and saved.get("trained_on") == ids):
            train_path = _write_docs([docs[i] for i in sample], folder / "data" / f"ref-{k}.spacy")
            logger.info("training reference learner %s on %s sentences", k, len(sample))
            info = train_pipeline(config, model, train_path=train_path, dev_path=dev_path, seed=k,
                                  overrides=overrides, log_path=folder / f"ref-{k}.log")
            write_json(record, {"config": str(config), "seed": k, "sample_seed": seed, "size": size,
                                "train": str(train), "dev": str(dev), "excluded": len(excluded), **info,
                                "trained_on": ids})
        references.append(Reference(model, frozenset(ids)))
    return references


def span_probabilities(nlp: Language, words: Sequence[Sequence[str]], batch_size: int = 128) -> List[Dict]:
    """Per sentence, every span in the learner's parses with its probability: the share of the uncertainty
    component's parses that contain it (what :func:`..policy.judge.judge` gives a span)."""
    unc = cast("Uncertainty", nlp.get_pipe(COMPONENT))  # spaCy types every component as a bare callable
    out: List[Dict] = []
    for start in range(0, len(words), batch_size):
        docs = [make_doc(nlp.vocab, list(w)) for w in words[start:start + batch_size]]
        docs = list(nlp.pipe(docs, disable=[COMPONENT]))
        for output in unc.predict(docs):
            spans = list(dict.fromkeys(cast(Span, tuple(e)) for _, ents in output.parses for e in ents))
            out.append(dict(zip(spans, span_confidences(output.parses, spans))))
    return out


def score_sentences(references: Sequence[Reference], sentences: Sequence[Sentence]) -> List[Dict[str, Any]]:
    """Hardness rows (:func:`.hardness.hardness_row`): each sentence's gold entities and candidate spans, p the
    mean over the references that did not train on it."""
    keys = [sentence_key(tokens) for _, tokens, _ in sentences]
    per_ref = []
    for ref in references:
        todo = [i for i, key in enumerate(keys) if key not in ref.trained_on]
        probs = span_probabilities(spacy.load(ref.path), [sentences[i][1] for i in todo])
        per_ref.append(dict(zip(todo, probs)))
    rows = []
    for i, (sid, tokens, tags) in enumerate(sentences):
        scored = [probs[i] for probs in per_ref if i in probs]
        if not scored:
            raise InputError(f"sentence {sid or i} is in every reference learner's sample: nothing can score it")
        mean = {span: sum(p.get(span, 0.0) for p in scored) / len(scored) for span in set().union(*scored)}
        gold = iob_to_spans(list(tags))
        entities = [(*span, mean.get(span, 0.0)) for span in gold]
        candidates = sorted(((*span, p) for span, p in mean.items() if span not in gold and p >= CANDIDATE_MIN),
                            key=lambda c: (-c[3], c[:3]))
        rows.append(hardness_row(tokens, entities, candidates, sid))
    return rows


def corpus_sentences(path: PathLike) -> List[Sentence]:
    """``(id, tokens, gold tags)`` of a gold corpus file (the loop's pool: ``corpus/<lang>/train.spacy``)."""
    out: List[Sentence] = []
    for i, doc in enumerate(load_docs(path)):
        try:
            sid: Optional[str] = sentence_id(doc)
        except KeyError:
            sid = f"{Path(path).stem}-{i}"
        out.append((sid, [t.text for t in doc], doc_tags(doc)))
    return out


def write_hardness_file(train: PathLike, dev: PathLike, output: PathLike, config: PathLike, *,
                        folder: Optional[PathLike] = None, size: int = SEED_SIZE, seed: int = SAMPLE_SEED,
                        exclude: Sequence[str] = (), overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train (or reuse) the reference learners in ``folder`` (default: beside ``output``) and write the hardness
    file of every sentence of ``train`` to ``output``; returns a summary (sentences, entities, share hard)."""
    output = Path(output)
    folder = Path(folder) if folder else output.parent / "reference"
    references = train_references(train, dev, folder, config, size=size, seed=seed, exclude=exclude,
                                  overrides=overrides)
    rows = score_sentences(references, corpus_sentences(train))
    write_jsonl(output, rows)
    ps = [e[3] for row in rows for e in row["entities"]]
    summary = {"output": str(output), "sentences": len(rows), "entities": len(ps),
               "buckets": dict(Counter(hardness_bucket(p) for p in ps)),
               "references": [str(r.path) for r in references], "excluded": len(set(exclude))}
    write_json(output.with_suffix(".meta.json"), summary)
    return summary
