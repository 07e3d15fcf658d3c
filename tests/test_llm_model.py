"""The chat models' real HTTP code against a local OpenAI/Anthropic-compatible SIMULATED server on 127.0.0.1."""
import json
import sqlite3
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from spacy_llm_loop.llm.models.cache import cache_key
from spacy_llm_loop.llm.models.providers import retry_after
from spacy_llm_loop.llm.models.registry import make_anthropic_chat, make_openai_chat
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
    assert len(server.simulated.log) == 20 + len(retries), "every request the server saw is in the ledger"
    # every HTTP fault is one counted retry; every injected timeout too (a slow machine may add real timeouts)
    assert sorted(r for r in retries if r != "timeout") == sorted(f for f in faults if f != "timeout")
    assert retries.count("timeout") >= faults.count("timeout")


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
