"""The full-data baseline: the learner trained on all gold train data, evaluated on test."""
from pathlib import Path
from typing import Any, Dict, Optional, Union

from thinc.api import Config

from .environment import environment
from .evaluation.evaluate import evaluate_model
from .fileio import write_json
from .learner.progress import training_summary
from .learner.train import train_pipeline

PathLike = Union[str, Path]


def train_full(corpus: PathLike, config: PathLike, output: PathLike, *, seed: int = 0, gpu_id: int = -1,
               overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train on ``<corpus>/train.spacy``, save ``<output>/model`` and ``<output>/metrics.json``; return the metrics.

    The metrics say which schedule the saved pipeline was trained with (read back from its own config) and
    whether the schedule's cap stopped it (``training.stopped_by == "max_steps"``: maybe not converged).
    """
    corpus, output = Path(corpus), Path(output)
    output.mkdir(parents=True, exist_ok=True)
    trained = train_pipeline(config, output / "model", train_path=corpus / "train.spacy",
                             dev_path=corpus / "dev.spacy", seed=seed, gpu_id=gpu_id, overrides=overrides,
                             log_path=output / "train.log")
    training = Config().from_disk(output / "model" / "config.cfg", interpolate=False)["training"]
    metrics = {"kind": "full-data", "seed": seed, "config": str(config), "train_seconds": trained["seconds"],
               "overrides": dict(overrides or {}),
               "schedule": {key: training[key] for key in ("max_steps", "patience", "eval_frequency")},
               "training": training_summary(output / "train.log", training), "environment": environment(),
               "test": evaluate_model(output / "model", corpus / "test.spacy", gpu_id),
               "dev": evaluate_model(output / "model", corpus / "dev.spacy", gpu_id)}
    write_json(output / "metrics.json", metrics)
    return metrics
