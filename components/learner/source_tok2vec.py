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
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union, cast

import spacy
from spacy.pipeline import TrainablePipe
from spacy.util import load_config

from ..data.corpus import load_docs
from ..fileio import TMP_MARK, atomic_path, write_json
from .pretrain import WEIGHTS
from .train import train_pipeline
from .transfer import resolve_sources, source_docs, training_folder

PathLike = Union[str, Path]
SOURCE_SCHEDULE = {"training.max_steps": 20000, "training.patience": 1600, "training.eval_frequency": 200}


def check_learner_config(learner_config: PathLike, overrides: Optional[Dict[str, Any]] = None) -> None:
    """Refuse, before any training, a learner config whose tok2vec the loop could not start from: no ``tok2vec``
    component (the transformer learner), or a ``[pretraining]`` block that loads weights into another component
    or into one layer only (the weights written here are the whole tok2vec)."""
    config = load_config(learner_config, overrides=dict(overrides or {}), interpolate=False)
    if "tok2vec" not in config["nlp"]["pipeline"]:
        raise ValueError(f"{learner_config}: no 'tok2vec' component in its pipeline {config['nlp']['pipeline']}; "
                         "--ner-from trains the CNN learner's tok2vec (configs/learner-cnn.cfg)")
    block = config.get("pretraining") or {}
    if block and (block.get("component", "tok2vec") != "tok2vec" or block.get("layer", "")):
        raise ValueError(f"{learner_config}: its [pretraining] block loads weights into component "
                         f"'{block.get('component')}', layer '{block.get('layer')}'; the weights --ner-from writes "
                         "are the whole 'tok2vec' component's (component = \"tok2vec\", layer = \"\")")


def check_ner_from(epochs: Optional[int], extra_langs: Sequence[str]) -> None:
    """Refuse the ``pretrain`` options that belong to the characters objective, not to ``--ner-from``: they would
    be ignored, which is said rather than done silently."""
    if epochs is not None:
        raise ValueError("--epochs counts passes of the characters objective over the pool text; --ner-from "
                         "trains until the sources' dev score stops improving (--training.max_steps, "
                         "--training.patience): drop --epochs")
    if extra_langs:
        raise ValueError("--extra-langs adds pool text to the characters objective; --ner-from trains on the "
                         "sources' labelled data: give one of them")


def source_splits(langs: Sequence[str], corpus_root: Path) -> Dict[str, int]:
    """Each source's train sentences, its splits converted first if needed; a missing train or dev split (early
    stopping reads the sources' dev) is refused, naming the source and the file."""
    sentences = {}
    for lang in langs:
        sentences[lang] = len(source_docs(lang, corpus_root))
        dev = corpus_root / lang / "dev.spacy"
        if not dev.exists():
            raise ValueError(f"source language '{lang}' has no dev split ({dev}): the source pipeline is "
                             "early-stopped on the sources' own dev data")
    return sentences


def train_source_tok2vec(corpus: PathLike, learner_config: PathLike, output: PathLike, langs: Sequence[str], *,
                         seed: int = 0, gpu_id: int = -1,
                         overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train the source pipeline on ``langs`` (or ``("auto",)``) and write its tok2vec to
    ``<output>/weights/model-last.bin``, the source pipeline to ``<output>/model`` and the record (sources,
    ``auto``'s scores, sentences, the sources' dev F1, seconds, the loop's flag) to ``<output>/pretrain.json``,
    last (the mark of a finished run); return the record. Every check runs before the training; a rerun into the
    same ``output`` replaces what an earlier one wrote (its ``pretrain.json`` goes first), and an interrupted one
    leaves no ``pretrain.json`` and at most a work folder marked for cleanup."""
    corpus, output = Path(corpus), Path(output)
    settings = {**SOURCE_SCHEDULE, **(overrides or {})}
    check_learner_config(learner_config, settings)
    target_texts = [doc.text for doc in load_docs(corpus / "train.spacy")]
    chosen, scores = resolve_sources(langs, corpus.name, target_texts, corpus.parent)
    if not chosen:
        raise ValueError(f"'auto' found no MasakhaNER language other than '{corpus.name}' under {corpus.parent} or "
                         "MASAKHANER_DIR: set MASAKHANER_DIR, or convert some first and name them ('nya swa')")
    sentences = source_splits(chosen, corpus.parent)
    output.mkdir(parents=True, exist_ok=True)
    (output / "pretrain.json").unlink(missing_ok=True)  # from here on, no record of an earlier run's files
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".source{TMP_MARK}", dir=output) as tmp:  # the trainer's copies
        train = training_folder(Path(tmp) / "train", [corpus.parent / lang / "train.spacy" for lang in chosen])
        dev = training_folder(Path(tmp) / "dev", [corpus.parent / lang / "dev.spacy" for lang in chosen])
        trained = train_pipeline(learner_config, output / "model", train_path=train, dev_path=dev, seed=seed,
                                 gpu_id=gpu_id, overrides=settings, log_path=output / "train.log")
    weights = output / "weights" / WEIGHTS  # train_pipeline replaces an earlier run's model only once trained
    weights.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(weights) as part:
        tok2vec = cast(TrainablePipe, spacy.load(output / "model").get_pipe("tok2vec"))  # a component with weights
        part.write_bytes(tok2vec.model.to_bytes())
    record = {"objective": "ner-transfer", "corpus": str(corpus), "requested": list(langs), "langs": list(chosen),
              "auto_scores": scores, "sentences": sentences, "seed": seed, "overrides": settings,
              "source_dev_ents_f": trained["dev_score"], "seconds": round(time.perf_counter() - start, 1),
              "weights": str(weights), "loop_flag": f"--init-tok2vec {weights}"}
    write_json(output / "pretrain.json", record)
    return record
