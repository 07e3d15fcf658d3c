"""Train a learner pipeline from its config with spaCy's own training loop.

The best model (by the config's score weights on the dev set) is trained in a work
folder and takes ``output_dir``'s place only when the training has finished: an
interrupted training leaves no model there (or the earlier one, if there was one),
so a resumed loop simply trains again. An earlier model is removed just before the
new one is renamed into place, so those two steps together are not atomic.

By default every training starts from the config (fresh CNN weights, or the
pretrained transformer checkpoint). With ``init_from`` it continues from a saved
pipeline instead: every component is sourced from it (spaCy's ``source``
mechanism), so its weights are the starting point and the optimiser and schedule
start afresh. On CPU, mixed precision (which needs a GPU) is switched off.
"""
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

import spacy
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from spacy.util import load_config
from thinc.api import Config

from ..errors import LoopError
from ..fileio import TMP_MARK, atomic_path
from .progress import JSONL_LOGGER, scores_path

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]


def check_init_tok2vec(config: PathLike, overrides: Optional[Dict[str, Any]] = None) -> None:
    """Refuse pretrained tok2vec weights (``paths.init_tok2vec``, given as an override or set in the learner config
    file ``config``) that are not a file, before anything runs (the loop, its dry run and ``train-full`` call this;
    spaCy's own error comes after the config is resolved, as a whole-config dump)."""
    overrides = overrides or {}
    if "paths.init_tok2vec" in overrides:
        weights = overrides["paths.init_tok2vec"]
    else:
        weights = Config().from_disk(config, interpolate=False).get("paths", {}).get("init_tok2vec")
    if weights and not Path(weights).is_file():
        raise LoopError(f"the pretrained tok2vec weights '{weights}' (paths.init_tok2vec) are not a file: make them "
                        "first with the 'pretrain' command (pretrain <lang>, or pretrain <lang> --ner-from auto; "
                        "spacy project run pretrain / pretrain-transfer), or give the path it printed")


def use_device(gpu_id: int) -> None:
    """Run on GPU ``gpu_id`` (requires a GPU), or on CPU when it is negative."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    else:
        spacy.require_cpu()


def train_pipeline(config_path: PathLike, output_dir: PathLike, *, train_path: PathLike, dev_path: PathLike,
                   seed: int = 0, gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None,
                   log_path: Optional[PathLike] = None, init_from: Optional[PathLike] = None,
                   echo: bool = False) -> Dict[str, Any]:
    """Train and save the best model to ``output_dir``; return ``{"seconds", "dev_score"}``.

    ``init_from``: a saved pipeline of the same config to continue from (warm start) instead of the config's
    initial weights. ``echo``: spaCy's training table on the console too, not only in ``log_path``.
    """
    use_device(gpu_id)
    settings = {"paths.train": str(train_path), "paths.dev": str(dev_path), "system.seed": seed,
                "training.seed": seed, **(overrides or {})}
    config = load_config(config_path, overrides=settings, interpolate=False)
    pretraining_block(config)
    if log_path and config["training"].get("logger", {}).get("@loggers") == JSONL_LOGGER:
        config["training"]["logger"]["output_file"] = str(scores_path(log_path))
    if gpu_id < 0:
        full_precision_on_cpu(config)
    if init_from is not None:
        source_components(config, Path(init_from))
    output_dir = Path(output_dir)
    start = time.perf_counter()
    with atomic_path(output_dir, is_dir=True) as target, tempfile.TemporaryDirectory(prefix=f".train{TMP_MARK}",
                                                                                     dir=output_dir.parent) as work:
        nlp = init_nlp(config, use_gpu=gpu_id)
        log = Path(log_path).open("w", encoding="utf-8") if log_path else None
        if log and init_from is not None:
            log.write(f"Continuing from the weights of {init_from}\n")
        if log and config["paths"].get("init_tok2vec"):
            log.write(f"tok2vec initialised from the pretrained weights {config['paths']['init_tok2vec']}\n")
        try:
            out = _Tee(log, sys.stdout) if echo and log else (sys.stdout if echo else log or _Null())
            # _Tee and _Null are not IO, but spaCy's training only calls write() and flush() on its streams
            train_nlp(nlp, Path(work), use_gpu=gpu_id, stdout=out, stderr=log or _Null())  # type: ignore[arg-type]
        finally:
            if log:
                log.close()
        target.rmdir()  # the best model takes the empty work folder's name; on exit it replaces an earlier model
        shutil.move(str(Path(work) / "model-best"), str(target))
    meta = spacy.util.load_meta(output_dir / "meta.json")
    return {"seconds": round(time.perf_counter() - start, 2), "dev_score": meta.get("performance", {}).get("ents_f")}


def pretraining_block(config: Config) -> Config:
    """With ``paths.init_tok2vec`` set and an empty ``[pretraining]`` block, fill the block with spaCy's defaults
    (in place): spaCy reads which component takes pretrained weights from that block, and with it empty it skips
    the weights without a word."""
    if config.get("paths", {}).get("init_tok2vec") and not config.get("pretraining"):
        from spacy.language import DEFAULT_CONFIG_PRETRAIN_PATH

        config["pretraining"] = load_config(DEFAULT_CONFIG_PRETRAIN_PATH, interpolate=False)["pretraining"]
    return config


def source_components(config: Config, pipeline: Path) -> Config:
    """Make every component of ``config``'s pipeline but ``uncertainty`` come from the saved ``pipeline`` (in
    place)."""
    if not (pipeline / "config.cfg").exists():
        raise FileNotFoundError(f"cannot continue training from {pipeline}: no saved pipeline there")
    for name in config["nlp"]["pipeline"]:
        if config["components"][name].get("factory") == "uncertainty":
            continue  # no weights to continue from; a fresh one, so no calibration or committee of the last round
        config["components"][name] = {"source": str(pipeline), "component": name}
    logger.info("continuing from the weights of %s", pipeline)
    return config


def full_precision_on_cpu(config: Config) -> Config:
    """Switch off ``mixed_precision`` in every component model that asks for it (in place): it needs a GPU."""
    for name, block in config.get("components", {}).items():
        model = block.get("model") if isinstance(block, dict) else None
        if isinstance(model, dict) and model.get("mixed_precision"):
            model["mixed_precision"] = False
            logger.info("components.%s: mixed precision needs a GPU; training in full precision on CPU", name)
    return config


class _Tee:
    """A stream writing to several (spaCy's table to the log file and the console)."""

    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


class _Null:
    """A write-only sink for spaCy's training log when no log file is wanted."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
