"""A spacy-llm model that sends chat requests in parallel, politely and accountably.

spacy-llm's own REST models send chat requests one at a time. :class:`ChatModel`
sends the prompts of a batch concurrently (at most ``concurrency`` in flight),
keeps client-side limits on requests and tokens per minute, retries 429, 5xx,
timeouts and dropped connections with exponential backoff and jitter (honouring
``Retry-After``), and returns the answers in input order. Every prompt is first
looked up in the persistent :class:`~.cache.PromptCache`; every attempt is written
to the :class:`~.ledger.UsageLedger`; a :class:`~.budget.Budget` can refuse to send. Once it has refused,
cached answers are still given (free) and other prompts are refused without a ledger record each, so the
rest of a large round leaves one refusal in the ledger, not one per prompt.
A 200 reply whose body cannot be read (not JSON, no choices or content) was still
billed: it is logged as ``malformed_response`` with its usage (estimated when the
body reports none), counted against the budget, and the prompt is asked again.
A prompt that gets no answer yields an empty :class:`~.response.LLMResponse` whose
``info`` says why, so one failure never costs the rest of the batch.
"""
import dataclasses
import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, List, Optional

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from ...errors import LoopError
from ..tokens import count_tokens
from .budget import Budget
from .cache import PromptCache, cache_key
from .ledger import UsageLedger
from .providers import Answer, Provider, error_message, redact, retry_after
from .ratelimit import RateLimiter
from .response import LLMResponse

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure worth another try; ``retry_after`` is the server's requested pause, if any."""

    def __init__(self, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestFailed(Exception):
    """A request that will not be answered: ``kind`` is ``transient`` (tries ran out), ``rejected`` or ``auth``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _WaitRetryAfter:
    """Tenacity wait: the server's ``Retry-After`` when given (capped), else exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.maximum = maximum
        self.backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        return min(asked, self.maximum) if asked is not None else self.backoff(state)


class ChatModel:
    """Concurrent, cached, rate-limited chat completions (see the module docstring)."""

    def __init__(self, provider: Provider, *, name: str, url: str, params: Dict[str, Any], api_key: Optional[str],
                 concurrency: int = 8, requests_per_minute: Optional[int] = None,
                 tokens_per_minute: Optional[int] = None, max_tries: int = 6, interval: float = 1.0,
                 max_wait: float = 60.0, timeout: float = 60.0, cache: Optional[PromptCache] = None,
                 ledger: Optional[UsageLedger] = None, budget: Optional[Budget] = None,
                 context_length: Optional[int] = None) -> None:
        if concurrency < 1 or max_tries < 1:
            raise ValueError("concurrency and max_tries must be at least 1")
        self.provider, self.name, self.url, self.params = provider, name, url, dict(params)
        self._api_key = api_key
        self.concurrency, self.max_tries, self.interval, self.max_wait = concurrency, max_tries, interval, max_wait
        self.limiter = RateLimiter(requests_per_minute, tokens_per_minute)
        self.cache, self.ledger, self.budget = cache, ledger or UsageLedger(), budget
        self.context: Dict[str, Any] = {}
        self.replicate: Optional[int] = None  # asking the same prompts again on purpose (annotator-eval's k runs)
        self._failed: Dict[str, str] = {}  # a prompt's digest -> error kind, for prompts that got no answer
        self._context_length = context_length
        self._client = httpx.Client(timeout=httpx.Timeout(timeout),
                                    limits=httpx.Limits(max_connections=concurrency,
                                                        max_keepalive_connections=concurrency))

    def __repr__(self) -> str:
        return f"ChatModel(provider={self.provider.name!r}, name={self.name!r}, concurrency={self.concurrency})"

    @property
    def context_length(self) -> Optional[int]:
        """The model's context window in tokens (spacy-llm asks; the TokenNER task never needs sharding)."""
        return self._context_length

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        """Answer every prompt (one list per doc, as spacy-llm passes them), in the same nesting and order."""
        nested = [list(p) for p in prompts]
        answers = iter(self.complete([p for group in nested for p in group]))
        return [[next(answers) for _ in group] for group in nested]

    def complete(self, prompts: List[str]) -> List[LLMResponse]:
        """One :class:`LLMResponse` per prompt, in order; requests run concurrently."""
        if not prompts:
            return []
        unique = list(dict.fromkeys(prompts))  # the same prompt twice in a batch is sent (and paid for) once
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
            by_prompt = dict(zip(unique, pool.map(self._complete_safely, unique)))
        answers = [by_prompt[p] for p in prompts]
        for prompt, answer in zip(prompts, answers):  # so callers of stock spacy-llm tasks can tell "no answer"
            if answer.info.get("error_kind"):          # from "an empty answer" (the str a task sees is "" for both)
                self._failed[_digest(prompt)] = answer.info["error_kind"]
            else:
                self._failed.pop(_digest(prompt), None)
        refused = [a for a in answers if a.info.get("error_kind") == "auth"]
        if refused:
            raise LoopError(f"{self.provider.name} refused the credentials for model '{self.name}' "
                            f"({refused[0].error}); check the API key variable")
        return answers

    def failure(self, prompt: str) -> Optional[str]:
        """Why ``prompt`` got no answer the last time it was asked (None: it got one, or was never asked).

        Kept by digest, not by prompt: a large round refused by a spent budget would otherwise hold every prompt.
        """
        return self._failed.get(_digest(prompt))

    def _complete_safely(self, prompt: str) -> LLMResponse:
        """:meth:`_complete`, with any unexpected error turned into a ``transient`` failure of this prompt only."""
        try:
            return self._complete(prompt)
        except Exception as err:  # noqa: BLE001  (one odd reply must not cost the batch)
            logger.warning("%s: unexpected error, the prompt will be asked again later: %s", self.name,
                           redact(repr(err), self._api_key))
            return LLMResponse.failure("transient", redact(f"unexpected error: {err!r}", self._api_key),
                                       model=self.name)

    def _complete(self, prompt: str) -> LLMResponse:
        key = cache_key(self.provider.name, self.name, self.params, prompt, self.url, self.replicate)
        info: Dict[str, Any] = {"model": self.name, "prompt_hash": key[:16]}
        cached = self.cache.get(key) if self.cache else None
        if cached is not None:
            self._log(info, outcome="cache_hit", cache="hit", request_id=cached["request_id"], **cached["usage"])
            return LLMResponse(cached["text"], **info, cached=True, request_id=cached["request_id"])
        if self.budget is not None and self.budget.exhausted:  # refused once already (that refusal is logged):
            return LLMResponse.failure("budget", "not sent: the run's budget is spent", **info)  # no record each
        estimate = {"input_tokens": count_tokens(prompt), "output_tokens": 0}
        estimate["output_tokens"] = int(self.params.get("max_tokens") or min(estimate["input_tokens"], 4096))
        if self.budget is not None and not self.budget.reserve(**estimate):
            self._log(info, outcome="budget_refused", cache="miss", error="budget",
                      budget_max_tokens=self.budget.max_tokens, budget_max_usd=self.budget.max_usd)
            return LLMResponse.failure("budget", "not sent: the run's budget is spent", **info)
        paid = {"input_tokens": 0, "output_tokens": 0}  # what the API billed for this prompt, over all its tries
        try:
            answer = self._send(prompt, info, sum(estimate.values()), paid)
        except RequestFailed as err:
            return LLMResponse.failure(err.kind, str(err), **info)
        finally:
            if self.budget is not None:
                self.budget.settle(estimate, paid)
        usage = {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens}
        if self.cache is not None:
            self.cache.put(key, self.name, answer.text, usage, answer.request_id)
        return LLMResponse(answer.text, **info, cached=False, request_id=answer.request_id,
                           finish_reason=answer.finish_reason)

    def _send(self, prompt: str, info: Dict[str, Any], tokens: int, paid: Dict[str, int]) -> Answer:
        retrying = Retrying(stop=stop_after_attempt(self.max_tries), wait=_WaitRetryAfter(self.interval, self.max_wait),
                            retry=retry_if_exception_type(TransientError), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(prompt, info, tokens, attempt.retry_state.attempt_number, paid)
        except TransientError as err:
            raise RequestFailed("transient", f"gave up after {self.max_tries} tries: {err}") from None
        raise AssertionError("unreachable")

    def _send_once(self, prompt: str, info: Dict[str, Any], tokens: int, attempt: int,
                   paid: Dict[str, int]) -> Answer:
        """One HTTP request; adds what it was billed to ``paid``; a TransientError when it is worth another."""
        self.limiter.acquire(tokens)
        body = self.provider.body(self.name, prompt, self.params)
        start = time.perf_counter()
        last = attempt >= self.max_tries
        record = dict(info, attempt=attempt, cache="miss")
        try:
            response = self._client.post(self.url, headers=self.provider.headers(self._api_key), json=body)
        except httpx.TimeoutException:
            self._log(record, outcome="failed" if last else "retry", error="timeout", latency_s=_since(start))
            raise TransientError("timeout") from None
        except httpx.TransportError as err:
            self._log(record, outcome="failed" if last else "retry", error=f"connection: {type(err).__name__}",
                      latency_s=_since(start))
            raise TransientError(f"connection error ({type(err).__name__})") from None
        latency = _since(start)
        if response.status_code != 200:
            kind, message = error_message(response.status_code, redact(response.text, self._api_key))
            if response.status_code in (401, 403):
                kind = "auth"
            outcome = ("failed" if last else "retry") if kind == "transient" else kind
            self._log(record, outcome=outcome, status=response.status_code, error=message, latency_s=latency)
            if kind == "transient":
                raise TransientError(message, retry_after(response.headers))
            raise RequestFailed(kind, message)
        try:
            answer = self.provider.answer(response.json(), response.headers)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            usage = self._malformed_usage(prompt, response)
            _add(paid, usage)
            self._log(record, outcome="malformed_response", retried=not last, status=200, latency_s=latency,
                      error=redact(f"malformed reply body ({type(err).__name__}: {str(err)[:120]})", self._api_key),
                      request_id=response.headers.get("x-request-id") or response.headers.get("request-id"),
                      **usage)
            raise TransientError("malformed reply body") from None
        estimated = not (answer.input_tokens or answer.output_tokens)
        if estimated:  # a server that reports no usage: count the tokens ourselves so budgets still hold
            answer = dataclasses.replace(answer, input_tokens=count_tokens(prompt),
                                         output_tokens=count_tokens(answer.text))
        _add(paid, {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens})
        self._log(record, outcome="ok", status=200, latency_s=latency, input_tokens=answer.input_tokens,
                  output_tokens=answer.output_tokens, request_id=answer.request_id,
                  **({"usage_estimated": True} if estimated else {}))
        return answer

    def _malformed_usage(self, prompt: str, response: httpx.Response) -> Dict[str, Any]:
        """The usage of a 200 reply that could not be read: as its body reports it, else estimated.

        The estimate counts the prompt's tokens and the body's (at most ``max_tokens``, when set).
        """
        try:
            input_tokens, output_tokens = self.provider.usage(response.json())
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            input_tokens, output_tokens = 0, 0
        if input_tokens or output_tokens:
            return {"input_tokens": input_tokens, "output_tokens": output_tokens}
        output_tokens = count_tokens(response.text)
        if self.params.get("max_tokens"):
            output_tokens = min(output_tokens, int(self.params["max_tokens"]))
        return {"input_tokens": count_tokens(prompt), "output_tokens": output_tokens, "usage_estimated": True}

    def _log(self, info: Dict[str, Any], **fields: Any) -> None:
        self.ledger.append(provider=self.provider.name, **info, **fields, context=dict(self.context))


def _digest(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def _add(paid: Dict[str, int], usage: Dict[str, Any]) -> None:
    paid["input_tokens"] += int(usage["input_tokens"])
    paid["output_tokens"] += int(usage["output_tokens"])


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)
