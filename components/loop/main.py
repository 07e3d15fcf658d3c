"""Entry point of the loop: config in, ``loop.json`` content out."""
from pathlib import Path
from typing import Any, Dict, Optional, Union

from ..annotators import gold, llm  # noqa: F401  (registers the annotators)
from ..policy import registry as _policies  # noqa: F401  (registers the label policy)
from ..strategies import registry as _strategies  # noqa: F401  (registers the strategies)
from ..strategies import seeding as _seeding  # noqa: F401  (registers the seed samplers)
from .estimate import preflight
from .runner import ActiveLearningLoop
from .settings import MUTABLE_SETTINGS, load_loop_config, resolve_loop


def run_loop(config_path: Union[str, Path], overrides: Optional[Dict[str, Any]] = None,
             learner_overrides: Optional[Dict[str, Any]] = None, *, annotator: Optional[str] = None,
             strategy: Optional[str] = None, seed_sampler: Optional[str] = None,
             seed_size: Optional[str] = None, label_policy: Optional[str] = None,
             review: Optional[Dict[str, Any]] = None, dry_run: bool = False, progress: bool = False) -> Dict[str, Any]:
    """Run or resume one loop; see :class:`ActiveLearningLoop`. ``dry_run``: only the pre-flight cost estimate
    (:func:`.estimate.preflight`), nothing trained, asked or written. ``review``: the ``[review]`` block's settings
    (``budget``, ``rank``, ``reviewer``, ``wait``; :mod:`..review.settings`)."""
    config = load_loop_config(config_path, overrides, annotator=annotator, strategy=strategy,
                              seed_sampler=seed_sampler, seed_size=seed_size, label_policy=label_policy,
                              review=review)
    if dry_run:
        return {"dry_run": _dry_run(config, learner_overrides)}
    settings, sampler, strategy_fn, annotator_fn = resolve_loop(config)
    identity = config.copy()
    for setting in MUTABLE_SETTINGS:
        section, key = setting.split(".")
        identity.get(section, {}).pop(key, None)
    loop = ActiveLearningLoop(settings, sampler, strategy_fn, annotator_fn,
                              learner_overrides=learner_overrides, config_text=identity.to_str(), progress=progress)
    return loop.run_all()


def _dry_run(config: Any, learner_overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The pre-flight estimate: the annotator built without its API key and without the prompt cache. The run
    folder's name and the pretrained tok2vec weights are checked as the real run checks them
    (:func:`.runner.run_names`, :func:`..learner.train.check_init_tok2vec`), so a dry run does not pass what the
    run would refuse; the estimate says which folder the run would write (``run``)."""
    from spacy.vocab import Vocab

    from ..annotators.base import as_annotator
    from ..data.corpus import open_pool
    from ..learner.train import check_init_tok2vec
    from ..llm.models.registry import keys_not_required
    from .runner import run_names

    if str(config["annotator"].get("@misc", "")).endswith("LLMAnnotator.v1"):
        config["annotator"]["cache_path"] = None  # nothing is written
    with keys_not_required():
        settings, sampler, strategy, annotator_fn = resolve_loop(config)
        annotator = as_annotator(annotator_fn)
        check_init_tok2vec(settings.learner_config, learner_overrides)
        name, _ = run_names(settings, annotator, strategy, learner_overrides)
        estimate = preflight(settings, sampler, annotator, open_pool(settings.corpus / "train.spacy", Vocab()))
        return {**estimate, "run": str(settings.runs / name)}
