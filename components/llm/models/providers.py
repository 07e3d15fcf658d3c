"""Chat APIs as data: where to send a prompt, how to wrap it, and how to read the answer and its usage.

``openai``: OpenAI's ``/v1/chat/completions``, which vLLM, Ollama, the llama.cpp
server and Azure OpenAI also speak. ``anthropic``: Anthropic's ``/v1/messages``.
"""
import email.utils
import re
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
ANTHROPIC_VERSION = "2023-06-01"
# Statuses worth another try: rate limited, server errors, Anthropic's "overloaded".
TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class Answer:
    """What one successful API call returned."""

    text: str
    input_tokens: int
    output_tokens: int
    request_id: Optional[str]
    finish_reason: Optional[str]


class Provider:
    """Base: subclasses say how to build the request and read the answer."""

    name = "base"

    def headers(self, key: Optional[str]) -> Dict[str, str]:
        """HTTP headers (credentials included; never logged)."""
        raise NotImplementedError

    def body(self, model: str, prompt: str, params: Mapping[str, Any]) -> Dict[str, Any]:
        """The JSON body for one user prompt."""
        raise NotImplementedError

    def answer(self, data: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        """Read the reply; a ``KeyError``/``IndexError``/``TypeError``/``AttributeError`` means a malformed reply."""
        raise NotImplementedError

    def usage(self, data: Mapping[str, Any]) -> Tuple[int, int]:
        """``(input_tokens, output_tokens)`` the reply's ``usage`` reports (zeros when it has none)."""
        raise NotImplementedError


class OpenAIChat(Provider):
    """OpenAI chat completions (and compatible servers); ``json_mode`` sets ``response_format``."""

    name = "openai"

    def headers(self, key: Optional[str]) -> Dict[str, str]:
        return {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}

    def body(self, model: str, prompt: str, params: Mapping[str, Any]) -> Dict[str, Any]:
        extra = {k: v for k, v in params.items() if k != "json_mode"}
        if params.get("json_mode"):
            extra["response_format"] = {"type": "json_object"}
        return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}

    def answer(self, data: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        choice = data["choices"][0]
        input_tokens, output_tokens = self.usage(data)
        return Answer(text=_text(choice["message"]["content"] or ""), input_tokens=input_tokens,
                      output_tokens=output_tokens, request_id=data.get("id") or headers.get("x-request-id"),
                      finish_reason=choice.get("finish_reason"))

    def usage(self, data: Mapping[str, Any]) -> Tuple[int, int]:
        usage = data.get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class AnthropicMessages(Provider):
    """Anthropic's Messages API (``max_tokens`` is required; default 4096)."""

    name = "anthropic"

    def headers(self, key: Optional[str]) -> Dict[str, str]:
        return {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION, "x-api-key": key or ""}

    def body(self, model: str, prompt: str, params: Mapping[str, Any]) -> Dict[str, Any]:
        extra = {k: v for k, v in params.items() if k != "json_mode"}
        extra.setdefault("max_tokens", 4096)
        return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}

    def answer(self, data: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        text = "".join(_text(block.get("text", "")) for block in data["content"] if block.get("type") == "text")
        input_tokens, output_tokens = self.usage(data)
        return Answer(text=text, input_tokens=input_tokens, output_tokens=output_tokens,
                      request_id=data.get("id") or headers.get("request-id"), finish_reason=data.get("stop_reason"))

    def usage(self, data: Mapping[str, Any]) -> Tuple[int, int]:
        usage = data.get("usage") or {}
        return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)


def _text(value: Any) -> str:
    """``value`` if it is a string; a TypeError (a malformed reply) otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"expected the answer's text, got {type(value).__name__}")
    return value


def retry_after(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``; None if absent."""
    if headers.get("retry-after-ms"):
        try:
            return max(float(headers["retry-after-ms"]) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable header: fall back to our own backoff
    return max(parsed.timestamp() - (now or time.time()), 0.0) if parsed else None


_KEY_LIKE = re.compile(r"(sk-|sk-ant-)[A-Za-z0-9_*\-]{4,}")


def redact(text: str, secret: Optional[str] = None) -> str:
    """``text`` with the API key (and anything shaped like one, e.g. a masked key echoed in a 401) blanked."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def error_message(status: int, text: str) -> Tuple[str, str]:
    """``(kind, message)`` for an HTTP error: kind ``transient`` or ``rejected``; the body cut short."""
    kind = "transient" if status in TRANSIENT_STATUSES else "rejected"
    return kind, f"HTTP {status}: {' '.join(text.split())[:200]}"
