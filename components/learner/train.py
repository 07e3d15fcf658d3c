"""Train a learner pipeline from its config with spaCy's own training loop.

The best model (by the config's score weights on the dev set) is written to
``output_dir`` atomically: an interrupted training leaves nothing there, so a
resumed loop simply trains again.
"""
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

import spacy
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from spacy.util import load_config

from ..fileio import TMP_MARK, atomic_path

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]


def use_device(gpu_id: int) -> None:
    """Run on GPU ``gpu_id`` (requires a GPU), or on CPU when it is negative."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    else:
        spacy.require_cpu()


def train_pipeline(config_path: PathLike, output_dir: PathLike, *, train_path: PathLike, dev_path: PathLike,
                   seed: int = 0, gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None,
                   log_path: Optional[PathLike] = None) -> Dict[str, Any]:
    """Train and save the best model to ``output_dir``; return ``{"seconds", "dev_score", "steps"}``."""
    use_device(gpu_id)
    settings = {"paths.train": str(train_path), "paths.dev": str(dev_path), "system.seed": seed,
                "training.seed": seed, **(overrides or {})}
    config = load_config(config_path, overrides=settings, interpolate=False)
    output_dir = Path(output_dir)
    start = time.perf_counter()
    with atomic_path(output_dir) as target, tempfile.TemporaryDirectory(prefix=f".train{TMP_MARK}", dir=output_dir.parent) as work:
        nlp = init_nlp(config, use_gpu=gpu_id)
        log = Path(log_path).open("w", encoding="utf-8") if log_path else None
        try:
            train_nlp(nlp, Path(work), use_gpu=gpu_id, stdout=log or _Null(), stderr=log or _Null())
        finally:
            if log:
                log.close()
        shutil.move(str(Path(work) / "model-best"), str(target))
    meta = spacy.util.load_meta(output_dir / "meta.json")
    return {"seconds": round(time.perf_counter() - start, 2), "dev_score": meta.get("performance", {}).get("ents_f")}


class _Null:
    """A write-only sink for spaCy's training log when no log file is wanted."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
