"""Pretraining the CNN learner's tok2vec on the unlabelled pool (spaCy's ``pretrain``, characters objective).

Active learning always has the pool's text. ``spacy pretrain`` teaches the learner's ``tok2vec`` to predict
the first and last characters of each word from its context (``spacy.PretrainCharacters.v1``), once per
language; every round then starts from those weights (``--learner.paths.init_tok2vec <output>/model-last.bin``)
instead of random ones. The text is the target's pool (the corpus's train split, its labels unused) and,
optionally, the pool text of other languages (``extra_corpora``); never dev or test text.
"""
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import srsly

from ..data.corpus import load_docs
from ..fileio import atomic_path, write_json

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]
WEIGHTS = "model-last.bin"  # what --learner.paths.init_tok2vec points at


def raw_text(corpora: Sequence[PathLike], path: Path) -> int:
    """Write ``{"text": ...}`` lines from the ``train.spacy`` of each corpus folder to ``path``; return how many."""
    texts: List[str] = []
    for corpus in corpora:
        texts.extend(doc.text for doc in load_docs(Path(corpus) / "train.spacy"))
    with atomic_path(path) as tmp:
        srsly.write_jsonl(tmp, ({"text": text} for text in texts))
    return len(texts)


def pretrain_tok2vec(corpus: PathLike, learner_config: PathLike, output: PathLike, *, epochs: int = 20,
                     seed: int = 0, extra_corpora: Sequence[PathLike] = (),
                     overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Pretrain the learner config's tok2vec on the pool text; write ``<output>/model-last.bin`` and
    ``<output>/pretrain.json`` (what was used, and the command's flag for the loop); return that record."""
    import time

    from spacy.cli.init_config import fill_config
    from spacy.training.pretrain import pretrain
    from spacy.util import load_config

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    n = raw_text([corpus, *extra_corpora], output / "raw_text.jsonl")
    filled = output / "pretrain.cfg"
    fill_config(filled, Path(learner_config), pretraining=True, silent=True)
    settings = {"paths.raw_text": str(output / "raw_text.jsonl"), "pretraining.max_epochs": epochs,
                "system.seed": seed, **(overrides or {})}
    config = load_config(filled, overrides=settings, interpolate=False)
    config.to_disk(filled)
    start = time.perf_counter()
    with atomic_path(output / "weights", is_dir=True) as work:
        work.mkdir(parents=True, exist_ok=True)
        pretrain(config.interpolate(), work, silent=True)
    weights = output / "weights" / WEIGHTS
    record = {"corpus": str(corpus), "extra_corpora": [str(c) for c in extra_corpora], "sentences": n,
              "epochs": epochs, "seed": seed, "seconds": round(time.perf_counter() - start, 1),
              "weights": str(weights), "loop_flag": f"--learner.paths.init_tok2vec {weights}"}
    write_json(output / "pretrain.json", record)
    return record


def pretrain_pool(corpus: PathLike, learner_config: PathLike, output: PathLike, *, epochs: int = 20, seed: int = 0,
                  extra_langs: Sequence[str] = (), overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The ``pretrain`` command's characters route: :func:`pretrain_tok2vec` on the target's pool text and that
    of ``extra_langs``, MasakhaNER languages read from ``corpus``'s sibling folders (converted there first when
    missing)."""
    from .transfer import source_docs

    corpus = Path(corpus)
    for other in extra_langs:
        source_docs(other, corpus.parent)  # converted first if needed
    return pretrain_tok2vec(corpus, learner_config, output, epochs=epochs, seed=seed,
                            extra_corpora=[corpus.parent / other for other in extra_langs], overrides=overrides)
