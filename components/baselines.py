"""The full-data baseline: the learner trained on all gold train data, evaluated on test."""
import shutil
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

from thinc.api import Config

from .data.corpus import load_docs
from .environment import environment
from .evaluation.evaluate import evaluate_model
from .fileio import write_json
from .learner.progress import training_summary
from .learner.train import check_init_tok2vec, train_pipeline
from .learner.transfer import TRANSFER_MAX, prepare_transfer, training_folder

PathLike = Union[str, Path]


def train_full(corpus: PathLike, config: PathLike, output: PathLike, *, seed: int = 0, gpu_id: int = -1,
               overrides: Optional[Dict[str, Any]] = None, transfer_langs: Sequence[str] = (),
               transfer_max: int = TRANSFER_MAX) -> Dict[str, Any]:
    """Train on ``<corpus>/train.spacy``, save ``<output>/model`` and ``<output>/metrics.json``; return the metrics.

    ``transfer_langs``: other languages' gold train data (a sample of ``transfer_max`` each, see
    :mod:`.learner.transfer`) joins the training; dev and test stay the target's.

    The metrics say which schedule the saved pipeline was trained with (read back from its own config) and
    whether the schedule's cap stopped it (``training.stopped_by == "max_steps"``: maybe not converged).
    """
    corpus, output = Path(corpus), Path(output)
    check_init_tok2vec(config, overrides)
    output.mkdir(parents=True, exist_ok=True)
    train_path, transfer = corpus / "train.spacy", None
    if transfer_langs:
        if (corpus / "corpus.json").exists():
            raise ValueError(f"transfer adds MasakhaNER's gold data; {corpus} is a corpus of one's own")
        transfer = prepare_transfer(output / "transfer.spacy", transfer_langs, corpus.name,
                                    [doc.text for doc in load_docs(train_path)], corpus.parent, transfer_max, seed)
        train_path = training_folder(output / "train-with-transfer", [train_path, output / "transfer.spacy"])
    trained = train_pipeline(config, output / "model", train_path=train_path,
                             dev_path=corpus / "dev.spacy", seed=seed, gpu_id=gpu_id, overrides=overrides,
                             log_path=output / "train.log")
    if transfer:
        shutil.rmtree(train_path)  # copies made for the learner
    training = Config().from_disk(output / "model" / "config.cfg", interpolate=False)["training"]
    metrics = {"kind": "full-data", "seed": seed, "config": str(config), "train_seconds": trained["seconds"],
               "overrides": dict(overrides or {}), "transfer": transfer,
               "schedule": {key: training[key] for key in ("max_steps", "patience", "eval_frequency")},
               "training": training_summary(output / "train.log", training), "environment": environment(),
               "test": evaluate_model(output / "model", corpus / "test.spacy", gpu_id),
               "dev": evaluate_model(output / "model", corpus / "dev.spacy", gpu_id)}
    write_json(output / "metrics.json", metrics)
    return metrics


def baseline_name(lang: str, seed: int, transfer_langs: Sequence[str] = ()) -> str:
    """The baseline's folder name under ``baselines/``: ``<lang>-full-seed<k>``, or with transfer languages
    ``<lang>-full-tx-<a>+<b>-seed<k>``, so baselines with and without transfer never share a folder."""
    if not transfer_langs:
        return f"{lang}-full-seed{seed}"
    return f"{lang}-full-tx-{'+'.join(transfer_langs)}-seed{seed}"
