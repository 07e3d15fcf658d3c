"""The loop's config (``configs/loop.cfg``): loading with command-line shortcuts, and resolving it.

Sections: ``[paths]`` (corpus folder, learner config, runs folder), ``[loop]``
(lang, rounds, query_size, seed, gpu_id, run_name) and one block each for the
registered ``[seed_set]`` sampler, ``[strategy]`` and ``[annotator]``. The
short names ``--annotator gold``, ``--strategy entropy`` and
``--seed-sampler entity-rich`` replace the whole block with the registered
default for that name.
"""
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from spacy.util import load_config, registry
from thinc.api import Config

from ..annotators.base import ANNOTATOR_NAMES, Annotator
from ..data.corpus import check_lang
from ..strategies.base import QuerySize, Strategy
from ..strategies.registry import strategy_block
from .seeding import SEED_SAMPLER_NAMES, SeedSampler, seed_sampler_block

ANNOTATOR_DEFAULT_ARGS: Dict[str, Dict[str, Any]] = {"gold": {"path": "${paths.corpus}/train.spacy"}}


@dataclass
class LoopSettings:
    """The plain (non-registered) settings of one run."""

    lang: str
    rounds: int
    query_size: QuerySize
    seed: int
    gpu_id: int
    run_name: Optional[str]
    corpus: Path
    learner_config: Path
    runs: Path


def load_loop_config(path: Union[str, Path], overrides: Optional[Dict[str, Any]] = None, *,
                     annotator: Optional[str] = None, strategy: Optional[str] = None,
                     seed_sampler: Optional[str] = None, seed_size: Optional[str] = None) -> Config:
    """Load ``path`` with dotted ``overrides``, then apply the short-name shortcuts and interpolate."""
    overrides = dict(overrides or {})
    if "loop.lang" in overrides and "paths.corpus" not in overrides:
        overrides["paths.corpus"] = f"corpus/{overrides['loop.lang']}"
    config = load_config(path, overrides=overrides, interpolate=False)
    if annotator:
        if annotator not in ANNOTATOR_NAMES:
            raise ValueError(f"Unknown annotator '{annotator}'; choose one of {', '.join(ANNOTATOR_NAMES)}")
        config["annotator"] = {"@misc": ANNOTATOR_NAMES[annotator], **ANNOTATOR_DEFAULT_ARGS.get(annotator, {})}
    if strategy:
        config["strategy"] = strategy_block(strategy)
    if seed_sampler or seed_size:
        current = config.get("seed_set", {})
        name = seed_sampler or _short_name(current.get("@misc", ""))
        config["seed_set"] = seed_sampler_block(name, seed_size or current.get("size", "5%"))
    return config.interpolate()


def _short_name(registered: str) -> str:
    return {v: k for k, v in SEED_SAMPLER_NAMES.items()}.get(registered, "entity-rich")


def resolve_loop(config: Config) -> Tuple[LoopSettings, SeedSampler, Strategy, Annotator]:
    """Check the plain settings and build the registered sampler, strategy and annotator."""
    loop, paths = config["loop"], config["paths"]
    settings = LoopSettings(
        lang=check_lang(loop["lang"]), rounds=int(loop["rounds"]), query_size=QuerySize.parse(loop["query_size"]),
        seed=int(loop["seed"]), gpu_id=int(loop.get("gpu_id", -1)), run_name=loop.get("run_name") or None,
        corpus=Path(paths["corpus"]), learner_config=Path(paths["learner_config"]), runs=Path(paths["runs"]),
    )
    if settings.rounds < 0:
        raise ValueError(f"loop.rounds must be 0 or more, got {settings.rounds}")
    resolved = registry.resolve({k: config[k] for k in ("seed_set", "strategy", "annotator")})
    return settings, resolved["seed_set"], resolved["strategy"], resolved["annotator"]


def run_name(settings: LoopSettings, annotator: Annotator, strategy: Strategy) -> str:
    """``<lang>-<annotator>-<strategy>-seed<k>`` (or ``loop.run_name``), safe as a folder name."""
    name = settings.run_name or f"{settings.lang}-{annotator.name}-{strategy.name}-seed{settings.seed}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
