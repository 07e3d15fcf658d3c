"""Token counts for estimates (rate limits, budget reservations, prompt sizes).

Uses the real ``cl100k_base`` encoding of GPT-4/GPT-4-Turbo from the
``bpe-openai`` package (which bundles it, so it works offline) when installed;
otherwise about four characters per token. What is paid is always taken from
the API's own ``usage`` field, never from these estimates.
"""
import functools
import math
from typing import Any, Callable


@functools.lru_cache(maxsize=1)
def _encoder() -> Callable[[str], Any]:
    try:
        import bpe_openai

        return bpe_openai.get_encoding("cl100k_base").encode
    except Exception:  # noqa: BLE001  (not installed, or no bundled encoding)
        return lambda text: range(math.ceil(len(text) / 4))


def count_tokens(text: str) -> int:
    """The number of tokens in ``text`` (see the module docstring)."""
    return len(_encoder()(text))


def tokenizer_name() -> str:
    """``cl100k_base`` when the real encoding is used, else ``chars/4``."""
    return "chars/4" if isinstance(_encoder()("ab"), range) else "cl100k_base"
