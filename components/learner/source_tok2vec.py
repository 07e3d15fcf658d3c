"""Sequential transfer: the learner's tok2vec trained on other languages' gold NER, and every round starting
from it.

Mixing other languages' sentences into every round's training (:mod:`.transfer`) teaches the learner's NER
head the sources' habits as much as the target's. This is the other schedule: a **source pipeline** (the
learner config: tok2vec + ner) is trained once on the source languages' gold **train** splits, early-stopped
on their own **dev** splits, so no label of the target is read; only its ``tok2vec`` weights are kept, written
as spaCy's ``pretrain`` writes its weights. Every round then starts from them through the same
``paths.init_tok2vec`` as pretraining on the pool (``--init-tok2vec`` on the loop, ``--vars.init_tok2vec``
in the project), and its NER head learns from the target's labelled sentences alone. Because only the
tok2vec is kept, the target's label set may differ from the sources'.

``auto`` picks the sources as :func:`.transfer.resolve_sources` does (character trigrams of the target's
pool). The schedule defaults to the full-data baseline's (:data:`SOURCE_SCHEDULE`), not the per-round cap.
"""
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import spacy

from ..data.corpus import load_docs
from ..fileio import atomic_path, write_json
from .pretrain import WEIGHTS
from .train import train_pipeline
from .transfer import resolve_sources, source_docs, training_folder

PathLike = Union[str, Path]
SOURCE_SCHEDULE = {"training.max_steps": 20000, "training.patience": 1600, "training.eval_frequency": 200}


def train_source_tok2vec(corpus: PathLike, learner_config: PathLike, output: PathLike, langs: Sequence[str], *,
                         seed: int = 0, gpu_id: int = -1,
                         overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train the source pipeline on ``langs`` (or ``("auto",)``) and write its tok2vec to
    ``<output>/weights/model-last.bin``, the source pipeline to ``<output>/model`` and the record (sources,
    ``auto``'s scores, sentences, the sources' dev F1, seconds, the loop's flag) to ``<output>/pretrain.json``;
    return the record."""
    corpus, output = Path(corpus), Path(output)
    target_texts = [doc.text for doc in load_docs(corpus / "train.spacy")]
    chosen, scores = resolve_sources(langs, corpus.name, target_texts, corpus.parent)
    if not chosen:
        raise ValueError("no source language: name some ('xho sna') or use 'auto' with MASAKHANER_DIR set")
    output.mkdir(parents=True, exist_ok=True)
    sentences = {lang: len(source_docs(lang, corpus.parent)) for lang in chosen}  # converted first if needed
    train = training_folder(output / "source-train", [corpus.parent / lang / "train.spacy" for lang in chosen])
    dev = training_folder(output / "source-dev", [corpus.parent / lang / "dev.spacy" for lang in chosen])
    settings = {**SOURCE_SCHEDULE, **(overrides or {})}
    start = time.perf_counter()
    try:
        trained = train_pipeline(learner_config, output / "model", train_path=train, dev_path=dev, seed=seed,
                                 gpu_id=gpu_id, overrides=settings, log_path=output / "train.log")
    finally:
        for copies in (train, dev):  # made for the trainer
            shutil.rmtree(copies, ignore_errors=True)
    weights = output / "weights" / WEIGHTS
    weights.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(weights) as tmp:
        tmp.write_bytes(spacy.load(output / "model").get_pipe("tok2vec").model.to_bytes())
    record = {"objective": "ner-transfer", "corpus": str(corpus), "requested": list(langs), "langs": list(chosen),
              "auto_scores": scores, "sentences": sentences, "seed": seed, "overrides": settings,
              "source_dev_ents_f": trained["dev_score"], "seconds": round(time.perf_counter() - start, 1),
              "weights": str(weights), "loop_flag": f"--init-tok2vec {weights}"}
    write_json(output / "pretrain.json", record)
    return record
