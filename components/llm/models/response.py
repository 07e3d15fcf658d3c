"""A model's answer: the response text as a ``str`` (what spacy-llm tasks expect) plus provenance in ``.info``."""
from typing import Any, Dict, Optional


class LLMResponse(str):
    """``str(response)`` is the text; ``response.info`` holds request id, cache hit, usage and any error.

    ``info["error_kind"]`` tells a caller what a failure means: ``transient`` (retries ran out: ask again
    later), ``rejected`` (the API refused this prompt: asking again will not help) or ``budget`` (not sent,
    the run's budget is spent).
    """

    info: Dict[str, Any]

    def __new__(cls, text: str, **info: Any) -> "LLMResponse":
        obj = super().__new__(cls, text)
        obj.info = info
        return obj

    @classmethod
    def failure(cls, kind: str, message: str, **info: Any) -> "LLMResponse":
        """An empty response standing for a request that produced no answer."""
        return cls("", error=message, error_kind=kind, **info)

    @property
    def error(self) -> Optional[str]:
        """Why there is no answer (None when there is one)."""
        return self.info.get("error")
