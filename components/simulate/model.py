"""``spacy-llm-loop.SimulatedLLM.v1``: a SIMULATED LLM (gold labels plus a recorded LLM's errors), in-process.

It is :class:`~..llm.models.client.ChatModel`, the client of ``spacy-llm-loop.OpenAIChat.v1``, with one
thing swapped: the HTTP transport. Requests never leave the process: an ``httpx`` transport hands each request
body to :func:`.server.chat_reply`, the same code the ``simulate-llm`` server runs, which reads the
sentences out of the real prompt (TokenNER, or spacy-llm's ``spacy.NER.v3``), looks their gold tags up
in ``gold``, applies the error profile and answers in the real model's format with a ``usage`` record of
the prompt's and answer's real token counts. So prompt, retries, parsing, the prompt cache, the usage
ledger, the budget and the cost are the real ones; only the model is simulated, and its name says so
(``sim-...``). Costs are priced as the model the profile simulates (e.g. gpt-4-turbo's price).

Run index: the k-th time the same prompt reaches the simulated model (from 0; every try counts, a
retried fault too) is run k, so asking again after a dropped answer gets a new draw of the per-run
errors while systematic ones stay. ``run`` fixes it (every request is run ``run``), and so does setting
the model's ``replicate`` (``annotator-eval``'s k runs: replicate i is run i, whatever the cache holds).
A prompt answered from the cache is not asked again.

``hardness`` (a hardness file, :mod:`.hardness`; with a v2 profile such as ``gpt-4-turbo-hardness``)
makes it the hardness-aware simulator: a gold entity a fixed reference learner finds unlikely is drawn from its
hard bucket's tables, and some errors become the reference learner's own wrong guesses, as the recordings say
the real model's are. Without it (the default) the model answers exactly as before.
"""
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
from spacy_llm.registry import registry

from ..errors import InputError
from ..llm.models.client import ChatModel
from ..llm.models.providers import OpenAIChat
from ..llm.models.registry import usage_parts
from ..llm.pricing import price_for
from .annotate import ErrorModel, sentence_key
from .hardness import SCRIPT, Hardness, read_hardness
from .profile import FORMAT_V2, HARDNESS, load_profile, tables_for
from .server import FAULT_HEADER, FAULTS, SimulatedLLM, chat_reply, gold_from

logger = logging.getLogger(__name__)
HOST = "http://simulated-llm.invalid"  # never resolved: the transport answers in-process


class SimulatedProvider(OpenAIChat):
    """OpenAI's chat format, under its own name in cache keys and ledger records."""

    name = "simulated"


class SimulatedChatModel(ChatModel):
    """A :class:`ChatModel` whose transport is a :class:`SimulatedLLM` in this process."""

    def __init__(self, simulated: SimulatedLLM, **settings: Any) -> None:
        super().__init__(SimulatedProvider(), **settings)
        self.simulated = simulated
        self._fixed_run = simulated.run
        self._client.close()
        self._client = httpx.Client(transport=httpx.MockTransport(self._reply))

    @property
    def replicate(self) -> Optional[int]:
        """The replicate being asked; it is also the simulated run index (see the module docstring)."""
        return self._replicate

    @replicate.setter
    def replicate(self, index: Optional[int]) -> None:
        self._replicate = index
        if hasattr(self, "simulated"):  # (the base class sets None before the transport exists)
            self.simulated.run = self._fixed_run if index is None else index

    def _reply(self, request: httpx.Request) -> httpx.Response:
        status, payload, headers = chat_reply(self.simulated, request.url.path, request.content)
        if headers.get(FAULT_HEADER) == "timeout":
            raise httpx.ReadTimeout("simulated timeout", request=request)
        if status == 200:
            with self.simulated._lock:
                self.simulated.answered.append(int(headers["x-request-id"].split("-")[-1]))
        return httpx.Response(status, json=payload, headers=headers)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def simulated_url(profile: Optional[Dict[str, Any]], lang: Optional[str], seed: int, run: Optional[int],
                  gold: str, labels: Optional[List[str]] = None, hardness: Optional[str] = None) -> str:
    """The request URL: it names what the answers depend on, so the prompt cache keys on it too."""
    parts = ["gold-" + _digest(Path(gold).read_bytes())]
    if profile is not None:
        parts += [f"{profile['name']}-{_digest(json.dumps(profile, sort_keys=True).encode())}",
                  lang or "pooled", f"seed-{seed}"]
        if labels:
            parts.append("labels-" + _digest(json.dumps(labels).encode()))
        if hardness:
            parts.append("hardness-" + _digest(Path(hardness).read_bytes()))
    if run is not None:
        parts.append(f"run-{run}")
    return "/".join([HOST, *parts, "v1/chat/completions"])


@registry.llm_models("spacy-llm-loop.SimulatedLLM.v1")
def make_simulated_llm(
    gold: str,
    profile: Optional[str] = "gpt-4-turbo",
    lang: Optional[str] = None,
    seed: int = 0,
    run: Optional[int] = None,
    name: Optional[str] = None,
    normalize: Optional[str] = "NFC",
    fault_rate: float = 0.0,
    faults: Optional[List[str]] = None,
    config: Dict[str, Any] = {"temperature": 0.1, "json_mode": True},
    endpoint: Optional[str] = None,
    concurrency: int = 8,
    max_tries: int = 6,
    interval: float = 0.01,
    max_wait: float = 0.1,
    cache_path: Optional[str] = None,
    ledger_path: Optional[str] = None,
    budget_usd: Optional[float] = None,
    budget_tokens: Optional[int] = None,
    price_per_1k: Optional[List[float]] = None,
    context_length: Optional[int] = 128000,
    labels: Optional[List[str]] = None,
    hardness: Optional[str] = None,
) -> ChatModel:
    """A SIMULATED LLM answering from ``gold`` (.spacy, .jsonl or CoNLL) with ``profile``'s errors, in-process.

    profile: a packaged error profile (``gpt-4-turbo``) or a file from ``calibrate``; null: gold answers.
    lang: the profile's language (one without recordings, or null, uses the pooled tables: logged).
    seed: systematic errors depend on (seed, sentence); run: fix the run index (see the module docstring).
    name: must start with ``sim-`` (default ``sim-<profile>``). normalize: answer tokens in this Unicode form.
    fault_rate, faults: inject the simulated server's faults (429, 500, timeouts, truncated JSON ...).
    endpoint: ignored (accepted so the loop's ``--llm-endpoint`` override does not break the config).
    price_per_1k: default the simulated model's listed price, so budgets and costs read as the real model's.
    labels: the run's label set when it is not MasakhaNER's (the loop sets it): errors stay inside it.
    hardness: a hardness file of the gold sentences (``bench/hardness_file.py``), for a v2 profile such as
    ``gpt-4-turbo-hardness``: errors fall where a reference learner finds the gold entities hard. null: none.
    """
    data = load_profile(profile) if profile else None
    name = name or f"sim-{data['name'] if data else 'gold'}"
    if not name.startswith("sim-"):
        raise ValueError(f"a simulated model's name must start with 'sim-' (SIMULATED), got '{name}'")
    if endpoint:
        logger.warning("%s answers in-process: endpoint %s is not used", name, endpoint)
    gold_tags = gold_from(gold)
    lookup = gold_hardness(hardness, data, gold_tags, gold) if hardness else None
    errors = ErrorModel(tables_for(data, lang), seed, labels=labels, hardness=lookup) if data else None
    if errors is not None and data is not None and errors.info.source != lang:
        logger.warning("%s: profile '%s' uses its %s tables", name, data["name"], errors.info.source)
    simulated = SimulatedLLM(gold_tags, fault_rate=fault_rate, faults=tuple(faults or FAULTS), seed=seed,
                             timeout_sleep=0.0, normalize=normalize, errors=errors, run=run)
    price = price_for(data["name"] if data else name, tuple(price_per_1k) if price_per_1k else None)
    cache, ledger, budget = usage_parts(cache_path, ledger_path, budget_usd, budget_tokens, price, priced_budget=True)
    url = simulated_url(data, lang, seed, run, gold, labels, hardness)
    return SimulatedChatModel(simulated, name=name, url=url, params=config,
                              api_key=None, concurrency=concurrency, max_tries=max_tries, interval=interval,
                              max_wait=max_wait, cache=cache,
                              ledger=ledger, budget=budget, context_length=context_length)


def gold_hardness(path: str, profile: Optional[Dict[str, Any]], gold: Dict[Any, List[str]], gold_path: str) -> Hardness:
    """The hardness file at ``path`` for a v2 ``profile``, checked against the ``gold`` sentences: an
    :class:`InputError` names the file (and the script that makes it) when it is missing, the profile cannot use
    it, or it holds none of the gold sentences; a warning says how many it lacks."""
    if profile is None or profile.get("format") != FORMAT_V2:
        raise InputError(f"a hardness file needs a v2 error profile (e.g. gpt-4-turbo-hardness), not "
                         f"'{profile['name'] if profile else None}'", path)
    block = profile[HARDNESS]
    lookup = read_hardness(path, [float(c) for c in block["cuts"]], block["buckets"])
    keys = {sentence_key(tokens) for tokens in gold}
    missing = len(keys - set(lookup.entities))
    if missing == len(keys):
        raise InputError(f"the hardness file holds none of the {len(keys)} sentences of {gold_path} (made for "
                         f"another corpus? make it with 'python {SCRIPT} <lang> --output {path}')", path)
    if missing:
        logger.warning("hardness file %s lacks %s of the %s gold sentences: they err as the bucket-free tables say",
                       path, missing, len(keys))
    return lookup
