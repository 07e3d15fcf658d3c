"""Registered models (``llm_models``): OpenAI chat, any OpenAI-compatible server, Anthropic Claude.

Keys come only from environment variables, named in the config (``api_key_env``);
a missing key fails when the model is built, naming the variable. No request is
made at construction (stock ``spacy.GPT-4.v3`` calls api.openai.com/v1/models
even when ``endpoint`` is set; these never call a host other than ``endpoint``).
"""
import contextlib
import contextvars
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from spacy_llm.registry import registry

from ..pricing import price_for
from .budget import Budget
from .cache import PromptCache
from .client import ChatModel
from .ledger import UsageLedger
from .providers import ANTHROPIC_URL, OPENAI_URL, AnthropicMessages, OpenAIChat, Provider

_KEYS_NOT_REQUIRED: contextvars.ContextVar[bool] = contextvars.ContextVar("keys_not_required", default=False)


@contextlib.contextmanager
def keys_not_required() -> Iterator[None]:
    """Build models without their API key (``loop --dry-run`` prices prompts and sends nothing)."""
    token = _KEYS_NOT_REQUIRED.set(True)
    try:
        yield
    finally:
        _KEYS_NOT_REQUIRED.reset(token)


def read_key(variable: Optional[str], required: bool, model: str) -> Optional[str]:
    """The API key in ``$variable``; a ValueError naming the variable if it is required and unset."""
    key = os.environ.get(variable) if variable else None
    if required and not key and not _KEYS_NOT_REQUIRED.get():
        raise ValueError(f"Model '{model}' needs an API key: "
                         f"set the environment variable {variable or '(api_key_env)'} "
                         "(keys are read from the environment only, never from config files)")
    return key


def build_model(provider: Provider, *, name: str, config: Dict[str, Any], url: str, api_key_env: Optional[str],
                require_key: bool, concurrency: int, requests_per_minute: Optional[int],
                tokens_per_minute: Optional[int], max_tries: int, interval: float, max_wait: float, timeout: float,
                cache_path: Optional[str], ledger_path: Optional[str], budget_usd: Optional[float],
                budget_tokens: Optional[int], price_per_1k: Optional[List[float]],
                context_length: Optional[int]) -> ChatModel:
    """A :class:`ChatModel` with its cache, ledger and budget (shared by the registered factories)."""
    key = read_key(api_key_env, require_key, name)
    price = price_for(name, tuple(price_per_1k) if price_per_1k else None)
    cache, ledger, budget = usage_parts(cache_path, ledger_path, budget_usd, budget_tokens, price)
    return ChatModel(provider, name=name, url=url, params=config, api_key=key, concurrency=concurrency,
                     requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute,
                     max_tries=max_tries, interval=interval, max_wait=max_wait, timeout=timeout,
                     cache=cache, ledger=ledger, budget=budget, context_length=context_length)


def usage_parts(cache_path: Optional[str], ledger_path: Optional[str], budget_usd: Optional[float],
                budget_tokens: Optional[int], price: Optional[Tuple[float, float]], *, priced_budget: bool = False
                ) -> Tuple[Optional[PromptCache], UsageLedger, Optional[Budget]]:
    """The prompt cache, the usage ledger and the budget of a model (the budget counts the ledger's past).

    A budget exists when a limit is set, or with ``priced_budget`` whenever a price is known (it then only
    carries the price, for costs).
    """
    budget = None
    if budget_usd is not None or budget_tokens is not None or (priced_budget and price):
        budget = Budget(budget_usd, budget_tokens, price)
    ledger = UsageLedger(ledger_path, past=budget.add_past_record if budget is not None else None)
    return PromptCache(cache_path) if cache_path else None, ledger, budget


@registry.llm_models("spacy-llm-loop.OpenAIChat.v1")
def make_openai_chat(
    name: str = "gpt-4-turbo",
    config: Dict[str, Any] = {"temperature": 0.1, "json_mode": True},
    endpoint: Optional[str] = None,
    api_key_env: Optional[str] = "OPENAI_API_KEY",
    require_key: Optional[bool] = None,
    concurrency: int = 8,
    requests_per_minute: Optional[int] = 500,
    tokens_per_minute: Optional[int] = 300000,
    max_tries: int = 6,
    interval: float = 1.0,
    max_wait: float = 60.0,
    timeout: float = 60.0,
    cache_path: Optional[str] = None,
    ledger_path: Optional[str] = None,
    budget_usd: Optional[float] = None,
    budget_tokens: Optional[int] = None,
    price_per_1k: Optional[List[float]] = None,
    context_length: Optional[int] = 128000,
) -> ChatModel:
    """OpenAI chat completions (GPT-4-Turbo by default) or, with ``endpoint``, any OpenAI-compatible server.

    config: request parameters (``temperature``, ``max_tokens``, ``seed`` ...); ``json_mode`` sets
        ``response_format: json_object``.
    require_key: default true for api.openai.com, false when ``endpoint`` is set (local servers).
    cache_path: SQLite prompt cache; ledger_path: JSONL usage ledger; budget_*: refuse requests past it.
    price_per_1k: ``[input, output]`` USD per 1K tokens when the model is not in the price list.
    """
    settings = dict(locals())
    settings["require_key"] = endpoint is None if require_key is None else require_key
    settings["url"] = settings.pop("endpoint") or OPENAI_URL
    return build_model(OpenAIChat(), **settings)


@registry.llm_models("spacy-llm-loop.AnthropicChat.v1")
def make_anthropic_chat(
    name: str = "claude-3-haiku-20240307",
    config: Dict[str, Any] = {"temperature": 0.1, "max_tokens": 4096},
    endpoint: Optional[str] = None,
    api_key_env: Optional[str] = "ANTHROPIC_API_KEY",
    concurrency: int = 8,
    requests_per_minute: Optional[int] = 50,
    tokens_per_minute: Optional[int] = 50000,
    max_tries: int = 6,
    interval: float = 1.0,
    max_wait: float = 60.0,
    timeout: float = 60.0,
    cache_path: Optional[str] = None,
    ledger_path: Optional[str] = None,
    budget_usd: Optional[float] = None,
    budget_tokens: Optional[int] = None,
    price_per_1k: Optional[List[float]] = None,
    context_length: Optional[int] = 200000,
) -> ChatModel:
    """Anthropic Claude through the Messages API (Claude 3 Haiku by default, the paper's third candidate)."""
    settings = dict(locals(), require_key=True)
    settings["url"] = settings.pop("endpoint") or ANTHROPIC_URL
    return build_model(AnthropicMessages(), **settings)
