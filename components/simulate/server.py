"""A SIMULATED LLM: a local OpenAI- and Anthropic-compatible HTTP server that answers from gold labels.

It exists so the real HTTP client, retry, cache, ledger and parsing code can be
driven offline (tests, benchmarks, demos). It is not a language model: it looks
the prompt's sentences up in a gold corpus and answers with their gold tags (all
``O`` for a sentence it does not know), in the format the prompt asks for: the
TokenNER JSON (``spacy-llm-loop.TokenNER.v1``) or spacy-llm's ``spacy.NER.v3``
list. It can wait ``latency`` seconds per request and inject faults at a given
rate: 429 with Retry-After, 500, 503, timeouts, truncated JSON, skipped tokens,
extra tokens, tags outside the schema and reordered records. Every request it
receives is written to its request log, which is how tests prove what was asked.

Sentences are looked up by their tokens in Unicode NFC, so a corpus and a prompt
that spell a token in different normal forms still meet. ``normalize="NFC"``
makes it answer with NFC tokens, as real LLMs do whatever form the prompt used.

With ``errors`` (an :class:`~.annotate.ErrorModel` built from an error profile,
e.g. the packaged ``gpt-4-turbo``), it answers what that LLM would have: the gold
tags with the profile's errors, systematic per sentence and varying with the run
index (the k-th time the same prompt is asked, from 0, or ``run`` when set).
Injected faults then act on that answer, so faults and errors combine.
:func:`chat_reply` is the whole request-to-reply step, shared by the HTTP server
and the in-process model ``spacy-llm-loop.SimulatedLLM.v1``.
"""
import hashlib
import json
import logging
import random
import re
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, cast

from ..data.corpus import check_labelled, load_docs
from ..data.docs import doc_tags
from ..data.iob import iob_to_spans
from ..llm.tokens import count_tokens

if TYPE_CHECKING:
    from .annotate import ErrorModel

logger = logging.getLogger(__name__)

FAULTS: Tuple[str, ...] = ("429", "500", "503", "timeout", "truncated", "skip_token", "extra_token",
                           "unknown_tag", "reorder")
_TOKEN_NER_INPUT = re.compile(r"Input: (\{.*\})\s*\nOutput:\s*$", re.DOTALL)
_NER_V3_INPUT = re.compile(r"Paragraph: (.*)\nAnswer:\s*$", re.DOTALL)
NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]
NORMAL_FORMS: Tuple[str, ...] = ("NFC", "NFD", "NFKC", "NFKD")
FAULT_HEADER = "x-simulated-fault"  # names the injected fault on a reply (the in-process model raises timeouts)


class SimulatedLLM:
    """The server's behaviour, separate from HTTP so it can be tested and reused."""

    def __init__(self, gold: Dict[Tuple[str, ...], List[str]], *, fault_rate: float = 0.0,
                 faults: Sequence[str] = FAULTS, latency: float = 0.0, timeout_sleep: float = 2.0,
                 retry_after: float = 0.05, seed: int = 0, log_path: Optional[Union[str, Path]] = None,
                 normalize: Optional[str] = None, errors: Optional["ErrorModel"] = None,
                 run: Optional[int] = None) -> None:
        """``normalize``: answer with tokens in this Unicode normal form (``NFC`` like a real LLM); None: as asked.

        ``errors``: answer with an error profile's errors (None: gold answers); ``run``: always answer as run
        ``run`` (None: the k-th time a prompt is asked is run k, from 0).
        """
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {FAULTS}")
        if normalize is not None and normalize not in NORMAL_FORMS:
            raise ValueError(f"normalize must be one of {NORMAL_FORMS} or None, got {normalize!r}")
        self.gold, self.fault_rate, self.faults = gold, fault_rate, tuple(faults)
        self.latency, self.timeout_sleep, self.retry_after = latency, timeout_sleep, retry_after
        self.normalize = cast(Optional[NormalForm], normalize)  # checked above
        self.errors, self.run = errors, run
        self.asked: Dict[str, int] = {}  # the prompt's SHA-256 -> times asked (the next run index)
        self.by_tokens = {_key(tokens): tags for tokens, tags in gold.items()}
        self.by_text = {_nfc(" ".join(tokens)): tags for tokens, tags in gold.items()}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.log: List[Dict[str, Any]] = []
        self.answered: List[int] = []  # log positions of the requests whose 200 answer was delivered
        self.log_path = Path(log_path) if log_path else None

    def _record(self, entry: Dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def handle(self, prompt: str) -> Tuple[int, str, Dict[str, str]]:
        """``(status, answer text or error body, headers)`` for one prompt; may sleep (latency, timeouts).

        ``headers["x-request-id"]`` is ``sim-<n>``, ``n`` the request's position in the log.
        """
        with self._lock:
            n = len(self.log)
            fault = self._rng.choice(self.faults) if self.faults and self._rng.random() < self.fault_rate else None
            asked = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
            run = self.asked.get(asked, 0) if self.run is None else self.run
            self.asked[asked] = self.asked.get(asked, 0) + 1
        sentences, kind = parse_prompt(prompt)
        self._record({"n": n, "time": time.time(), "kind": kind, "fault": fault, "run": run,
                      "sentences": [" ".join(tokens) for tokens in sentences]})
        if self.latency:
            time.sleep(self.latency)
        if fault == "timeout":
            time.sleep(self.timeout_sleep)
        headers = {"x-request-id": f"sim-{n}", **({FAULT_HEADER: fault} if fault else {})}
        if fault in ("429", "500", "503"):
            if fault == "429":
                headers["Retry-After"] = str(self.retry_after)
            return int(fault), json.dumps({"error": {"message": f"simulated {fault}"}}), headers
        if kind == "ner.v3":
            return 200, self._ner_v3_answer(sentences[0], run), headers
        return 200, self._token_ner_answer(sentences, fault, run), headers

    def tags_for(self, tokens: Sequence[str]) -> List[str]:
        """Gold tags of a known sentence (tokens compared in NFC), else all ``O``."""
        tags = self.by_tokens.get(_key(tokens)) or self.by_text.get(_nfc(" ".join(tokens)))
        return list(tags or ["O"] * len(tokens))

    def answer_token(self, token: str) -> str:
        """``token`` as the simulated LLM writes it back (see ``normalize``)."""
        return unicodedata.normalize(self.normalize, token) if self.normalize else token

    def answer_pairs(self, tokens: Sequence[str], run: int = 0) -> Union[List[Any], str]:
        """What the simulated LLM answers for one sentence: ``[token, tag]`` pairs (with ``errors``, perhaps
        malformed items or the wrong length) or, for an invalid output, its broken text."""
        tags = self.tags_for(tokens)
        answer = self.errors.answer(tokens, tags, run) if self.errors else [[t, g] for t, g in zip(tokens, tags)]
        if isinstance(answer, str):
            return answer
        return [[self.answer_token(e[0]), *e[1:]] if isinstance(e, list) and e and isinstance(e[0], str) else e
                for e in answer]

    def _token_ner_answer(self, sentences: List[List[str]], fault: Optional[str], run: int = 0) -> str:
        outputs = [self.answer_pairs(tokens, run) for tokens in sentences]
        broken = next((i for i, o in enumerate(outputs) if isinstance(o, str)), None)
        if broken is not None:  # the answer breaks off inside this sentence's output
            records: List[Dict[str, Any]] = [{"id": i + 1, "output": o} for i, o in enumerate(outputs[:broken])]
            head = json.dumps({"sentences": records + [{"id": broken + 1, "output": []}]}, ensure_ascii=False)
            return head[: head.rindex("[]")] + str(outputs[broken])
        records = [{"id": i + 1, "output": output} for i, output in enumerate(outputs)]
        target = records[0]["output"] if records else []
        if fault == "skip_token" and len(target) > 1:
            del target[len(target) // 2]
        elif fault == "extra_token" and target:
            target.append([".", "O"])
        elif fault == "unknown_tag" and target and isinstance(target[0], list) and len(target[0]) > 1:
            target[0][1] = "B-EVENT"
        elif fault == "reorder":
            records.reverse()
        text = json.dumps({"sentences": records}, ensure_ascii=False)
        return text[: max(len(text) * 2 // 3, 1)] if fault == "truncated" else text

    def _ner_v3_answer(self, tokens: List[str], run: int = 0) -> str:
        answer = self.answer_pairs(tokens, run)
        if isinstance(answer, str):
            return answer
        pairs = [e for e in answer if isinstance(e, list) and len(e) == 2 and isinstance(e[1], str)]
        words, tags = [str(e[0]) for e in pairs], [e[1] for e in pairs]
        lines = [f"{i}. {' '.join(words[s:e])} | True | {label} | is a {label} entity"
                 for i, (s, e, label) in enumerate(iob_to_spans(tags), start=1)]
        return "\n".join(lines)


def parse_prompt(prompt: str) -> Tuple[List[List[str]], str]:
    """The token lists a prompt asks about, and its kind (``token_ner``, ``ner.v3`` or ``unknown``)."""
    head, _, last = prompt.rpartition("\nInput: ")
    match = _TOKEN_NER_INPUT.match("Input: " + last) if head else None
    if match:
        try:
            payload = json.loads(match.group(1))
            return [list(s["tokens"]) for s in payload["sentences"]], "token_ner"
        except (ValueError, KeyError, TypeError):
            pass
    match = _NER_V3_INPUT.match("Paragraph: " + prompt.rpartition("Paragraph: ")[2])
    if match and "Paragraph: " in prompt:
        return [match.group(1).strip().split(" ")], "ner.v3"
    return [], "unknown"


def gold_from(path: Union[str, Path]) -> Dict[Tuple[str, ...], List[str]]:
    """``{tokens: tags}`` from a gold corpus (.spacy, Prodigy .jsonl or CoNLL), tokens as the corpus has them.

    :class:`SimulatedLLM` looks them up in NFC, so the corpus's own normal form does not matter. A pool
    prepared from unlabelled text has no gold to answer from, and is refused.
    """
    docs = load_docs(path)
    check_labelled(docs, path, "a SIMULATED LLM answers from gold labels")
    return {tuple(t.text for t in doc): doc_tags(doc) for doc in docs}


def _key(tokens: Sequence[str]) -> Tuple[str, ...]:
    """A sentence's lookup key: its tokens in NFC, surrounding whitespace stripped."""
    return tuple(_nfc(token).strip() for token in tokens)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def chat_reply(simulated: SimulatedLLM, path: str, raw: bytes) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
    """``(status, JSON reply, headers)`` for one chat request body to ``path`` (OpenAI's chat completions, or
    Anthropic's messages when ``path`` ends in ``/messages``); usage counts the prompt's and answer's tokens."""
    try:
        body = json.loads(raw or b"{}")
        prompt = body["messages"][-1]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return 400, {"error": {"message": "expected a chat request with messages"}}, {}
    status, text, headers = simulated.handle(prompt)
    if status != 200:
        return status, json.loads(text), headers
    usage_in, usage_out = count_tokens(prompt), count_tokens(text)
    n = headers["x-request-id"].split("-")[-1]
    if path.rstrip("/").endswith("/messages"):
        reply = {"id": f"sim-msg-{n}", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                 "content": [{"type": "text", "text": text}],
                 "usage": {"input_tokens": usage_in, "output_tokens": usage_out}}
    else:
        reply = {"id": f"sim-chatcmpl-{n}", "object": "chat.completion", "model": body.get("model"),
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                           "total_tokens": usage_in + usage_out}}
    return 200, reply, headers


class _Handler(BaseHTTPRequestHandler):
    simulated: SimulatedLLM
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        status, reply, headers = chat_reply(self.simulated, self.path, self.rfile.read(length))
        if self._send(status, reply, headers) and status == 200:
            with self.simulated._lock:
                self.simulated.answered.append(int(headers["x-request-id"].split("-")[-1]))

    def _send(self, status: int, payload: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> bool:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False  # the client gave up (a simulated timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("simulated LLM: " + format, *args)


class SimulatedLLMServer:
    """Serves a :class:`SimulatedLLM` on ``127.0.0.1`` in a background thread; a context manager."""

    def __init__(self, simulated: SimulatedLLM, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"simulated": simulated})
        self.simulated = simulated
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The OpenAI-compatible chat completions URL."""
        host, port = cast(Tuple[str, int], self.httpd.server_address[:2])  # an AF_INET server's (host, port)
        return f"http://{host}:{port}/v1/chat/completions"

    def __enter__(self) -> "SimulatedLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
