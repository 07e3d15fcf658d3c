"""A SIMULATED LLM that has memorised a planted share of a gold corpus: ground truth for the leakage probes.

It recognises the four probe prompts of :mod:`spacy_llm_loop.leakage.probes.prompts`. A sentence is
memorised when a seeded hash of its text, read as a number in [0, 1), is below ``share``; so each
sentence is memorised with probability ``share``, independently, and the same sentences stay
memorised whatever sample a probe draws. For a memorised sentence it

- picks the original sentence (text quiz) or the gold annotation (label quiz);
- names ``MasakhaNER 2.0`` (source identification);
- completes the first piece exactly, when the prompt names the dataset (guided completion).

Otherwise it answers like a model that does not know: a letter drawn uniformly from A-D (a guesser
that never claims "None", so the quizzes' chance rate 1/4 holds exactly), another dataset's name or
"unknown", and a generic continuation (words of the first piece and filler words, as many as the
true rest). Random answers come from a hash of (seed, prompt), so the same prompt always gets the
same answer, whatever order concurrent requests arrive in. Unrecognised prompts get ``unknown``.
:class:`MemorisingServer` serves it as an OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1.
"""
import hashlib
import json
import logging
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from ..leakage.probes import prompts
from ..llm.tokens import count_tokens

logger = logging.getLogger(__name__)

OTHER_SOURCES = ("CoNLL-2003", "WikiAnn", "OntoNotes 5.0", "unknown", "I cannot tell which dataset this is.")
FILLER = ("and", "the", "of", "in", "to", "na", "le", "ka", "ya", "wa", "o", "e", "ba", "ke", "mo")
_OPTION = re.compile(r"^([A-D])\) (.*)$", re.MULTILINE)
_SENTENCE = re.compile(r"^Sentence: (.*)$", re.MULTILINE)
_FIRST = re.compile(r"First piece: (.*)\n\nSecond piece:\s*$", re.DOTALL)


class MemorisingLLM:
    """Answers probe prompts about ``sentences`` (``(tokens, tags)``), having memorised ``share`` of them."""

    def __init__(self, sentences: Sequence[Tuple[Sequence[str], Sequence[str]]], share: float, *,
                 seed: int = 0) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"the memorised share must be in [0, 1], got {share}")
        self.share, self.seed = share, seed
        self.by_text: Dict[str, Tuple[Sequence[str], Sequence[str]]] = {}
        self.by_first: Dict[str, List[Sequence[str]]] = {}
        for tokens, tags in sentences:
            self.by_text[prompts.sentence_text(tokens)] = (tokens, tags)
            self.by_first.setdefault(prompts.sentence_text(tokens[:len(tokens) // 2]), []).append(tokens)
        self.requests = 0
        self._lock = threading.Lock()

    def memorised(self, tokens: Sequence[str]) -> bool:
        """Whether the sentence is among the memorised share (a seeded hash of its text)."""
        return _uniform(f"{self.seed}\0memorised\0{prompts.sentence_text(tokens)}") < self.share

    def answer(self, prompt: str) -> str:
        """The answer to one probe prompt (see the module docstring)."""
        with self._lock:
            self.requests += 1
        rng = random.Random(hashlib.sha256(f"{self.seed}\0{prompt}".encode("utf-8")).digest())
        if prompts.MARK_LABEL_QUIZ in prompt:
            return self._label_quiz(prompt, rng)
        if prompts.MARK_TEXT_QUIZ in prompt:
            return self._text_quiz(prompt, rng)
        if prompts.MARK_SOURCE in prompt:
            return self._source(prompt, rng)
        if prompts.MARK_FIRST in prompt:
            return self._completion(prompt, rng)
        return "unknown"

    def complete(self, prompt_list: List[str]) -> List[str]:
        """Answers in process (no HTTP), for fast repeated simulations."""
        return [self.answer(p) for p in prompt_list]

    def _text_quiz(self, prompt: str, rng: random.Random) -> str:
        for letter, text in _OPTION.findall(prompt):
            known = self.by_text.get(text)
            if known and self.memorised(known[0]):
                return letter
        return rng.choice(prompts.LETTERS)

    def _label_quiz(self, prompt: str, rng: random.Random) -> str:
        found = _SENTENCE.search(prompt)
        known = self.by_text.get(found.group(1)) if found else None
        if known and self.memorised(known[0]):
            gold = prompts.render_entities(*known)
            for letter, text in _OPTION.findall(prompt):
                if text == gold:
                    return letter
        return rng.choice(prompts.LETTERS)

    def _source(self, prompt: str, rng: random.Random) -> str:
        sample = prompt.split("Sample:\n", 1)[-1].split("\n\n", 1)[0]
        tokens = [line.rsplit(" ", 1)[0] for line in sample.splitlines()]
        known = self.by_text.get(prompts.sentence_text(tokens))
        if known and self.memorised(known[0]):
            return "This sample comes from MasakhaNER 2.0."
        return rng.choice(OTHER_SOURCES)

    def _completion(self, prompt: str, rng: random.Random) -> str:
        found = _FIRST.search(prompt)
        first = found.group(1) if found else ""
        candidates = self.by_first.get(first, [])
        if candidates and prompts.MARK_GUIDED in prompt and self.memorised(candidates[0]):
            tokens = candidates[0]
            return prompts.sentence_text(tokens[len(tokens) // 2:])
        length = len(candidates[0]) - len(candidates[0]) // 2 if candidates else 6
        words = first.split() + list(FILLER)
        return " ".join(rng.choice(words) for _ in range(length))


def chat_completion(llm: MemorisingLLM, raw: bytes) -> Tuple[int, Dict[str, Any]]:
    """``(status, OpenAI chat completion body)`` for one request body."""
    try:
        body = json.loads(raw or b"{}")
        prompt = body["messages"][-1]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return 400, {"error": {"message": "expected a chat request with messages"}}
    text = llm.answer(prompt)
    usage_in, usage_out = count_tokens(prompt), count_tokens(text)
    return 200, {"id": f"mem-{llm.requests}", "object": "chat.completion", "model": body.get("model"),
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                           "total_tokens": usage_in + usage_out}}


class _Handler(BaseHTTPRequestHandler):
    llm: MemorisingLLM
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        status, reply = chat_completion(self.llm, self.rfile.read(length))
        data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("memorising LLM: " + format, *args)


class MemorisingServer:
    """Serves a :class:`MemorisingLLM` on ``127.0.0.1`` in a background thread; a context manager."""

    def __init__(self, llm: MemorisingLLM, host: str = "127.0.0.1", port: int = 0) -> None:
        self.llm = llm
        self.httpd = ThreadingHTTPServer((host, port), type("Handler", (_Handler,), {"llm": llm}))
        self.httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The OpenAI-compatible chat completions URL."""
        host, port = cast(Tuple[str, int], self.httpd.server_address[:2])  # an AF_INET server's (host, port)
        return f"http://{host}:{port}/v1/chat/completions"

    def __enter__(self) -> "MemorisingServer":
        assert self._thread is not None
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _uniform(text: str) -> float:
    """A number in [0, 1) from the SHA-256 of ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
