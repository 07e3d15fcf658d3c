"""The probes' ``complete`` callable, from the annotator's own chat model at temperature 0.

Probes must go through the project's :class:`~spacy_llm_loop.llm.models.client.ChatModel` so they
share its concurrency limits, prompt cache and usage ledger with annotation. The probe model is
built from the annotator config's ``[components.llm.model]`` block with the same settings (so the
same cache file and ledger when given), except ``temperature = 0`` and ``json_mode = false`` (the
probes ask for a letter or free text). The cache keys include the request parameters, so probe
answers never mix with annotation answers.
"""
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from spacy_llm.registry import registry
from thinc.api import Config

from ...llm.models import registry as _models  # noqa: F401  (registers the models)
from ...package_data import annotator_config_text

Complete = Callable[[List[str]], List[str]]
OUR_PREFIX = "spacy-llm-loop."


def probe_settings(model_block: Dict[str, Any], **overrides: Any) -> Dict[str, Any]:
    """An annotator's model block with ``overrides`` (those not None) and the request config at temperature 0."""
    settings = dict(model_block)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["config"] = {**dict(settings.get("config") or {}), "temperature": 0.0, "json_mode": False}
    return settings


def probe_model(annotator: Union[str, Path], *, endpoint: Optional[str] = None, model_name: Optional[str] = None,
                cache_path: Optional[str] = None, ledger_path: Optional[str] = None,
                concurrency: Optional[int] = None, budget_usd: Optional[float] = None,
                budget_tokens: Optional[int] = None, **settings: Any) -> Any:
    """The :class:`ChatModel` of annotator config ``annotator`` (a file or a packaged name), at temperature 0.

    endpoint, model_name (the model's ``name``), cache_path, ledger_path, concurrency, budget_*: set on the
    model as the annotator would set them; ``settings``: any other setting of its factory.
    """
    config = Config().from_str(annotator_config_text(annotator), interpolate=True)
    try:
        block = dict(config["components"]["llm"]["model"])
    except KeyError:
        raise ValueError(f"annotator config '{annotator}' has no [components.llm.model] block") from None
    factory = block.pop("@llm_models", "")
    if not factory.startswith(OUR_PREFIX):
        raise ValueError(f"annotator config '{annotator}' uses model '{factory}'; the probes need one of this "
                         f"package's chat models ('{OUR_PREFIX}...'), which share the cache and ledger")
    built = probe_settings(block, endpoint=endpoint, name=model_name, cache_path=cache_path,
                           ledger_path=ledger_path, concurrency=concurrency, budget_usd=budget_usd,
                           budget_tokens=budget_tokens, **settings)
    return registry.llm_models.get(factory)(**built)


def complete_with(model: Any, probe: Optional[str] = None) -> Complete:
    """``model.complete`` as a probe's ``complete``; ``probe`` tags the model's ledger records (``context``).

    Failed requests come back as empty answers with ``.error`` set, which the probes leave out.
    """
    def complete(prompts: List[str]) -> List[str]:
        if probe is not None and hasattr(model, "context"):
            model.context = {**dict(model.context or {}), "probe": probe}
        return list(model.complete(prompts))

    return complete
