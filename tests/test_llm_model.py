"""The chat models' real HTTP code against a local OpenAI/Anthropic-compatible SIMULATED server on 127.0.0.1.

A tiny local server of the tests' own stands in for replies the simulated one never sends: a 200 whose body
cannot be read.
"""
import contextlib
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from spacy_llm_loop.llm.models.budget import Budget
from spacy_llm_loop.llm.models.cache import cache_key
from spacy_llm_loop.llm.models.ledger import summarize
from spacy_llm_loop.llm.models.providers import retry_after
from spacy_llm_loop.llm.models.registry import make_anthropic_chat, make_openai_chat
from spacy_llm_loop.llm.tokens import count_tokens
from spacy_llm_loop.simulate.server import FAULTS, SimulatedLLM, SimulatedLLMServer, parse_prompt

SECRET = "sk-test-this-must-never-be-written-0123456789"
SENTENCES: Dict[Tuple[str, ...], List[str]] = {
    (f"Word{i}", "uhambele", f"Place{i}", "."): ["B-PER", "O", "B-LOC", "O"] for i in range(40)
}


def prompt_for(tokens) -> str:
    """A minimal TokenNER-shaped prompt the simulated server can read."""
    return "Label these.\nInput: " + json.dumps({"sentences": [{"id": 1, "tokens": list(tokens)}]}) + "\nOutput:"


PROMPTS = [prompt_for(tokens) for tokens in SENTENCES]


def gold_answer(prompt: str) -> List[str]:
    [tokens], _ = parse_prompt(prompt)
    return SENTENCES[tuple(tokens)]


def tags_of(text: str) -> List[str]:
    return [tag for _, tag in json.loads(text)["sentences"][0]["output"]]


@pytest.fixture
def server(request):
    options = getattr(request, "param", {})
    simulated = SimulatedLLM(SENTENCES, **options)
    with SimulatedLLMServer(simulated) as running:
        yield running


def model(server, tmp_path: Path, **kwargs):
    settings = dict(name="sim-model", endpoint=server.url, concurrency=8, interval=0.01, max_wait=0.2, timeout=5.0,
                    cache_path=str(tmp_path / "cache.sqlite"), ledger_path=str(tmp_path / "ledger.jsonl"))
    settings.update(kwargs)
    return make_openai_chat(**settings)


def ledger(tmp_path: Path) -> List[dict]:
    return [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("server", [{"latency": 0.2}], indirect=True)
def test_answers_in_input_order_and_in_parallel(server, tmp_path):
    answers = model(server, tmp_path).complete(PROMPTS[:16])
    assert [tags_of(a) for a in answers] == [gold_answer(p) for p in PROMPTS[:16]]
    starts = sorted(entry["time"] for entry in server.simulated.log)
    overlapping = sum(later - first < 0.15 for first, later in zip(starts, starts[1:]))
    assert overlapping >= 8, "requests must be in flight together, not one after another"
    records = ledger(tmp_path)
    assert all(r["outcome"] == "ok" and r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in records)
    assert len({r["request_id"] for r in records}) == 16


@pytest.mark.parametrize("server", [{"fault_rate": 0.5, "faults": ("429", "500", "503", "timeout"),
                                     "timeout_sleep": 2.0, "seed": 3}], indirect=True)
def test_retries_every_transient_fault_and_counts_it(server, tmp_path):
    chat = model(server, tmp_path, timeout=0.8, max_tries=10)
    answers = chat.complete(PROMPTS[:20])
    assert [tags_of(a) for a in answers] == [gold_answer(p) for p in PROMPTS[:20]]
    faults = [entry["fault"] for entry in server.simulated.log if entry["fault"]]
    assert {"429", "500", "503", "timeout"} <= set(faults)
    records = ledger(tmp_path)
    retries = [str(r.get("status") or r["error"]) for r in records if r["outcome"] == "retry"]
    assert sum(r["outcome"] == "ok" for r in records) == 20
    # every HTTP fault is one counted retry; every injected timeout too. A loaded machine may add real timeouts,
    # some before the server logged the request: those are in the ledger but not in the server's log.
    assert sorted(r for r in retries if r != "timeout") == sorted(f for f in faults if f != "timeout")
    real_timeouts = retries.count("timeout") - faults.count("timeout")
    assert real_timeouts >= 0
    unseen = 20 + len(retries) - len(server.simulated.log)
    assert 0 <= unseen <= real_timeouts, "every request the server saw is in the ledger"


@pytest.mark.parametrize("server", [{"fault_rate": 1.0, "faults": ("503",)}], indirect=True)
def test_gives_up_after_max_tries_without_losing_the_batch(server, tmp_path):
    answers = model(server, tmp_path, max_tries=3).complete(PROMPTS[:2])
    assert [a.info["error_kind"] for a in answers] == ["transient", "transient"]
    assert str(answers[0]) == "" and "gave up after 3 tries" in answers[0].error
    assert len(server.simulated.log) == 6


def test_retry_after_header():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "150"}) == 0.15
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after({}) is None


@pytest.mark.parametrize("server", [{"fault_rate": 1.0, "faults": ("429",)}], indirect=True)
def test_honours_retry_after(server, tmp_path):
    server.simulated.retry_after = 0.3
    chat = model(server, tmp_path, max_tries=2, interval=0.0, max_wait=5.0)
    chat.complete(PROMPTS[:1])
    first, second = sorted(entry["time"] for entry in server.simulated.log)
    assert second - first >= 0.3


def test_cache_never_pays_twice_and_a_changed_prompt_misses(server, tmp_path):
    model(server, tmp_path).complete(PROMPTS[:5])
    assert len(server.simulated.log) == 5
    again = model(server, tmp_path).complete(PROMPTS[:5] + [PROMPTS[5]])  # a new process, the same cache file
    assert len(server.simulated.log) == 6
    assert [a.info["cached"] for a in again] == [True] * 5 + [False]
    assert [tags_of(a) for a in again] == [gold_answer(p) for p in PROMPTS[:6]]
    changed = PROMPTS[0].replace("Label these.", "Label these tokens.")
    model(server, tmp_path).complete([changed])
    assert len(server.simulated.log) == 7
    other_params = model(server, tmp_path, config={"temperature": 0.7})
    other_params.complete(PROMPTS[:1])
    assert len(server.simulated.log) == 8
    assert cache_key("openai", "m", {"t": 1}, "p") != cache_key("openai", "m", {"t": 1}, "p ")
    hits = [r for r in ledger(tmp_path) if r["outcome"] == "cache_hit"]
    assert len(hits) == 5 and all(r["cache"] == "hit" for r in hits)


def test_no_secret_is_written_anywhere(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_API_KEY", SECRET)
    chat = model(server, tmp_path, api_key_env="SIM_API_KEY", require_key=True)
    chat.complete(PROMPTS[:3])
    assert SECRET not in repr(chat)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    rows = sqlite3.connect(tmp_path / "cache.sqlite").execute("SELECT * FROM responses").fetchall()
    assert rows and SECRET not in json.dumps(rows)


def test_missing_key_fails_at_start_naming_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        make_openai_chat()
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        make_anthropic_chat()
    make_openai_chat(endpoint="http://127.0.0.1:9/v1/chat/completions")  # a local server needs no key


def test_construction_sends_nothing(monkeypatch):
    """Unlike spacy.GPT-4.v3, building the model calls no host (not even api.openai.com/v1/models)."""
    import httpx

    def refuse(*args, **kwargs):
        raise AssertionError("no request may be sent at construction")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    make_openai_chat()
    make_openai_chat(endpoint="http://127.0.0.1:9/v1/chat/completions")


def test_anthropic_messages_api(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    chat = make_anthropic_chat(endpoint=server.url.replace("/chat/completions", "/messages"), interval=0.01,
                               ledger_path=str(tmp_path / "ledger.jsonl"))
    answers = chat.complete(PROMPTS[:3])
    assert [tags_of(a) for a in answers] == [gold_answer(p) for p in PROMPTS[:3]]
    assert all(r["provider"] == "anthropic" and r["input_tokens"] > 0 for r in ledger(tmp_path))


def test_budget_refuses_cleanly(server, tmp_path):
    chat = model(server, tmp_path, budget_tokens=600, concurrency=1, config={"temperature": 0.1, "max_tokens": 100})
    answers = chat.complete(PROMPTS[:10])
    kinds = [a.info.get("error_kind") for a in answers]
    assert "budget" in kinds and kinds[0] is None
    refused = PROMPTS[kinds.index("budget")]
    assert chat.failure(refused) == "budget" and chat.failure(PROMPTS[0]) is None
    assert refused not in chat._failed, "failures are kept by digest: a refused round must not hold its prompts"
    assert chat.budget.spent_tokens <= 600
    assert len(server.simulated.log) == kinds.count(None)
    # a new process on the same ledger keeps to the same budget
    again = model(server, tmp_path, budget_tokens=600, concurrency=1, config={"temperature": 0.1, "max_tokens": 100},
                  cache_path=None)
    assert again.budget.spent_tokens == chat.budget.spent_tokens


def test_faults_are_the_documented_ones():
    assert set(FAULTS) == {"429", "500", "503", "timeout", "truncated", "skip_token", "extra_token", "unknown_tag",
                           "reorder"}
    with pytest.raises(ValueError, match="unknown faults"):
        SimulatedLLM({}, faults=("boom",))


def test_another_endpoint_is_another_cache_entry(server, tmp_path):
    model(server, tmp_path).complete(PROMPTS[:2])
    with SimulatedLLMServer(SimulatedLLM(SENTENCES)) as other:
        answers = model(other, tmp_path).complete(PROMPTS[:2])  # same cache file, same model name
        assert [a.info["cached"] for a in answers] == [False, False] and len(other.simulated.log) == 2


def test_the_same_prompt_twice_in_a_batch_is_sent_once(server, tmp_path):
    answers = model(server, tmp_path, cache_path=None).complete([PROMPTS[0], PROMPTS[1], PROMPTS[0]])
    assert len(server.simulated.log) == 2 and str(answers[0]) == str(answers[2])


@pytest.mark.parametrize("server", [{"latency": 0.05}], indirect=True)
def test_budget_is_used_up_not_refused_early_by_in_flight_estimates(server, tmp_path):
    """Worst-case reservations of requests in flight must not make the budget refuse long before it is spent."""
    chat = model(server, tmp_path, budget_tokens=3000, concurrency=8, cache_path=None,
                 config={"temperature": 0.1, "max_tokens": 400})
    answers = chat.complete(PROMPTS)
    answered = sum(a.info.get("error_kind") is None for a in answers)
    assert chat.budget.spent_tokens <= 3000
    per_request = chat.budget.spent_tokens / answered
    assert chat.budget.spent_tokens > 3000 - 400 - per_request, "stopped far below the budget"


def test_missing_usage_is_estimated_and_bad_retry_after_ignored(tmp_path):
    assert retry_after({"retry-after": "soon"}) is None
    simulated = SimulatedLLM(SENTENCES)
    with SimulatedLLMServer(simulated) as server:
        import spacy_llm_loop.simulate.server as sim

        original = sim.count_tokens
        sim.count_tokens = lambda text: 0  # the server reports zero usage
        try:
            chat = model(server, tmp_path, budget_tokens=100000)
            chat.complete(PROMPTS[:2])
        finally:
            sim.count_tokens = original
    records = ledger(tmp_path)
    assert all(r["usage_estimated"] and r["input_tokens"] > 0 for r in records)
    assert chat.budget.spent_tokens > 0


def test_error_bodies_are_redacted(monkeypatch):
    from spacy_llm_loop.llm.models.providers import redact

    assert "sk-" not in redact("Incorrect API key provided: sk-proj-abc1**********wxyz", None)
    assert SECRET not in redact(f"echo {SECRET}", SECRET)


def test_a_spent_budget_stays_spent_on_resume_unless_raised(server, tmp_path):
    settings = dict(budget_tokens=600, concurrency=1, config={"temperature": 0.1, "max_tokens": 100})
    chat = model(server, tmp_path, **settings)
    chat.complete(PROMPTS[:10])
    assert chat.budget.exhausted
    assert model(server, tmp_path, **settings).budget.exhausted  # a new process, same limit: still spent
    raised = model(server, tmp_path, **{**settings, "budget_tokens": 100000})
    assert not raised.budget.exhausted and raised.budget.spent_tokens == chat.budget.spent_tokens


class _Replies(BaseHTTPRequestHandler):
    """Answers every POST with 200 and the next of ``bodies`` (the last one again once they run out)."""

    bodies: List[bytes]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", "broken-1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def replying(*bodies: bytes) -> Iterator[str]:
    """A local server answering 200 with ``bodies`` in turn; yields its chat completions URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Replies,), {"bodies": list(bodies)}))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/chat/completions"
    finally:
        httpd.shutdown()
        httpd.server_close()


def good_body(prompt: str) -> bytes:
    [tokens], _ = parse_prompt(prompt)
    text = json.dumps({"sentences": [{"id": 1, "output": [[t, g] for t, g in zip(tokens, SENTENCES[tuple(tokens)])]}]})
    return json.dumps({"id": "ok-1", "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 30, "completion_tokens": 20}}).encode()


# (name, a 200 body the client cannot read, the usage it reports or None)
MALFORMED = [
    ("not JSON", b"<html>upstream proxy says hello</html>", None),
    ("empty body", b"", None),
    ("JSON without choices", b'{"id": "x", "object": "chat.completion"}', None),
    ("choices empty", b'{"choices": []}', None),
    ("message without content", b'{"choices": [{"message": {}}]}', None),
    ("content not text", b'{"choices": [{"message": {"content": {"sentences": []}}}]}', None),
    ("a JSON list", b'[1, 2]', None),
    ("usage but no choices", b'{"usage": {"prompt_tokens": 11, "completion_tokens": 7}}', (11, 7)),
]


@pytest.mark.parametrize("name,body,usage", MALFORMED, ids=[row[0] for row in MALFORMED])
def test_a_malformed_200_is_billed_logged_and_counted_against_the_budget(name, body, usage, tmp_path):
    """A 200 whose body cannot be read is logged as ``malformed_response``, paid for, and asked again."""
    prompt = PROMPTS[0]
    with replying(body, good_body(prompt)) as url:  # malformed once, then a good answer
        chat = make_openai_chat(name="sim-model", endpoint=url, interval=0.01, max_wait=0.05, max_tries=3,
                                ledger_path=str(tmp_path / "ledger.jsonl"), budget_tokens=100000,
                                config={"temperature": 0.1})
        [answer] = chat.complete([prompt])
    assert tags_of(answer) == gold_answer(prompt)
    bad, ok = ledger(tmp_path)
    assert (bad["outcome"], bad["status"], bad["retried"], bad["request_id"]) == ("malformed_response", 200, True,
                                                                                  "broken-1")
    assert "malformed reply body" in bad["error"]
    expected = usage or (count_tokens(prompt), count_tokens(body.decode()))
    assert (bad["input_tokens"], bad["output_tokens"]) == expected and bool(bad.get("usage_estimated")) == (not usage)
    assert ok["outcome"] == "ok" and (ok["input_tokens"], ok["output_tokens"]) == (30, 20)
    assert chat.budget.spent_tokens == sum(expected) + 50  # both tries were paid for
    summary = summarize(ledger(tmp_path))
    assert summary["errors"] == {"malformed_response": 1} and summary["retries"] == 1 and summary["answered"] == 1
    assert (summary["input_tokens"], summary["output_tokens"]) == (expected[0] + 30, expected[1] + 20)
    resumed = Budget(max_tokens=100000)
    resumed.add_past(ledger(tmp_path))  # a new process counts the malformed reply as spent too
    assert resumed.spent_tokens == chat.budget.spent_tokens


def test_malformed_replies_until_tries_run_out_are_still_spent(tmp_path, monkeypatch):
    """No answer at all, yet every try was billed: the budget keeps the spend (nothing is released)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    with replying(b'{"type": "message", "usage": {"input_tokens": 40, "output_tokens": 9}}') as url:
        chat = make_anthropic_chat(endpoint=url.replace("/chat/completions", "/messages"), interval=0.01,
                                   max_wait=0.05, max_tries=2, budget_tokens=10000,
                                   ledger_path=str(tmp_path / "ledger.jsonl"))
        [answer] = chat.complete([PROMPTS[0]])
    assert answer.info["error_kind"] == "transient" and "malformed reply body" in answer.error
    records = ledger(tmp_path)
    assert [(r["outcome"], r["retried"], r["input_tokens"], r["output_tokens"]) for r in records] == [
        ("malformed_response", True, 40, 9), ("malformed_response", False, 40, 9)]
    assert chat.budget.spent_tokens == 98 and chat.budget._reserved_tokens == 0
    with replying(b"not json") as url:  # estimated from the prompt when no usage is given, capped at max_tokens
        chat = make_openai_chat(name="sim-model", endpoint=url, interval=0.01, max_tries=1, budget_tokens=1000,
                                config={"max_tokens": 1}, ledger_path=str(tmp_path / "other.jsonl"))
        chat.complete([PROMPTS[0]])
    assert chat.budget.spent_tokens == count_tokens(PROMPTS[0]) + 1
